"""SQL for the products domain (a mixin of :class:`retain_cli.store.Store`).

Products, co-purchases and repurchase intervals are computed from the order lines of the
countable orders (``order_facts``). Three million lines through Python tuples cost seconds,
so the lines leave SQLite as joined strings per slice of order ids (numbers parsed by
numpy, SKUs and names split by ``str.split``), read by two threads as in
:mod:`retain_cli.store.predict`. One customer's lines (``retain recommend``, a batch of
template contexts, the replenishment trigger) are read with the order index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from retain_cli.store.base import dicts
from retain_cli.store.campaigns import _chunks, _marks
from retain_cli.store.predict import PredictStore

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: order ids per slice read by one thread
SLICE_ORDERS = 250_000
#: an order leaves as customer_ref * 2^DAY_BITS + (day + DAY_OFFSET) (0: a walk-in sale)
DAY_BITS = 20
DAY_OFFSET = 1 << (DAY_BITS - 1)
#: the lines' keys leave SQLite joined by RECORD; a key is the SKU, else UNIT + the name
RECORD, UNIT = "\x1e", "\x1f"

_LINES_SQL = """
SELECT count(*), group_concat(order_ref, ' '), group_concat(quantity, ' '),
       group_concat(CASE WHEN coalesce(sku, '') = '' THEN char(31) || coalesce(name, '')
                    ELSE sku END, char(30))
FROM order_items
WHERE order_ref >= :first AND order_ref < :stop
"""
_ORDERS_SQL = f"""
SELECT count(*), group_concat(order_ref, ' '), group_concat(coalesce(customer_ref, 0)
    * {1 << DAY_BITS} + coalesce(CAST(julianday(ordered_at) - 2440587.5 AS INTEGER), 0)
    + {DAY_OFFSET}, ' ')
FROM order_facts
WHERE order_ref >= :first AND order_ref < :stop
"""


class ProductStore(PredictStore):
    """Queries for products: every countable order line, and a few customers' lines."""

    def product_line_arrays(
        self,
    ) -> tuple[npt.NDArray[np.int64], list[str], npt.NDArray[np.int64], dict[str, str]]:
        """(lines, keys, orders, sku_names) over every order line.

        ``lines``: an ``(n, 2)`` array of order_ref and quantity; ``keys``: each line's SKU,
        or :data:`UNIT` and its name when it has no SKU (a SKU's name is in ``sku_names``,
        from its latest line); ``orders``: an
        ``(m, 3)`` array of the countable orders' order_ref, customer_ref (0 for a sale
        without a customer) and UTC day number. Lines of orders that do not count are in
        ``lines``; the caller drops them.
        """
        import numpy as np

        with self._reader() as conn:
            low, high = conn.execute("SELECT min(id), max(id) FROM orders").fetchone()
        if low is None:
            return np.zeros((0, 2), dtype=np.int64), [], np.zeros((0, 3), dtype=np.int64), {}
        slices = [
            (first, min(first + SLICE_ORDERS, high + 1))
            for first in range(low, high + 1, SLICE_ORDERS)
        ]

        def scan(bounds: tuple[int, int]) -> tuple[Any, ...]:
            params = {"first": bounds[0], "stop": bounds[1]}
            with self._reader() as conn:
                count, refs, quantities, keys = conn.execute(_LINES_SQL, params).fetchone()
                key_list = keys.split(RECORD) if count else []
                if len(key_list) != count:
                    # a SKU or name holding the separator: row by row (never in real exports)
                    rows = conn.execute(
                        "SELECT CASE WHEN coalesce(sku, '') = '' THEN char(31) || "
                        "coalesce(name, '') ELSE sku END FROM order_items "
                        "WHERE order_ref >= :first AND order_ref < :stop",
                        params,
                    ).fetchall()
                    key_list = [r[0] for r in rows]
                orders = conn.execute(_ORDERS_SQL, params).fetchone()
            numbers = (
                np.fromstring(refs, dtype=np.int64, sep=" ") if count else np.zeros(0, np.int64),
                np.fromstring(quantities, dtype=np.int64, sep=" ")
                if count
                else np.zeros(0, np.int64),
                np.fromstring(orders[1], dtype=np.int64, sep=" ")
                if orders[0]
                else np.zeros(0, np.int64),
                np.fromstring(orders[2], dtype=np.int64, sep=" ")
                if orders[0]
                else np.zeros(0, np.int64),
            )
            return (*numbers, key_list)

        if len(slices) == 1:
            parts = [scan(slices[0])]
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(2) as pool:
                parts = list(pool.map(scan, slices))
        lines = np.column_stack(
            [np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])]
        )
        keys: list[str] = []
        for part in parts:
            keys.extend(part[4])
        key = np.concatenate([p[3] for p in parts])
        day = (key & ((1 << DAY_BITS) - 1)) - DAY_OFFSET
        orders = np.column_stack([np.concatenate([p[2] for p in parts]), key >> DAY_BITS, day])
        return lines, keys, orders, self._sku_names(keys, lines[:, 0])

    def _sku_names(self, keys: list[str], refs: npt.NDArray[np.int64]) -> dict[str, str]:
        """Each SKU's name on its latest line (one lookup by order per SKU)."""
        latest = dict(zip(keys, refs.tolist(), strict=True))  # the last line of each key wins
        out: dict[str, str] = {}
        for sku, ref in latest.items():
            if sku.startswith(UNIT):
                continue
            row = self.conn.execute(
                "SELECT name FROM order_items WHERE order_ref = ? AND sku = ? "
                "ORDER BY line_no LIMIT 1",
                (ref, sku),
            ).fetchone()
            out[sku] = (row[0] if row else None) or ""
        return out

    def customers_product_lines(self, refs: Sequence[int], as_of_iso: str) -> list[dict[str, Any]]:
        """The lines of the countable orders up to ``as_of_iso`` of these customers:
        customer_ref, order_ref, ordered_at, day (its UTC day number), sku, name, quantity."""
        out: list[dict[str, Any]] = []
        for chunk in _chunks(list(refs)):
            cursor = self.conn.execute(
                f"""
                SELECT f.customer_ref, f.order_ref, f.ordered_at,
                       CAST(julianday(f.ordered_at) - 2440587.5 AS INTEGER) AS day,
                       i.sku, i.name, i.quantity
                FROM order_facts f JOIN order_items i ON i.order_ref = f.order_ref
                WHERE f.customer_ref IN ({_marks(chunk)}) AND f.ordered_at <= ?
                """,
                [*chunk, as_of_iso],
            )
            out += dicts(cursor)
        return out

    def customers_product_days(
        self, refs: Sequence[int], as_of_iso: str
    ) -> list[tuple[int, int, str | None, str | None]]:
        """(customer_ref, UTC day number, sku, name) of each line of these customers'
        countable orders up to ``as_of_iso``: what recommendations need, as plain tuples."""
        out: list[tuple[int, int, str | None, str | None]] = []
        for chunk in _chunks(list(refs)):
            out += self.conn.execute(
                f"""
                SELECT f.customer_ref, CAST(julianday(f.ordered_at) - 2440587.5 AS INTEGER),
                       i.sku, i.name
                FROM order_facts f JOIN order_items i ON i.order_ref = f.order_ref
                WHERE f.customer_ref IN ({_marks(chunk)}) AND f.ordered_at <= ?
                """,
                [*chunk, as_of_iso],
            ).fetchall()
        return out
