"""SQL for measurement (a mixin of :class:`retain_cli.store.Store`): the ledger as the report
reads it, the orders that used an offer code, baselines and goals."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from retain_cli.store.base import StoreBase, dicts


class MeasureStore(StoreBase):
    """Queries for ``retain report``, ``retain baseline`` and ``retain goals``."""

    # --- the report ------------------------------------------------------------------------

    def measure_campaigns(self, campaign: str | None = None) -> list[str]:
        """The campaigns in the send ledger (or the one named, if it is there)."""
        if campaign is not None:
            row = self.conn.execute("SELECT 1 FROM sends WHERE campaign = ? LIMIT 1", (campaign,))
            return [campaign] if row.fetchone() else []
        return [r[0] for r in self.conn.execute("SELECT DISTINCT campaign FROM sends ORDER BY 1")]

    def measure_ledger(
        self, campaign: str, variants: Sequence[str] = ()
    ) -> list[tuple[int, int, int, int, int, int]]:
        """One campaign's ledger rows as numbers: (step, customer_ref, kind, planned_at,
        sent_at, variant); kind 1 sent, 2 held out, 3 failed, 4 ambiguous, 0 any other state;
        times in unix seconds (sent_at -1 unless sent); variant k for the k-th of
        ``variants`` (:meth:`measure_variants`), 0 for none (or another)."""
        numbered = " ".join("WHEN ? THEN ?" for _ in variants)
        variant = f"CASE variant {numbered} ELSE 0 END" if variants else "0"
        numbers = [value for k, name in enumerate(variants, start=1) for value in (name, k)]
        return self.conn.execute(
            "SELECT step, customer_ref, CASE state WHEN 'sent' THEN 1 WHEN 'held_out' THEN 2 "
            "WHEN 'failed' THEN 3 WHEN 'ambiguous' THEN 4 ELSE 0 END, "
            "CAST(strftime('%s', planned_at) AS INTEGER), "
            f"coalesce(CAST(strftime('%s', sent_at) AS INTEGER), -1), {variant} FROM sends "
            "WHERE campaign = ?",
            (*numbers, campaign),
        ).fetchall()

    def measure_variants(self) -> dict[str, list[str]]:
        """Per campaign, the A/B variants its ledger names (sorted)."""
        rows = self.conn.execute(
            "SELECT DISTINCT campaign, variant FROM sends WHERE variant IS NOT NULL "
            "ORDER BY campaign, variant"
        )
        out: dict[str, list[str]] = {}
        for campaign, variant in rows:
            out.setdefault(campaign, []).append(variant)
        return out

    def measure_offer_orders(self, codes: Sequence[str]) -> list[tuple[str, int, int, int]]:
        """Countable orders (not cancelled, not refunded in full: ``order_facts``) that used
        one of these discount codes (any case):
        (code as given in ``codes``, customer_ref, unix seconds, discount_minor)."""
        if not codes:
            return []
        upper = {code.upper(): code for code in codes}
        rows = self.conn.execute(
            "SELECT upper(discount_code), customer_ref, "
            "CAST(strftime('%s', ordered_at) AS INTEGER), coalesce(discount_minor, 0) "
            "FROM orders WHERE discount_code IS NOT NULL AND cancelled_at IS NULL "
            "AND customer_ref IS NOT NULL "
            "AND NOT (total_minor > 0 AND refunded_minor >= total_minor) "
            "AND discount_code COLLATE NOCASE IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(upper)),),
        )
        return [(upper[code], ref, at, minor) for code, ref, at, minor in rows]

    # --- baselines -------------------------------------------------------------------------

    def baseline_save(
        self,
        name: str,
        as_of: str,
        period: str,
        currency: str | None,
        metrics: dict[str, Any],
        now: str,
    ) -> bool:
        """Keep a baseline; True when it replaced one of the same name."""
        with self.transaction() as conn:
            existed = conn.execute("SELECT 1 FROM baselines WHERE name = ?", (name,)).fetchone()
            conn.execute(
                "INSERT INTO baselines (name, as_of, period, currency, metrics, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET as_of = excluded.as_of,"
                " period = excluded.period, currency = excluded.currency, "
                "metrics = excluded.metrics, created_at = excluded.created_at",
                (name, as_of, period, currency, json.dumps(metrics), now),
            )
        return existed is not None

    def baseline_get(self, name: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT name, as_of, period, currency, metrics, created_at FROM baselines "
            "WHERE name = ?",
            (name,),
        ).fetchone()
        return None if row is None else _baseline(row)

    def baseline_list(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT name, as_of, period, currency, metrics, created_at FROM baselines "
            "ORDER BY as_of, name"
        )
        return [_baseline(row) for row in rows]

    # --- goals -----------------------------------------------------------------------------

    def goal_set(self, goal: dict[str, Any]) -> bool:
        """Add a goal, or replace the goal on the same metric; True when it replaced one."""
        return self.goal_set_many([goal])[0]

    def goal_set_many(self, goals: Sequence[dict[str, Any]]) -> list[bool]:
        """:meth:`goal_set` for several goals, in one transaction."""
        replaced = []
        with self.transaction() as conn:
            for goal in goals:
                existed = conn.execute(
                    "SELECT 1 FROM goals WHERE metric = ?", (goal["metric"],)
                ).fetchone()
                conn.execute(
                    "INSERT OR REPLACE INTO goals (metric, change, target, by_date, period, "
                    "baseline, start_value, start_as_of, created_at) VALUES (:metric, :change, "
                    ":target, :by_date, :period, :baseline, :start_value, :start_as_of, "
                    ":created_at)",
                    goal,
                )
                replaced.append(existed is not None)
        return replaced

    def goal_list(self) -> list[dict[str, Any]]:
        cursor = self.conn.execute(
            "SELECT metric, change, target, by_date, period, baseline, start_value, "
            "start_as_of, created_at FROM goals ORDER BY by_date, metric"
        )
        return dicts(cursor)

    def goal_remove(self, metric: str) -> bool:
        with self.transaction() as conn:
            cursor = conn.execute("DELETE FROM goals WHERE metric = ?", (metric,))
            return cursor.rowcount > 0


def _baseline(row: Sequence[Any]) -> dict[str, Any]:
    name, as_of, period, currency, metrics, created_at = row
    return {
        "name": name,
        "as_of": as_of,
        "period": period,
        "currency": currency,
        "metrics": json.loads(metrics),
        "created_at": created_at,
    }
