"""SQL for the predict domain (a mixin of :class:`retain_cli.store.Store`).

The per-customer summary is aggregated here, in SQLite, in two steps: orders -> purchase days
(several orders on one day are one purchase, their net totals summed), then purchase days ->
one row per customer. Python never loops over orders.
"""

from __future__ import annotations

from typing import Any

from retain_cli.store.base import StoreBase

SUMMARY_COLUMNS = [
    "customer_ref",
    "customer_id",
    "email",
    "n_days",
    "recency_days",
    "age_days",
    "repeat_minor",
]

# first_minor: the total of the first purchase day. order_day is fixed-width text, so the
# smallest "order_day || total" string starts with the first day and ends with its total.
_SUMMARY_SQL = """
WITH days AS (
    SELECT customer_ref, order_day, sum(net_minor) AS day_minor
    FROM order_facts
    WHERE ordered_at <= :as_of
    GROUP BY customer_ref, order_day
),
per_customer AS (
    SELECT
        customer_ref,
        count(*) AS n_days,
        min(order_day) AS first_day,
        max(order_day) AS last_day,
        sum(day_minor) AS total_minor,
        CAST(substr(min(order_day || day_minor), 11) AS INTEGER) AS first_minor
    FROM days
    GROUP BY customer_ref
)
SELECT
    p.customer_ref,
    c.customer_id,
    c.email,
    p.n_days,
    CAST(round(julianday(p.last_day) - julianday(p.first_day)) AS INTEGER) AS recency_days,
    CAST(round(julianday(:as_of_day) - julianday(p.first_day)) AS INTEGER) AS age_days,
    p.total_minor - p.first_minor AS repeat_minor
FROM per_customer p
JOIN customers c ON c.id = p.customer_ref
ORDER BY p.customer_ref
"""


class PredictStore(StoreBase):
    """Queries for predict: the frequency/recency/T/monetary summary and holdout counts."""

    def predict_summary_columns(self, as_of: str, as_of_day: str) -> dict[str, list[Any]]:
        """Per customer with a countable order at or before ``as_of`` (ISO timestamp):
        distinct order days, days from first to last and from first to ``as_of_day``, and
        the summed net total (minor units) of the days after the first. Column lists keyed
        by :data:`SUMMARY_COLUMNS`."""
        rows = self.conn.execute(_SUMMARY_SQL, {"as_of": as_of, "as_of_day": as_of_day}).fetchall()
        if not rows:
            return {name: [] for name in SUMMARY_COLUMNS}
        return {
            name: list(values)
            for name, values in zip(SUMMARY_COLUMNS, zip(*rows, strict=True), strict=True)
        }

    def predict_holdout_counts(self, from_day: str, to_day: str) -> tuple[list[int], list[int]]:
        """(customer_refs, distinct order days) for countable orders between two days, inclusive."""
        rows = self.conn.execute(
            """
            SELECT customer_ref, count(DISTINCT order_day)
            FROM order_facts
            WHERE ordered_at >= :start AND ordered_at <= :end
            GROUP BY customer_ref
            """,
            {"start": f"{from_day}T00:00:00Z", "end": f"{to_day}T23:59:59Z"},
        ).fetchall()
        return [r[0] for r in rows], [r[1] for r in rows]

    def predict_last_order_day(self) -> str | None:
        """The day of the latest countable order, or None when there is none."""
        row = self.conn.execute("SELECT max(ordered_at) FROM order_facts").fetchone()
        return None if row is None or row[0] is None else str(row[0])[:10]
