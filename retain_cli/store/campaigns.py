"""SQL for the campaigns domain (a mixin of :class:`retain_cli.store.Store`).

Template contexts and audiences are built for a whole batch of customers with a few queries
(one per kind of data, chunked by customer), never one query per customer.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from retain_cli.store.base import StoreBase, dicts

CHUNK = 500


def _chunks(values: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


class CampaignStore(StoreBase):
    """Queries for campaign audiences and template contexts."""

    def _rows(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        cursor = self.conn.execute(sql, params)
        return dicts(cursor)

    def campaign_customer_features(
        self, as_of_iso: str, refs: Collection[int] | None = None
    ) -> list[dict[str, Any]]:
        """One row per customer (or per customer in ``refs``): identity, consent
        (``customer_consent``) and order features.

        Orders are the countable ones (``order_facts``) placed by ``as_of_iso``.
        """
        only = only_orders = ""
        params: list[Any] = [as_of_iso]
        if refs is not None:
            wanted = json.dumps(sorted(refs))
            only_orders = "AND customer_ref IN (SELECT value FROM json_each(?))"
            only = "WHERE c.id IN (SELECT value FROM json_each(?))"
            params = [as_of_iso, wanted, wanted]
        return self._rows(
            f"""
            SELECT
                c.id AS customer_ref,
                c.customer_id,
                c.email,
                c.first_name,
                c.last_name,
                c.birthday,
                c.accepts_marketing,
                c.source_created_at,
                c.created_at,
                v.suppressed,
                v.consent,
                coalesce(f.orders, 0) AS orders,
                coalesce(f.net_minor, 0) AS total_spent_minor,
                f.first_order_at,
                f.last_order_at
            FROM customers c
            JOIN customer_consent v ON v.customer_ref = c.id
            LEFT JOIN (
                SELECT customer_ref,
                       count(*) AS orders,
                       CAST(total(net_minor) AS INTEGER) AS net_minor,
                       min(ordered_at) AS first_order_at,
                       max(ordered_at) AS last_order_at
                FROM order_facts
                WHERE ordered_at <= ? {only_orders}
                GROUP BY customer_ref
            ) f ON f.customer_ref = c.id
            {only}
            ORDER BY c.id
            """,
            params,
        )

    def campaign_customer_ref(self, email: str) -> int | None:
        """The internal id of the customer with this address (any case), if any."""
        row = self.conn.execute(
            "SELECT id FROM customers WHERE email = ?", (email.strip().lower(),)
        ).fetchone()
        return None if row is None else int(row[0])

    def template_customers(self, refs: Sequence[int]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for chunk in _chunks(refs):
            out += self._rows(
                f"""
                SELECT id AS customer_ref, customer_id, email, first_name, last_name,
                       phone, company, city, province, country, zip, birthday, tags,
                       accepts_marketing, source, source_created_at, created_at
                FROM customers WHERE id IN ({_marks(chunk)})
                """,
                chunk,
            )
        return out

    def template_order_stats(self, refs: Sequence[int], as_of_iso: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for chunk in _chunks(refs):
            out += self._rows(
                f"""
                SELECT customer_ref,
                       count(*) AS orders,
                       CAST(total(net_minor) AS INTEGER) AS total_spent_minor,
                       min(ordered_at) AS first_order_at,
                       max(ordered_at) AS last_order_at
                FROM order_facts
                WHERE ordered_at <= ? AND customer_ref IN ({_marks(chunk)})
                GROUP BY customer_ref
                """,
                [as_of_iso, *chunk],
            )
        return out

    def template_last_orders(self, refs: Sequence[int], as_of_iso: str) -> list[dict[str, Any]]:
        """Each customer's latest countable order by ``as_of_iso`` (ties: highest id)."""
        return self._template_orders(refs, as_of_iso, "DESC")

    def template_first_orders(self, refs: Sequence[int], as_of_iso: str) -> list[dict[str, Any]]:
        """Each customer's first countable order by ``as_of_iso`` (ties: lowest id)."""
        return self._template_orders(refs, as_of_iso, "ASC")

    def _template_orders(
        self, refs: Sequence[int], as_of_iso: str, direction: str
    ) -> list[dict[str, Any]]:
        assert direction in ("ASC", "DESC")
        out: list[dict[str, Any]] = []
        for chunk in _chunks(refs):
            out += self._rows(
                f"""
                SELECT o.id AS order_ref, o.customer_ref, o.order_id, o.ordered_at,
                       o.currency, o.subtotal_minor, o.discount_minor, o.shipping_minor,
                       o.tax_minor, o.total_minor, o.refunded_minor,
                       max(o.total_minor - o.refunded_minor, 0) AS net_minor
                FROM orders o
                WHERE o.id IN (
                    SELECT (SELECT o2.id FROM orders o2
                            WHERE o2.customer_ref = r.customer_ref
                              AND o2.cancelled_at IS NULL AND o2.ordered_at <= ?
                            ORDER BY o2.ordered_at {direction}, o2.id {direction} LIMIT 1)
                    FROM (SELECT DISTINCT customer_ref FROM orders
                          WHERE customer_ref IN ({_marks(chunk)})) r
                )
                """,
                [as_of_iso, *chunk],
            )
        return out

    def refunded_trigger_orders(
        self, refs: Sequence[int], as_of_iso: str
    ) -> dict[int, dict[str, bool]]:
        """customer_ref -> whether their first and their last order by ``as_of_iso`` (placed
        and not cancelled: order_facts leaves out the ones refunded in full) was refunded in
        full (``{"first_order": bool, "last_order": bool}``), for customers
        with at least one such order: an order trigger does not thank for a refunded order."""
        out: dict[int, dict[str, bool]] = {}
        for chunk in _chunks(refs):
            cursor = self.conn.execute(
                f"""
                SELECT DISTINCT customer_ref,
                    first_value(refunded) OVER (PARTITION BY customer_ref
                        ORDER BY ordered_at, order_ref
                        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING),
                    last_value(refunded) OVER (PARTITION BY customer_ref
                        ORDER BY ordered_at, order_ref
                        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
                FROM (SELECT customer_ref, ordered_at, id AS order_ref,
                             refunded_minor > 0 AND refunded_minor >= total_minor AS refunded
                      FROM orders
                      WHERE cancelled_at IS NULL AND ordered_at <= ?
                        AND customer_ref IN ({_marks(chunk)}))
                """,
                [as_of_iso, *chunk],
            )
            for ref, first, last in cursor:
                out[int(ref)] = {"first_order": bool(first), "last_order": bool(last)}
        return out

    def template_order_items(self, order_refs: Sequence[int]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for chunk in _chunks(order_refs):
            out += self._rows(
                f"""
                SELECT order_ref, line_no, sku, name, quantity, price_minor
                FROM order_items WHERE order_ref IN ({_marks(chunk)})
                ORDER BY order_ref, line_no
                """,
                chunk,
            )
        return out

    def shop_currency(self) -> str | None:
        """The shop's most used order currency, if any order has one (ties: alphabetical).

        Used for template amounts without a currency and for campaign reports."""
        row = self.conn.execute(
            "SELECT currency FROM orders WHERE currency IS NOT NULL "
            "GROUP BY currency ORDER BY count(*) DESC, currency LIMIT 1"
        ).fetchone()
        return None if row is None else str(row[0])
