"""SQL for the analytics domain (a mixin of :class:`retain_cli.store.Store`).

Metrics, cohorts and segments all start from the countable orders (the ``order_facts``
view). Reading a million rows through Python costs more than a second, so the rows are read
once and kept packed in ``analytics_cache`` (see :func:`retain_cli.analytics.metrics.load_orders`);
the fingerprint below says when that copy is stale.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from retain_cli.store.base import EXISTED_BY, StoreBase


class AnalyticsStore(StoreBase):
    """Queries and writes for analytics."""

    # --- the countable orders and their packed copy ------------------------------------------

    def orders_state(self) -> tuple[int, int]:
        """(max(orders.id), change version): together they change whenever the countable
        orders may have changed.

        Every insert raises max(id) (rows get the next id; imports never reuse one); updates
        of the columns order_facts uses, and deletes, bump ``analytics_state.orders_version``
        (triggers from m002_segments). Both lookups are instant, unlike count(*).
        """
        (max_id,) = self.conn.execute("SELECT max(id) FROM orders").fetchone()
        (version,) = self.conn.execute(
            "SELECT orders_version FROM analytics_state WHERE id = 1"
        ).fetchone()
        return int(max_id or 0), int(version)

    def orders_fingerprint(self) -> str:
        max_id, version = self.orders_state()
        return f"{max_id}:{version}"

    def cached_blob(self, name: str) -> tuple[str, bytes] | None:
        row = self.conn.execute(
            "SELECT fingerprint, data FROM analytics_cache WHERE name = ?", (name,)
        ).fetchone()
        return (row[0], bytes(row[1])) if row else None

    def save_cached_blob(self, name: str, fingerprint: str, data: bytes | bytearray) -> bool:
        """Keep a packed copy; False (and nothing written) when the database is busy."""
        try:
            self.conn.execute(
                "INSERT INTO analytics_cache (name, fingerprint, data) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET fingerprint = excluded.fingerprint, "
                "data = excluded.data",
                (name, fingerprint, data),
            )
        except sqlite3.OperationalError:
            return False
        return True

    def order_fact_rows(
        self, *, after_id: int = 0, with_currency: bool = False, column: str = "net_minor"
    ) -> sqlite3.Cursor:
        """Countable orders of customers with an id above ``after_id``: (customer_ref, unix
        seconds, amount[, currency]), the amount from ``column`` (``net_minor``: the total
        less refunds; ``net_sales_minor``: also less tax and shipping). Sales without a
        customer are left out (see :meth:`walk_in_order_rows`).

        Returned as a cursor, so the caller can stream integers straight into an array. The
        query scans the table by id (an index on ordered_at would mean a million lookups).
        """
        if column not in ("net_minor", "net_sales_minor"):
            raise ValueError(f"no amount column {column!r} in order_facts")
        currency = ", upper(coalesce(currency, ''))" if with_currency else ""
        return self.conn.execute(
            f"SELECT customer_ref, unixepoch(ordered_at), {column}{currency} "
            "FROM order_facts WHERE order_ref > ? AND unixepoch(+ordered_at) IS NOT NULL "
            "AND customer_ref IS NOT NULL",
            (after_id,),
        )

    def walk_in_order_rows(self, column: str = "net_minor") -> list[tuple[int, int, str]]:
        """Countable sales without a customer (walk-ins): (unix seconds, amount, currency),
        in time order; the amount from ``column`` as in :meth:`order_fact_rows`."""
        if column not in ("net_minor", "net_sales_minor"):
            raise ValueError(f"no amount column {column!r} in order_facts")
        return self.conn.execute(
            f"SELECT unixepoch(ordered_at), {column}, upper(coalesce(currency, '')) "
            "FROM order_facts WHERE customer_ref IS NULL AND unixepoch(+ordered_at) IS NOT NULL "
            "ORDER BY ordered_at"
        ).fetchall()

    def order_currencies(self, *, after_id: int = 0) -> list[str]:
        """Distinct currency codes of the orders with an id above ``after_id`` ('' for none)."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT DISTINCT upper(coalesce(currency, '')) FROM orders WHERE id > ? ORDER BY 1",
                (after_id,),
            )
        ]

    # --- customers -------------------------------------------------------------------------

    def customer_refs(self) -> list[int]:
        """Every customers.id, ascending (one JSON value: far faster than 200,000 rows)."""
        (text,) = self.conn.execute(
            "SELECT json_group_array(id) FROM (SELECT id FROM customers ORDER BY id)"
        ).fetchone()
        refs: list[int] = json.loads(text)
        return refs

    def customers_imported_after(self, moment: str) -> list[int]:
        """customers.id of the customers first imported after ``moment``, ascending (none,
        at once, when every customer was imported by then)."""
        if self._everyone_existed(moment):
            return []
        (text,) = self.conn.execute(
            "SELECT json_group_array(id) FROM "
            "(SELECT id FROM customers WHERE created_at > ? ORDER BY id)",
            (moment,),
        ).fetchone()
        refs: list[int] = json.loads(text)
        return refs

    def customers_existing_by(self, refs: Sequence[int], moment: str) -> list[int]:
        """Those of ``refs`` who existed by ``moment`` (:data:`EXISTED_BY`), ascending."""
        (text,) = self.conn.execute(
            "SELECT json_group_array(id) FROM (SELECT c.id FROM customers c "
            f"WHERE c.id IN (SELECT value FROM json_each(:refs)) AND {EXISTED_BY} "
            "ORDER BY c.id)",
            {"refs": json.dumps(list(refs)), "until": moment},
        ).fetchone()
        out: list[int] = json.loads(text)
        return out

    def data_stamp(self) -> tuple[int, int]:
        """Changes whenever the database may have: rows this connection changed so far, and
        SQLite's counter of commits by other connections. Instant."""
        (version,) = self.conn.execute("PRAGMA data_version").fetchone()
        return self.conn.total_changes, int(version)

    def customer_feature_rows(self, refs: Collection[int] | None = None) -> list[tuple[Any, ...]]:
        """(id, customer_id, email, accepts_marketing, birthday) for every customer (or only
        those in ``refs``)."""
        if refs is not None:
            return self.conn.execute(
                "SELECT id, customer_id, email, accepts_marketing, birthday FROM customers "
                "WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
                (json.dumps(sorted(refs)),),
            ).fetchall()
        return self.conn.execute(
            "SELECT id, customer_id, email, accepts_marketing, birthday FROM customers ORDER BY id"
        ).fetchall()

    # --- segment snapshots -----------------------------------------------------------------

    def replace_segment_snapshot(
        self,
        scheme: str,
        as_of: str,
        groups: Mapping[str, str],
        counts: Mapping[str, int],
        computed_at: str,
    ) -> int:
        """Store membership for (scheme, as_of day), replacing any earlier run for that day.

        ``groups`` maps each segment to its members as a JSON array of customer_refs."""
        total = sum(counts.values())
        with self.transaction() as conn:
            conn.execute(
                "DELETE FROM segment_snapshot_sets WHERE scheme = ? AND as_of = ?", (scheme, as_of)
            )
            conn.executemany(
                "INSERT INTO segment_snapshot_sets (scheme, as_of, segment, customers, members) "
                "VALUES (?, ?, ?, ?, ?)",
                [(scheme, as_of, name, counts[name], members) for name, members in groups.items()],
            )
            conn.execute(
                "INSERT INTO segment_snapshot_runs (scheme, as_of, computed_at, customers) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(scheme, as_of) DO UPDATE SET "
                "computed_at = excluded.computed_at, customers = excluded.customers",
                (scheme, as_of, computed_at, total),
            )
        return total

    def segment_snapshot(self, scheme: str, as_of: str) -> list[tuple[str, str]] | None:
        """(segment, JSON array of customer_refs) of a stored snapshot; None if there is none."""
        run = self.conn.execute(
            "SELECT 1 FROM segment_snapshot_runs WHERE scheme = ? AND as_of = ?", (scheme, as_of)
        ).fetchone()
        if run is None:
            return None
        return self.conn.execute(
            "SELECT segment, members FROM segment_snapshot_sets "
            "WHERE scheme = ? AND as_of = ? ORDER BY segment",
            (scheme, as_of),
        ).fetchall()

    def segment_snapshot_days(self, scheme: str, *, until: str | None = None) -> list[str]:
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT as_of FROM segment_snapshot_runs WHERE scheme = ? AND as_of <= ? "
                "ORDER BY as_of",
                (scheme, until or "9999-12-31"),
            )
        ]

    def segment_history(self, scheme: str, segment: str, *, until: str) -> dict[str, str]:
        """as_of day -> JSON array of the segment's members, for stored days up to ``until``."""
        return dict(
            self.conn.execute(
                "SELECT as_of, members FROM segment_snapshot_sets "
                "WHERE scheme = ? AND segment = ? AND as_of <= ? ORDER BY as_of",
                (scheme, segment, until),
            ).fetchall()
        )

    def clear_cached_blobs(self) -> None:
        """Forget every packed copy (they are rebuilt on the next read)."""
        self.conn.execute("DELETE FROM analytics_cache")
