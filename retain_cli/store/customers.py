"""SQL for the customers domain (a mixin of :class:`retain_cli.store.Store`).

Customer lists, one customer's profile and order history, and the database summary behind
``retain status``. Money comes back in integer minor units with its currency; converting to
major units is the caller's job (``retain_cli.analytics.customers``). Sums of money are
``CAST(total(x) AS INTEGER)``: ``total()`` adds in floating point and cannot overflow, where
``sum()`` stops the query with "integer overflow" past 2^63 (which a database imported
before amounts were bounded may hold); the cast caps it there.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from retain_cli.store.base import EXISTED_BY, StoreBase, dicts
from retain_cli.store.imports import CUSTOMER_COLUMNS

# ORDER BY clauses for the list, keyed by the names ``retain customers list --sort`` accepts.
# Every one ends in a unique key so that the order is total and stable.
LIST_SORTS: dict[str, str] = {
    "total_spent": "total_major DESC, last_order_at DESC, c.customer_id",
    "orders": "orders DESC, total_major DESC, c.customer_id",
    "last_order": "last_order_at IS NULL, last_order_at DESC, c.customer_id",
    "first_order": "first_order_at IS NULL, first_order_at, c.customer_id",
    "name": "coalesce(c.last_name, '') = '', c.last_name COLLATE NOCASE, "
    "c.first_name COLLATE NOCASE, c.customer_id",
    "email": "coalesce(c.email, '') = '', c.email, c.customer_id",
    "customer_id": "c.customer_id",
}


class CustomerStore(StoreBase):
    """Queries for customers: lists, profiles, order history, and the status summary."""

    # -- lists ---------------------------------------------------------------------------

    def customer_list(
        self,
        *,
        sort: str = "total_spent",
        limit: int | None = None,
        refs: Collection[int] | None = None,
        until: str | None = None,
        scales: Mapping[str, int] | None = None,
    ) -> list[dict[str, Any]]:
        """Customers with their countable orders (``order_facts``), in minor units.

        ``refs`` keeps only those internal ids (e.g. a segment's members); ``until`` (UTC ISO
        text) ignores orders placed after it, and customers who did not exist yet
        (:data:`~retain_cli.store.base.EXISTED_BY`). Customers without orders have
        ``orders = 0``.
        ``scales`` maps currencies whose minor unit is not 1/100 to their divisor, so that
        sorting by spend compares major units (``{"JPY": 1}``).
        """
        order_by = LIST_SORTS[sort]
        params: dict[str, Any] = {"scales": json.dumps(dict(scales or {}))}
        facts_where = ""
        if until is not None:
            facts_where = "WHERE ordered_at <= :until"
            params["until"] = until
        conditions = []
        if refs is not None:
            conditions.append("c.id IN (SELECT value FROM json_each(:refs))")
            params["refs"] = json.dumps(sorted(refs))
        if until is not None and not self._everyone_existed(until):
            conditions.append(EXISTED_BY)  # only who existed by then
        where = "WHERE " + " AND ".join(conditions) if conditions else ""
        limit_sql = ""
        if limit is not None:
            limit_sql = "LIMIT :limit"
            params["limit"] = limit
        sql = f"""
            WITH agg AS (
                SELECT customer_ref,
                       count(*) AS orders,
                       CAST(total(net_minor) AS INTEGER) AS total_minor,
                       max(currency) AS currency,
                       count(DISTINCT currency) AS currencies,
                       min(ordered_at) AS first_order_at,
                       max(ordered_at) AS last_order_at
                FROM order_facts
                {facts_where}
                GROUP BY customer_ref
            )
            SELECT c.id AS ref,
                   c.customer_id,
                   c.email,
                   c.first_name,
                   c.last_name,
                   coalesce(agg.orders, 0) AS orders,
                   coalesce(agg.total_minor, 0) AS total_minor,
                   coalesce(agg.total_minor, 0) * 1.0
                       / coalesce(json_extract(:scales, '$.' || agg.currency), 100) AS total_major,
                   agg.currency,
                   coalesce(agg.currencies, 0) AS currencies,
                   agg.first_order_at,
                   agg.last_order_at
            FROM customers c
            LEFT JOIN agg ON agg.customer_ref = c.id
            {where}
            ORDER BY {order_by}
            {limit_sql}
        """  # only fixed fragments are interpolated above; every value is a parameter
        return dicts(self.conn.execute(sql, params))

    def customer_count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM customers").fetchone()[0])

    # -- finding one customer --------------------------------------------------------------

    def find_customer_ref(self, key: str) -> int | None:
        """The internal id of the customer a user means by ``key``, or None.

        Tried in order: e-mail (any case), ``customer_id``, any platform id in
        ``customer_sources`` (with or without a spreadsheet's leading apostrophe).
        """
        text = key.strip()
        bare = text.lstrip("'")
        row = self.conn.execute(
            """
            SELECT id FROM (
                SELECT id, 1 AS rank FROM customers WHERE email = lower(?)
                UNION ALL
                SELECT id, 2 FROM customers WHERE customer_id IN (?, ?)
                UNION ALL
                SELECT customer_ref, 3 FROM customer_sources WHERE source_id IN (?, ?)
            )
            ORDER BY rank, id
            LIMIT 1
            """,
            (text, text, bare, text, bare),
        ).fetchone()
        return None if row is None else int(row[0])

    def customer_ref_by_email(self, email: str) -> int | None:
        """The internal id of the customer with this address (any case), or None."""
        row = self.conn.execute(
            "SELECT id FROM customers WHERE email = lower(?)", (email.strip(),)
        ).fetchone()
        return None if row is None else int(row[0])

    def customer_candidates(self, fragment: str, limit: int = 200) -> list[dict[str, Any]]:
        """Customers whose e-mail, id or name contains ``fragment`` (for suggestions)."""
        pattern = "%" + fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern += "%"
        return dicts(
            self.conn.execute(
                """
                SELECT customer_id, email, first_name, last_name FROM customers
                WHERE email LIKE ? ESCAPE '\\' OR customer_id LIKE ? ESCAPE '\\'
                   OR first_name LIKE ? ESCAPE '\\' OR last_name LIKE ? ESCAPE '\\'
                   OR (first_name || ' ' || last_name) LIKE ? ESCAPE '\\'
                ORDER BY customer_id
                LIMIT ?
                """,
                (pattern, pattern, pattern, pattern, pattern, limit),
            )
        )

    def customer_keys(self, limit: int) -> list[tuple[str, str | None]]:
        """(customer_id, email) of up to ``limit`` customers, for fuzzy suggestions."""
        return [
            (str(r[0]), r[1])
            for r in self.conn.execute(
                "SELECT customer_id, email FROM customers ORDER BY id LIMIT ?", (limit,)
            )
        ]

    # -- one customer's profile ------------------------------------------------------------

    def customer_record(self, ref: int) -> dict[str, Any]:
        """The ``customers`` row with its suppression (if any) joined on its address, and
        ``consent`` (``customer_consent``: may get marketing mail)."""
        rows = dicts(
            self.conn.execute(
                """
                SELECT c.*, s.reason AS suppression_reason, s.source AS suppression_source,
                       s.created_at AS suppressed_at, v.consent
                FROM customers c
                JOIN customer_consent v ON v.customer_ref = c.id
                LEFT JOIN suppressions s ON s.email = c.email
                WHERE c.id = ?
                """,
                (ref,),
            )
        )
        return rows[0]

    def customer_source_ids(self, ref: int) -> list[dict[str, Any]]:
        return dicts(
            self.conn.execute(
                "SELECT source, source_id FROM customer_sources WHERE customer_ref = ? "
                "ORDER BY source, source_id",
                (ref,),
            )
        )

    def customer_orders(self, ref: int) -> list[dict[str, Any]]:
        """Every order of one customer, cancelled ones included, oldest first."""
        return dicts(
            self.conn.execute(
                """
                SELECT id AS order_ref, order_id, source, ordered_at, currency,
                       subtotal_minor, shipping_minor, tax_minor, discount_minor,
                       total_minor, refunded_minor, financial_status, cancelled_at
                FROM orders
                WHERE customer_ref = ?
                ORDER BY ordered_at, id
                """,
                (ref,),
            )
        )

    def customer_order_items(self, ref: int) -> list[dict[str, Any]]:
        """The line items of every order of one customer, in line order."""
        return dicts(
            self.conn.execute(
                """
                SELECT i.order_ref, i.line_no, i.sku, i.name, i.quantity, i.price_minor
                FROM order_items i
                JOIN orders o ON o.id = i.order_ref
                WHERE o.customer_ref = ?
                ORDER BY i.order_ref, i.line_no
                """,
                (ref,),
            )
        )

    # -- status ----------------------------------------------------------------------------

    def status_counts(self) -> dict[str, Any]:
        """Counts and date range over the whole database (one query per table)."""
        customers = self.conn.execute(
            """
            SELECT count(*), coalesce(sum(consent), 0) FROM customer_consent
            """
        ).fetchone()
        suppressed = self.conn.execute("SELECT count(*) FROM suppressions").fetchone()[0]
        orders = self.conn.execute(
            """
            SELECT count(*), coalesce(sum(cancelled_at IS NOT NULL), 0),
                   coalesce(sum(refunded_minor > 0 AND cancelled_at IS NULL), 0),
                   min(ordered_at), max(ordered_at), coalesce(sum(customer_ref IS NULL), 0)
            FROM orders
            """
        ).fetchone()
        items = self.conn.execute("SELECT count(*) FROM order_items").fetchone()[0]
        return {
            "customers": customers[0],
            "with_consent": customers[1],
            "suppressed": suppressed,
            "orders": orders[0],
            "orders_without_customer": orders[5],
            "cancelled": orders[1],
            "refunded": orders[2],
            "line_items": items,
            "first_order_at": orders[3],
            "last_order_at": orders[4],
        }

    def revenue_by_currency(self) -> list[dict[str, Any]]:
        """Net revenue of countable orders per currency, the most used currency first."""
        return dicts(
            self.conn.execute(
                """
                SELECT currency, count(*) AS orders,
                       CAST(total(net_minor) AS INTEGER) AS net_minor,
                       CAST(total(refunded_minor) AS INTEGER) AS refunded_minor
                FROM order_facts
                GROUP BY currency
                ORDER BY count(*) DESC, currency
                """
            )
        )

    def recent_imports(self, limit: int = 5) -> list[dict[str, Any]]:
        return dicts(
            self.conn.execute(
                """
                SELECT id, kind, source, file_name, rows, inserted, updated, unchanged,
                       rejected, warnings, started_at, finished_at
                FROM imports
                ORDER BY started_at DESC, id DESC
                LIMIT ?
                """,
                (limit,),
            )
        )

    # -- address changes and merging ---------------------------------------------------------

    def max_customer_ref(self) -> int:
        return int(self.conn.execute("SELECT coalesce(max(id), 0) FROM customers").fetchone()[0])

    def same_name_pairs(self, since_ref: int) -> list[list[dict[str, Any]]]:
        """Groups of exactly two customers with an address, the same first and last name
        (any case), one of them created after ``since_ref``: each customer with their
        phone, whether they have a platform id, and their countable orders' first and last
        time. For spotting an address change in an import."""
        cursor = self.conn.execute(
            """
            WITH named AS (
                SELECT id, lower(trim(first_name)) AS f, lower(trim(last_name)) AS l
                FROM customers
                WHERE email IS NOT NULL AND trim(coalesce(first_name, '')) <> ''
                  AND trim(coalesce(last_name, '')) <> ''
            ),
            pairs AS (
                SELECT f, l FROM named GROUP BY f, l
                HAVING count(*) = 2 AND max(id) > :since
            )
            SELECT p.f || ' ' || p.l AS name, c.id AS ref, c.customer_id, c.email, c.phone,
                   c.customer_id <> c.email AS platform_id,
                   min(o.ordered_at) AS first_order_at, max(o.ordered_at) AS last_order_at,
                   count(o.order_ref) AS orders
            FROM pairs p
            JOIN named n ON n.f = p.f AND n.l = p.l
            JOIN customers c ON c.id = n.id
            LEFT JOIN order_facts o ON o.customer_ref = c.id
            GROUP BY c.id
            ORDER BY name, c.id
            """,
            {"since": since_ref},
        )
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in dicts(cursor):
            groups.setdefault(row["name"], []).append(row)
        return [group for group in groups.values() if len(group) == 2]

    def merge_customers(self, old: int, new: int, now: str) -> dict[str, int]:
        """Merge customer ``old`` into ``new``, in one transaction: orders, ledger rows,
        platform ids and segment snapshots follow; ``new`` keeps its own values and takes
        ``old``'s where it has none (the earlier sign-up too); an opt-out of ``old``'s address
        also holds for ``new``'s; ``old``'s address becomes an alias of ``new``, so later
        imports find it. Returns what moved."""
        own = ("customer_id", "email", "source_created_at")  # kept, or merged below
        columns = [c for c in CUSTOMER_COLUMNS if c not in own]
        fill = ", ".join(f"{c} = coalesce(n.{c}, o.{c})" for c in columns)
        with self.transaction() as conn:
            orders = conn.execute(
                "UPDATE orders SET customer_ref = ? WHERE customer_ref = ?", (new, old)
            ).rowcount
            sends = conn.execute(
                "UPDATE OR IGNORE sends SET customer_ref = ? WHERE customer_ref = ?", (new, old)
            ).rowcount
            # both were sent the same step of the same occurrence: keep both rows, apart
            sends += conn.execute(
                "UPDATE sends SET customer_ref = :new, occurrence = occurrence || ' (merged '"
                " || (SELECT customer_id FROM customers WHERE id = :old) || ')' "
                "WHERE customer_ref = :old",
                {"new": new, "old": old},
            ).rowcount
            conn.execute(
                "UPDATE customer_sources SET customer_ref = ? WHERE customer_ref = ?", (new, old)
            )
            self._merge_snapshots(conn, old, new)
            conn.execute(
                f"""
                UPDATE customers AS n SET {fill},
                    source_created_at = CASE
                        WHEN o.source_created_at IS NULL THEN n.source_created_at
                        WHEN n.source_created_at IS NULL THEN o.source_created_at
                        ELSE min(n.source_created_at, o.source_created_at) END,
                    created_at = min(n.created_at, o.created_at),
                    updated_at = :now
                FROM customers AS o WHERE n.id = :new AND o.id = :old
                """,  # only the fixed column list is interpolated; values are parameters
                {"new": new, "old": old, "now": now},
            )
            suppressed = conn.execute(
                """
                INSERT INTO suppressions (email, reason, source, created_at)
                SELECT n.email, 'opted out as ' || o.email || ' (merged)', 'merge', :now
                FROM customers n, customers o JOIN suppressions s ON s.email = o.email
                WHERE n.id = :new AND o.id = :old AND n.email IS NOT NULL
                ON CONFLICT(email) DO NOTHING
                """,
                {"new": new, "old": old, "now": now},
            ).rowcount
            conn.execute(
                "UPDATE customer_aliases SET customer_ref = ? WHERE customer_ref = ?", (new, old)
            )
            conn.execute(
                "INSERT INTO customer_aliases (email, customer_ref, customer_id, merged_at) "
                "SELECT email, :new, customer_id, :now FROM customers "
                "WHERE id = :old AND email IS NOT NULL "
                "ON CONFLICT(email) DO UPDATE SET customer_ref = :new, merged_at = :now",
                {"new": new, "old": old, "now": now},
            )
            conn.execute("DELETE FROM customers WHERE id = ?", (old,))
        return {"orders": orders, "sends": sends, "suppressed": suppressed}

    def _merge_snapshots(self, conn: Any, old: int, new: int) -> None:
        """In every stored segment snapshot that holds ``old``: ``new`` takes its place (and
        its own membership of that day, if any, goes: the older history wins)."""
        holds = (
            "instr(s.members, :text) "
            "AND EXISTS (SELECT 1 FROM json_each(s.members) WHERE value = :ref)"
        )
        conn.execute(
            f"""
            UPDATE segment_snapshot_sets AS s
            SET members = (SELECT json_group_array(value) FROM json_each(s.members)
                           WHERE value <> :new),
                customers = customers - 1
            WHERE {holds.replace(":text", ":new_text").replace(":ref", ":new")}
              AND EXISTS (SELECT 1 FROM segment_snapshot_sets o, json_each(o.members) j
                          WHERE o.scheme = s.scheme AND o.as_of = s.as_of
                            AND instr(o.members, :old_text) AND j.value = :old)
            """,  # only the fixed condition above is interpolated
            {"new": new, "old": old, "new_text": str(new), "old_text": str(old)},
        )
        conn.execute(
            f"""
            UPDATE segment_snapshot_sets AS s
            SET members = (SELECT json_group_array(CASE WHEN value = :old THEN :new
                                                        ELSE value END)
                           FROM json_each(s.members))
            WHERE {holds.replace(":text", ":old_text").replace(":ref", ":old")}
            """,
            {"new": new, "old": old, "old_text": str(old)},
        )

    def customer_alias_refs(self) -> dict[str, int]:
        """Old address -> the customer it was merged into."""
        return dict(self.conn.execute("SELECT email, customer_ref FROM customer_aliases"))
