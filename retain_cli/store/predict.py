"""SQL for the predict domain (a mixin of :class:`retain_cli.store.Store`).

The summary behind ``retain predict`` needs every countable order (a row of ``order_facts``):
who, which day, how much. Grouping a million orders by customer and day inside SQLite means a
sort through a temporary B-tree that is several times slower than reading the rows once, so the
rows are read in one table scan and grouped with numpy (:mod:`retain_cli.analytics.predict`).
They leave
SQLite as one space-separated string per chunk (``group_concat``), parsed by numpy in C: about
three times faster than building a million Python tuples.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from retain_cli.money import MINOR_UNITS
from retain_cli.store.base import StoreBase
from retain_cli.store.errors import busy_timeout

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: orders per slice read from SQLite (bounds the size of one group_concat string)
CHUNK_ORDERS = 1_000_000
#: threads reading slices; tables smaller than two PARALLEL_FROM slices use one
SCAN_THREADS = 2
PARALLEL_FROM = 100_000

# Each order leaves as two numbers: key = customer_ref * 2^20 + (day + 2^19), where day is
# whole days since 1970-01-01 of the UTC timestamp (the day in order_day; julianday works on
# every SQLite version Python ships with), and the net total in thousandths of the currency's
# major unit, whatever its minor unit (JPY has 0 decimals, KWD 3, most 2; the importer stores
# codes in upper case). Fewer numbers to turn into text is most of the cost of the scan. The
# unary + keeps SQLite from walking the ordered_at index and fetching rows one by one: a plain
# scan of the slice is much faster.
DAY_BITS = 20
DAY_OFFSET = 1 << (DAY_BITS - 1)
_ORDER_DAYS_SQL = f"""
SELECT group_concat(
    (customer_ref * {1 << DAY_BITS} + CAST(julianday(ordered_at) - 2440587.5 AS INTEGER)
        + {DAY_OFFSET}) || ' ' ||
    (net_minor * CASE
        WHEN currency IN ({{zero}}) THEN 1000
        WHEN currency IN ({{three}}) THEN 1
        ELSE 10
    END),
    ' '
)
FROM order_facts
WHERE order_ref >= :first AND order_ref < :stop
  AND +ordered_at >= :start AND +ordered_at <= :end
"""


def _order_days_sql() -> str:
    def listed(digits: int) -> str:
        codes = sorted(code for code, units in MINOR_UNITS.items() if units == digits)
        return ", ".join(f"'{code}'" for code in codes) or "NULL"

    return _ORDER_DAYS_SQL.format(zero=listed(0), three=listed(3))


# customer_id and email leave SQLite as two joined strings (split in C); if a value contains
# the separator the counts disagree and the rows are fetched one by one instead
_SEPARATOR = "\x1f"
_KEYS_SQL = """
SELECT count(*), group_concat(id, ' '), group_concat(customer_id, char(31)),
       group_concat(coalesce(email, ''), char(31))
FROM (SELECT id, customer_id, email FROM customers ORDER BY id)
"""


class PredictStore(StoreBase):
    """Queries for predict: countable orders by customer and day, and the customers' keys."""

    def predict_order_days(self, end: str, start: str | None = None) -> npt.NDArray[np.int64]:
        """Countable orders with ``start <= ordered_at <= end`` (ISO timestamps) as an
        ``(n, 3)`` int64 array: customer_ref, UTC day number (days since 1970-01-01), net
        amount in thousandths of the major unit (USD 12.34 -> 12340, JPY 500 -> 500000).

        Large tables are read in slices of order ids by two threads, each with its own
        read-only connection (SQLite runs without holding Python's GIL), so this method may
        also be called from a thread other than the store's.
        """
        import numpy as np

        with self._reader() as conn:
            low, high = conn.execute("SELECT min(id), max(id) FROM orders").fetchone()
        if low is None:
            return np.zeros((0, 3), dtype=np.int64)
        size = high - low + 1
        step = min(CHUNK_ORDERS, max(-(-size // SCAN_THREADS), PARALLEL_FROM))
        slices = [(first, min(first + step, high + 1)) for first in range(low, high + 1, step)]
        sql = _order_days_sql()

        def scan(bounds: tuple[int, int]) -> str | None:
            with self._reader() as conn:
                params = {"first": bounds[0], "stop": bounds[1], "start": start or "", "end": end}
                text: str | None = conn.execute(sql, params).fetchone()[0]
                return text

        if len(slices) == 1:
            texts = [scan(slices[0])]
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(SCAN_THREADS) as pool:
                texts = list(pool.map(scan, slices))
        parts = [np.fromstring(text, dtype=np.int64, sep=" ") for text in texts if text]
        pairs = (np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)).reshape(-1, 2)
        keys = pairs[:, 0]
        day = (keys & ((1 << DAY_BITS) - 1)) - DAY_OFFSET
        return np.column_stack([keys >> DAY_BITS, day, pairs[:, 1]])

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection of its own (usable from any thread), closed afterwards."""
        uri = self.path.resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout())
        try:
            yield conn
        finally:
            conn.close()

    def predict_customer_keys(self) -> tuple[npt.NDArray[np.int64], list[Any], list[Any]]:
        """Every customer's internal id (ascending), customer_id and email (None if none).

        Uses a connection of its own, so it may be called from another thread.
        """
        import numpy as np

        with self._reader() as conn:
            count, ids, customer_ids, emails = conn.execute(_KEYS_SQL).fetchone()
            if not count:
                return np.zeros(0, dtype=np.int64), [], []
            id_array = np.fromstring(ids, dtype=np.int64, sep=" ")
            split_ids = customer_ids.split(_SEPARATOR)
            split_emails = emails.split(_SEPARATOR)
            if len(id_array) == len(split_ids) == len(split_emails) == count:
                return id_array, split_ids, [email or None for email in split_emails]
            rows = conn.execute("SELECT id, customer_id, email FROM customers ORDER BY id")
            id_list, id_texts, email_list = zip(*rows, strict=True)
        return np.asarray(id_list, dtype=np.int64), list(id_texts), list(email_list)

    def predict_last_order_day(self) -> str | None:
        """The day of the latest countable order, or None when there is none."""
        row = self.conn.execute("SELECT max(ordered_at) FROM order_facts").fetchone()
        return None if row is None or row[0] is None else str(row[0])[:10]
