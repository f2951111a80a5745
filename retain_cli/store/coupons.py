"""SQL for coupon pools (a mixin of :class:`retain_cli.store.Store`).

A pool is the set of ``coupon_codes`` rows with one ``pool`` name. A code is *assigned* when a
ledger row carries it (``sends.coupon_ref``, written with the message's claim; the unique
index on it means no code ever goes to two messages), *redeemed* when a countable order of
the customer it was given to used it after it was given, and *left* when it was never given
and no order has used it (a code the shop handed out some other way is never given again).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from retain_cli.store.base import StoreBase, dicts

#: a code no order has used: orders are matched ignoring case (the partial index on
#: orders.discount_code holds only orders with a code)
_UNUSED = (
    "NOT EXISTS (SELECT 1 FROM orders o WHERE o.discount_code IS NOT NULL "
    "AND o.discount_code = k.code COLLATE NOCASE)"
)
_FREE = f"NOT EXISTS (SELECT 1 FROM sends s WHERE s.coupon_ref = k.id) AND {_UNUSED}"
#: a countable order (``order_facts``: not cancelled, not refunded in full)
_COUNTABLE = (
    "o.cancelled_at IS NULL AND NOT (o.total_minor > 0 AND o.refunded_minor >= o.total_minor)"
)


class CouponStore(StoreBase):
    """Pools of single-use codes, the codes messages carry, and their redemptions."""

    def coupons_known(self, codes: Sequence[str]) -> dict[str, str]:
        """code (upper case) -> the pool it is in, for the codes already imported."""
        rows = self.conn.execute(
            "SELECT upper(code), pool FROM coupon_codes "
            "WHERE code IN (SELECT value FROM json_each(?))",
            (json.dumps(list(codes)),),
        )
        return dict(rows.fetchall())

    def coupons_add(
        self, pool: str, codes: Sequence[tuple[str, int]], file_name: str, now: str
    ) -> int:
        """Add (code, line) pairs to ``pool``, in one transaction; codes already imported
        (in any pool) are left alone. Returns the codes added."""
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO coupon_codes (pool, code, file_name, line, imported_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(pool, code, file_name, line, now) for code, line in codes],
            )
            return conn.total_changes - before

    def coupon_pools(self) -> list[dict[str, Any]]:
        """Per pool: total, assigned (carried by a message), redeemed (by the customer it was
        given to), used elsewhere (on an order of someone else, or before it was given), left."""
        cursor = self.conn.execute(
            f"""
            SELECT k.pool AS pool, count(*) AS total,
                   count(s.id) AS assigned,
                   sum(s.id IS NOT NULL AND EXISTS (
                       SELECT 1 FROM orders o WHERE o.discount_code IS NOT NULL
                       AND o.discount_code = k.code COLLATE NOCASE
                       AND o.customer_ref = s.customer_ref AND o.ordered_at >= s.claimed_at
                       AND {_COUNTABLE})) AS redeemed,
                   sum(s.id IS NULL AND NOT {_UNUSED}) AS used_elsewhere,
                   sum(s.id IS NULL AND {_UNUSED}) AS left
            FROM coupon_codes k LEFT JOIN sends s ON s.coupon_ref = k.id
            GROUP BY k.pool ORDER BY k.pool
            """
        )
        return dicts(cursor)

    def coupon_left(self, pools: Sequence[str]) -> dict[str, tuple[int, int]]:
        """pool -> (codes left, codes in the pool), for these pools (absent: no codes)."""
        rows = self.conn.execute(
            f"SELECT pool, sum({_FREE}), count(*) FROM coupon_codes k "
            "WHERE pool IN (SELECT value FROM json_each(?)) GROUP BY pool",
            (json.dumps(list(pools)),),
        )
        return {pool: (int(left), int(total)) for pool, left, total in rows}

    def coupon_free(self, pool: str, after: int, limit: int) -> list[tuple[int, str]]:
        """The next ``limit`` codes left in ``pool`` with an id above ``after``, in the
        order they were imported: (id, code)."""
        rows = self.conn.execute(
            f"SELECT id, code FROM coupon_codes k WHERE pool = ? AND id > ? AND {_FREE} "
            "ORDER BY id LIMIT ?",
            (pool, after, limit),
        )
        return [(int(i), str(c)) for i, c in rows]

    def coupon_carried(self, send_keys: Sequence[str]) -> set[str]:
        """The send keys of these whose ledger row carries a code already."""
        rows = self.conn.execute(
            "SELECT send_key FROM sends WHERE coupon_ref IS NOT NULL "
            "AND send_key IN (SELECT value FROM json_each(?))",
            (json.dumps(list(send_keys)),),
        )
        return {str(key) for (key,) in rows}

    def coupons_attach(self, pairs: Sequence[tuple[int, int]]) -> None:
        """Give codes to messages that are not claimed yet (send id, coupon id), in one
        transaction: a message put in the approval queue carries its code from then on."""
        if not pairs:
            return
        with self.transaction() as conn:
            conn.executemany(
                "UPDATE sends SET coupon_ref = ? WHERE id = ? AND coupon_ref IS NULL",
                [(coupon, send) for send, coupon in pairs],
            )

    def coupon_use(self, campaigns: Sequence[str]) -> list[dict[str, Any]]:
        """Per campaign and step, the codes its sent messages carried: their pool, sent,
        redeemed (used
        on a countable order by the customer it was given to, after it was given) with their
        discount (minor units), and used by someone else with theirs."""
        cursor = self.conn.execute(
            f"""
            WITH given AS (
                SELECT s.campaign, s.step, s.customer_ref, s.claimed_at, k.code, k.pool
                FROM sends s JOIN coupon_codes k ON k.id = s.coupon_ref
                WHERE s.state = 'sent' AND s.campaign IN (SELECT value FROM json_each(?))
            ), used AS (
                SELECT g.campaign, g.step, g.code, o.customer_ref = g.customer_ref AS own,
                       o.id AS order_ref, coalesce(o.discount_minor, 0) AS discount
                FROM given g JOIN orders o ON o.discount_code IS NOT NULL
                    AND o.discount_code = g.code COLLATE NOCASE
                WHERE {_COUNTABLE}
                  AND (o.customer_ref != g.customer_ref OR o.ordered_at >= g.claimed_at)
            )
            SELECT g.campaign, g.step, max(g.pool) AS pool, count(*) AS sent,
                   (SELECT count(DISTINCT upper(u.code)) FROM used u
                    WHERE u.campaign = g.campaign AND u.step = g.step AND u.own) AS redeemed,
                   (SELECT coalesce(sum(discount), 0) FROM used u WHERE u.campaign = g.campaign
                    AND u.step = g.step AND u.own) AS discount_minor,
                   (SELECT count(*) FROM used u WHERE u.campaign = g.campaign
                    AND u.step = g.step AND NOT u.own) AS others,
                   (SELECT coalesce(sum(discount), 0) FROM used u WHERE u.campaign = g.campaign
                    AND u.step = g.step AND NOT u.own) AS others_discount_minor
            FROM given g GROUP BY g.campaign, g.step ORDER BY g.campaign, g.step
            """,
            (json.dumps(list(campaigns)),),
        )
        return dicts(cursor)
