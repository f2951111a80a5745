"""SQL for the predict domain (a mixin of :class:`retain_cli.store.Store`).

The summary behind ``retain predict`` needs every countable order (a row of ``order_facts``):
who, which day, how much. Grouping a million orders by customer and day inside SQLite means a
sort through a temporary B-tree that is several times slower than reading the rows once, so the
rows are read in one table scan and grouped with numpy (:mod:`retain_cli.predict`). They leave
SQLite as one space-separated string per chunk (``group_concat``), parsed by numpy in C: about
three times faster than building a million Python tuples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from retain_cli.store.base import StoreBase

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: orders per chunk read from SQLite (bounds the size of one group_concat string)
CHUNK_ORDERS = 1_000_000

# day: whole days since 1970-01-01 of the UTC timestamp (the day in order_day); julianday
# works on every SQLite version Python ships with. The unary + keeps SQLite from walking the
# ordered_at index and fetching rows one by one: a plain scan of the chunk is much faster.
_ORDER_DAYS_SQL = """
SELECT group_concat(
    customer_ref || ' ' || CAST(julianday(ordered_at) - 2440587.5 AS INTEGER) || ' ' || net_minor,
    ' '
)
FROM order_facts
WHERE order_ref >= :first AND order_ref < :stop
  AND +ordered_at >= :start AND +ordered_at <= :end
"""


class PredictStore(StoreBase):
    """Queries for predict: countable orders by customer and day, and the customers' keys."""

    def predict_order_days(self, end: str, start: str | None = None) -> npt.NDArray[np.int64]:
        """Countable orders with ``start <= ordered_at <= end`` (ISO timestamps) as an
        ``(n, 3)`` int64 array: customer_ref, UTC day number (days since 1970-01-01), net_minor.
        """
        import numpy as np

        low, high = self.conn.execute("SELECT min(id), max(id) FROM orders").fetchone()
        parts = []
        if low is not None:
            for first in range(low, high + 1, CHUNK_ORDERS):
                params = {
                    "first": first,
                    "stop": first + CHUNK_ORDERS,
                    "start": start or "",
                    "end": end,
                }
                text = self.conn.execute(_ORDER_DAYS_SQL, params).fetchone()[0]
                if text:
                    parts.append(np.fromstring(text, dtype=np.int64, sep=" "))
        flat = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return flat.reshape(-1, 3)

    def predict_customer_keys(self) -> tuple[npt.NDArray[np.int64], list[Any], list[Any]]:
        """Every customer's internal id (ascending), customer_id and email."""
        import numpy as np

        rows = self.conn.execute(
            "SELECT id, customer_id, email FROM customers ORDER BY id"
        ).fetchall()
        if not rows:
            return np.zeros(0, dtype=np.int64), [], []
        ids, customer_ids, emails = zip(*rows, strict=True)
        return np.asarray(ids, dtype=np.int64), list(customer_ids), list(emails)

    def predict_last_order_day(self) -> str | None:
        """The day of the latest countable order, or None when there is none."""
        row = self.conn.execute("SELECT max(ordered_at) FROM order_facts").fetchone()
        return None if row is None or row[0] is None else str(row[0])[:10]
