"""SQL for loyalty (a mixin of :class:`retain_cli.store.Store`).

Points and tiers are never stored: they are computed from the countable orders each time
(:mod:`retain_cli.analytics.loyalty`). The store only reads the orders that spent points on a
reward (by its discount code) and one customer's orders for their history.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from retain_cli.store.base import StoreBase


class LoyaltyStore(StoreBase):
    """Queries for loyalty points and tiers."""

    def reward_orders(self, codes: Sequence[str]) -> list[tuple[int, int, str]]:
        """Countable orders (``order_facts``) that used one of ``codes`` (any case):
        (customer_ref, unix seconds, the code upper-cased)."""
        if not codes:
            return []
        wanted = json.dumps(sorted({c.upper() for c in codes}))
        return [
            (int(r[0]), int(r[1]), str(r[2]))
            for r in self.conn.execute(
                "SELECT f.customer_ref, unixepoch(f.ordered_at), upper(o.discount_code) "
                "FROM orders o JOIN order_facts f ON f.order_ref = o.id "
                "WHERE o.discount_code COLLATE NOCASE IN (SELECT value FROM json_each(?)) "
                "AND f.customer_ref IS NOT NULL AND unixepoch(f.ordered_at) IS NOT NULL",
                (wanted,),
            )
        ]

    def loyalty_orders(self, customer_ref: int) -> list[tuple[int, int, str, str, str | None]]:
        """One customer's countable orders: (unix seconds, net_minor, currency, order_id,
        discount code), oldest first."""
        return [
            (int(r[0]), int(r[1]), str(r[2] or ""), str(r[3]), r[4])
            for r in self.conn.execute(
                "SELECT unixepoch(f.ordered_at), f.net_minor, upper(coalesce(f.currency, '')), "
                "o.order_id, o.discount_code "
                "FROM order_facts f JOIN orders o ON o.id = f.order_ref "
                "WHERE f.customer_ref = ? AND unixepoch(f.ordered_at) IS NOT NULL "
                "ORDER BY f.ordered_at, f.order_ref",
                (customer_ref,),
            )
        ]
