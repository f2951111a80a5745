"""SQL for trust: the audit log, one person's data (export, erasure), purging, the fairness
audit's counts, and the database checks of ``retain doctor`` (a mixin of
:class:`retain_cli.store.Store`).

Erasure keeps what the shop's figures need and nothing that names the person: the
``customers`` row stays (orders point at it) under the pseudonym ``erased-<id>`` with every
personal column emptied; orders, line items and the send ledger's rows stay (without the
address); platform ids, old addresses, the opt-out in clear and the mailbox's messages about
them go. A salted hash of each address goes into ``erasures`` so that an import that brings
the address back is opted out at once (:meth:`TrustStore.block_erased_returning`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from typing import Any

from retain_cli.store.base import StoreBase, dicts
from retain_cli.store.imports import CUSTOMER_COLUMNS

#: the columns of ``customers`` that describe the person (emptied by an erasure): every one an
#: import writes but the id, which becomes the pseudonym
PERSONAL_COLUMNS = tuple(c for c in CUSTOMER_COLUMNS if c != "customer_id")
ERASED_PREFIX = "erased-"
#: tables whose rows about a customer erasure handles one by one; other tables with a
#: ``customer_ref`` column (surveys, tasks ...) lose the customer's rows; the program holdout's
#: draw names nobody and keeps the erased customer where the draw put them
KEPT_TABLES = ("orders", "sends", "program_holdout_members")
HANDLED_TABLES = ("customers", "customer_sources", "customer_aliases", "inbox_messages")


def _ids(refs: Collection[int]) -> str:
    return json.dumps(sorted(int(r) for r in refs))


class TrustStore(StoreBase):
    """Queries and writes for the audit log, privacy operations, fairness and the doctor."""

    # --- the audit log ---------------------------------------------------------------------

    def audit(
        self, at: str, actor: str, action: str, subject: str | None, detail: str | None
    ) -> None:
        """Append one entry (never an address or a name in it)."""
        self.conn.execute(
            "INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
            (at, actor, action, subject, detail),
        )

    def audit_entries(
        self,
        *,
        actions: Sequence[str] = (),
        subject: str | None = None,
        since: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Entries, newest first, optionally of these actions, about ``subject``, since."""
        clauses: list[str] = []
        params: list[Any] = []
        if actions:
            clauses.append("action IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(actions)))
        if subject is not None:
            clauses.append("subject = ?")
            params.append(subject)
        if since is not None:
            clauses.append("at >= ?")
            params.append(since)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        params.append(-1 if limit is None else limit)
        return dicts(
            self.conn.execute(
                f"SELECT id, at, actor, action, subject, detail FROM audit_log {where} "
                "ORDER BY at DESC, id DESC LIMIT ?",
                params,
            )
        )

    def audit_counts(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT action, count(*) FROM audit_log GROUP BY action"))

    # --- the salt and the hashes of erased addresses -----------------------------------------

    def trust_salt(self) -> str:
        (salt,) = self.conn.execute("SELECT salt FROM trust_settings WHERE id = 1").fetchone()
        return str(salt)

    def address_hash(self, email: str, salt: str | None = None) -> str:
        """The salted SHA-256 an erasure keeps of an address (trimmed, lower-cased)."""
        text = (salt or self.trust_salt()) + email.strip().lower()
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def erased_hash_known(self, email: str) -> str | None:
        """When an address was erased (its hash is kept), else None."""
        row = self.conn.execute(
            "SELECT erased_at FROM erasures WHERE hash = ?", (self.address_hash(email),)
        ).fetchone()
        return None if row is None else str(row[0])

    def block_erased_returning(self, import_ref: int) -> int:
        """Opt out every address import ``import_ref`` brought back after it was erased: a
        customer created or changed since the import started whose address's hash is kept.
        Returns how many were opted out. Cheap when nobody was ever erased."""
        (erased,) = self.conn.execute("SELECT count(*) FROM erasures").fetchone()
        if not erased:
            return 0
        (since,) = self.conn.execute(
            "SELECT started_at FROM imports WHERE id = ?", (import_ref,)
        ).fetchone()
        salt = self.trust_salt()
        found = []
        for (email,) in self.conn.execute(
            "SELECT c.email FROM customers c LEFT JOIN suppressions s ON s.email = c.email "
            "WHERE c.updated_at >= ? AND c.email IS NOT NULL AND s.email IS NULL",
            (since,),
        ).fetchall():
            digest = self.address_hash(email, salt)
            row = self.conn.execute(
                "SELECT erased_at FROM erasures WHERE hash = ?", (digest,)
            ).fetchone()
            if row is not None:
                found.append((email, f"erased on {str(row[0])[:10]} at their request", since))
        self.conn.executemany(
            "INSERT INTO suppressions (email, reason, source, created_at) "
            "VALUES (?, ?, 'erasure', ?) ON CONFLICT(email) DO NOTHING",
            found,
        )
        return len(found)

    # --- one person's data -------------------------------------------------------------------

    def customer_ref_tables(self) -> list[str]:
        """Every table (not view) with a ``customer_ref`` column, by name."""
        names = [
            r[0]
            for r in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        out = []
        for name in names:
            columns = {
                r[1] for r in self.conn.execute("SELECT * FROM pragma_table_info(?)", (name,))
            }
            if "customer_ref" in columns:
                out.append(name)
        return out

    def rows_about(self, table: str, ref: int) -> list[dict[str, Any]]:
        """The rows of ``table`` (a name from :meth:`customer_ref_tables`) about a customer."""
        if table not in self.customer_ref_tables():
            raise ValueError(table)
        # by the primary key: a WITHOUT ROWID table has no rowid to order by
        keys = [
            f'"{name}"'
            for _pk, name in sorted(
                (r[5], r[1])
                for r in self.conn.execute("SELECT * FROM pragma_table_info(?)", (table,))
                if r[5]
            )
        ]
        order = ", ".join(keys) or "rowid"
        return dicts(
            self.conn.execute(
                f'SELECT * FROM "{table}" WHERE customer_ref = ? ORDER BY {order}', (ref,)
            )
        )

    def customer_row(self, ref: int) -> dict[str, Any]:
        rows = dicts(self.conn.execute("SELECT * FROM customers WHERE id = ?", (ref,)))
        return rows[0]

    def customer_addresses(self, refs: Collection[int]) -> dict[int, list[str]]:
        """Each customer's addresses: the current one and the old ones of merges."""
        out: dict[int, list[str]] = {}
        for ref, email in self.conn.execute(
            "SELECT id, email FROM customers WHERE id IN (SELECT value FROM json_each(?)) "
            "AND email IS NOT NULL "
            "UNION ALL SELECT customer_ref, email FROM customer_aliases "
            "WHERE customer_ref IN (SELECT value FROM json_each(?))",
            (_ids(refs), _ids(refs)),
        ):
            out.setdefault(int(ref), []).append(str(email))
        return out

    def suppressions_of(self, emails: Sequence[str]) -> list[dict[str, Any]]:
        return dicts(
            self.conn.execute(
                "SELECT email, reason, source, created_at FROM suppressions "
                "WHERE email IN (SELECT value FROM json_each(?)) ORDER BY created_at",
                (json.dumps(list(emails)),),
            )
        )

    def lifted_opt_outs_of(self, emails: Sequence[str]) -> list[dict[str, Any]]:
        """The opt-outs of these addresses lifted by hand (``suppression_log``)."""
        return dicts(
            self.conn.execute(
                "SELECT email, action, reason, source, suppressed_at, note, at "
                "FROM suppression_log WHERE email IN (SELECT value FROM json_each(?)) "
                "ORDER BY id",
                (json.dumps(list(emails)),),
            )
        )

    def inbox_rows_about(self, ref: int, emails: Sequence[str]) -> list[dict[str, Any]]:
        return dicts(
            self.conn.execute(
                "SELECT * FROM inbox_messages WHERE customer_ref = ? "
                "OR email IN (SELECT value FROM json_each(?)) "
                "OR from_email IN (SELECT value FROM json_each(?)) ORDER BY id",
                (ref, json.dumps(list(emails)), json.dumps(list(emails))),
            )
        )

    def is_erased(self, ref: int) -> bool:
        row = self.conn.execute("SELECT customer_id FROM customers WHERE id = ?", (ref,))
        found = row.fetchone()
        return found is not None and str(found[0]).startswith(ERASED_PREFIX)

    # --- erasure -------------------------------------------------------------------------

    def erase_customers(self, refs: Collection[int], now: str) -> dict[str, int]:
        """Erase these customers' personal data in one transaction, with SQLite's
        ``secure_delete`` on (what is deleted or overwritten is zeroed in the file, not just
        unlinked). Returns counts: customers, orders kept, sends kept, opt-outs (now kept as
        hashes), opt-outs lifted by hand (kept under the pseudonym), platform ids, old
        addresses, mailbox messages and other rows removed."""
        ids = _ids(refs)
        counts = dict.fromkeys(
            (
                "customers",
                "orders_kept",
                "sends_kept",
                "opt_outs",
                "opt_out_log",
                "platform_ids",
                "old_addresses",
                "inbox_messages",
                "other_rows",
            ),
            0,
        )
        addresses = self.customer_addresses(refs)
        emails = sorted({e for found in addresses.values() for e in found})
        salt = self.trust_salt()
        (before,) = self.conn.execute("PRAGMA secure_delete").fetchone()
        self.conn.execute("PRAGMA secure_delete=ON")
        try:
            with self.transaction() as conn:
                conn.executemany(
                    "INSERT INTO erasures (hash, erased_at) VALUES (?, ?) "
                    "ON CONFLICT(hash) DO NOTHING",
                    [(self.address_hash(e, salt), now) for e in emails],
                )
                wanted = json.dumps(emails)
                counts["opt_outs"] = conn.execute(
                    "DELETE FROM suppressions WHERE email IN (SELECT value FROM json_each(?))",
                    (wanted,),
                ).rowcount
                # an opt-out lifted by hand stays on record, under the pseudonym, without
                # the owner's note (it may name them)
                for ref, found in addresses.items():
                    counts["opt_out_log"] += conn.execute(
                        f"UPDATE suppression_log SET email = '{ERASED_PREFIX}' || :ref, "
                        "note = '' WHERE email IN (SELECT value FROM json_each(:emails))",
                        {"ref": int(ref), "emails": json.dumps(sorted(found))},
                    ).rowcount
                counts["inbox_messages"] = conn.execute(
                    "DELETE FROM inbox_messages WHERE customer_ref IN "
                    "(SELECT value FROM json_each(:ids)) "
                    "OR email IN (SELECT value FROM json_each(:emails)) "
                    "OR from_email IN (SELECT value FROM json_each(:emails))",
                    {"ids": ids, "emails": wanted},
                ).rowcount
                counts["old_addresses"] = conn.execute(
                    "DELETE FROM customer_aliases WHERE customer_ref IN "
                    "(SELECT value FROM json_each(?))",
                    (ids,),
                ).rowcount
                counts["platform_ids"] = conn.execute(
                    "DELETE FROM customer_sources WHERE customer_ref IN "
                    "(SELECT value FROM json_each(?))",
                    (ids,),
                ).rowcount
                for table in self.customer_ref_tables():
                    if table in KEPT_TABLES or table in HANDLED_TABLES:
                        continue
                    counts["other_rows"] += conn.execute(
                        f'DELETE FROM "{table}" WHERE customer_ref IN '
                        "(SELECT value FROM json_each(?))",
                        (ids,),
                    ).rowcount
                # the ledger keeps every row (campaign reports count them), without the
                # address, the server's words or the id the message went out with; the key
                # names the pseudonym, and an occurrence a merge marked with the old
                # customer's id says only that it was merged
                counts["sends_kept"] = conn.execute(
                    """
                    UPDATE sends SET
                        occurrence = CASE WHEN instr(occurrence, ' (merged ') > 0
                            THEN substr(occurrence, 1, instr(occurrence, ' (merged ') - 1)
                                 || ' (merged #' || id || ')'
                            ELSE occurrence END,
                        email = '', error = NULL, reply = NULL, message_id = NULL,
                        updated_at = :now
                    WHERE customer_ref IN (SELECT value FROM json_each(:ids))
                    """,
                    {"ids": ids, "now": now},
                ).rowcount
                conn.execute(
                    f"""
                    UPDATE sends SET send_key = campaign || ':' || step || ':{ERASED_PREFIX}'
                                                || customer_ref || ':' || occurrence
                    WHERE customer_ref IN (SELECT value FROM json_each(?))
                    """,
                    (ids,),
                )
                (counts["orders_kept"],) = conn.execute(
                    "SELECT count(*) FROM orders WHERE customer_ref IN "
                    "(SELECT value FROM json_each(?))",
                    (ids,),
                ).fetchone()
                cleared = ", ".join(f"{c} = NULL" for c in PERSONAL_COLUMNS)
                counts["customers"] = conn.execute(
                    f"UPDATE customers SET customer_id = '{ERASED_PREFIX}' || id, {cleared}, "
                    "updated_at = ? WHERE id IN (SELECT value FROM json_each(?))",
                    (now, ids),
                ).rowcount
        finally:
            self.conn.execute(f"PRAGMA secure_delete={int(before)}")
        return counts

    def checkpoint_truncate(self) -> bool:
        """Copy the write-ahead log into the file and empty it; False when another
        connection kept it from finishing."""
        busy, log, done = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return not busy and (log <= 0 or log == done)

    def vacuum(self) -> None:
        """Rewrite the whole file, leaving no free page or unused space with old data."""
        self.conn.execute("VACUUM")

    def addresses_containing(self, text: str) -> list[str]:
        """Every address in the database (any table's ``email`` column) that holds ``text``
        and is longer: another customer's ``joann@example.com`` holds ``ann@example.com``."""
        found: set[str] = set()
        tables = [
            r[0]
            for r in self.conn.execute(
                "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND EXISTS "
                "(SELECT 1 FROM pragma_table_info(m.name) c WHERE c.name = 'email')"
            )
        ]
        for table in tables:
            rows = self.conn.execute(
                f'SELECT DISTINCT email FROM "{table}" WHERE instr(email, ?) > 0 AND email != ?',
                (text, text),
            )
            found.update(str(r[0]) for r in rows)
        return sorted(found)

    def other_customers_with(self, column: str, value: str, refs: Collection[int]) -> bool:
        """Whether a customer not in ``refs`` has ``value`` in ``column`` (a name)."""
        if column not in PERSONAL_COLUMNS:
            raise ValueError(column)
        row = self.conn.execute(
            f"SELECT 1 FROM customers WHERE {column} = ? "
            "AND id NOT IN (SELECT value FROM json_each(?)) LIMIT 1",
            (value, _ids(refs)),
        ).fetchone()
        return row is not None

    # --- purge -----------------------------------------------------------------------------

    def purge_candidates(self, cutoff: str) -> list[dict[str, Any]]:
        """Customers with no sign of life since ``cutoff`` (UTC text): signed up (else first
        ordered, else were first imported) before it, no order since, no consent change
        (an opt-out or a change of accepts_marketing) since, no message sent since; not
        erased already. Oldest activity first."""
        return dicts(
            self.conn.execute(
                f"""
                WITH o AS (
                    SELECT customer_ref, min(ordered_at) AS first_at, max(ordered_at) AS last_at,
                           count(*) AS orders
                    FROM orders GROUP BY customer_ref
                ),
                s AS (
                    SELECT customer_ref, max(coalesce(sent_at, planned_at)) AS last_at
                    FROM sends GROUP BY customer_ref
                ),
                a AS (
                    SELECT subject, max(at) AS last_at FROM audit_log
                    WHERE action = 'consent' AND subject LIKE 'customer #%' GROUP BY subject
                )
                SELECT c.id AS ref, c.customer_id,
                       coalesce(c.source_created_at, o.first_at, c.created_at) AS since,
                       o.last_at AS last_order_at, coalesce(o.orders, 0) AS orders
                FROM customers c
                LEFT JOIN o ON o.customer_ref = c.id
                LEFT JOIN s ON s.customer_ref = c.id
                LEFT JOIN a ON a.subject = 'customer #' || c.id
                LEFT JOIN suppressions p ON p.email = c.email
                WHERE c.customer_id NOT LIKE '{ERASED_PREFIX}%'
                  AND coalesce(c.source_created_at, o.first_at, c.created_at) < :cutoff
                  AND coalesce(o.last_at, '') < :cutoff
                  AND coalesce(s.last_at, '') < :cutoff
                  AND coalesce(a.last_at, '') < :cutoff
                  AND coalesce(p.created_at, '') < :cutoff
                ORDER BY max(coalesce(o.last_at, ''),
                             coalesce(c.source_created_at, o.first_at, c.created_at)), c.id
                """,
                {"cutoff": cutoff},
            )
        )

    # --- fairness --------------------------------------------------------------------------

    def customer_columns(self) -> list[str]:
        return [r[1] for r in self.conn.execute("SELECT * FROM pragma_table_info('customers')")]

    def fairness_counts(
        self,
        group_sql: str,
        *,
        offers: Sequence[str],
        since: str | None,
        until: str,
        converted: Collection[int],
        today: str,
    ) -> list[dict[str, Any]]:
        """Per group (``group_sql``: an SQL expression over ``c``, the customers row, made
        by :mod:`retain_cli.trust.fairness` from a checked column name; it may use
        ``:today``, YYYY-MM-DD): customers, contacted (a message sent), offered (a message
        of an ``offers`` campaign sent), held out, and converted (of the ``converted``
        customers), counting messages from ``since`` (or the beginning) to ``until``.
        Erased customers are left out."""
        return dicts(
            self.conn.execute(
                f"""
                WITH per AS (
                    SELECT customer_ref,
                           max(state = 'sent') AS contacted,
                           max(state = 'sent' AND campaign IN
                               (SELECT value FROM json_each(:offers))) AS offered,
                           max(state = 'held_out') AS held_out
                    FROM sends
                    WHERE coalesce(sent_at, planned_at) >= :since
                      AND coalesce(sent_at, planned_at) <= :until
                      AND state IN ('sent', 'held_out')
                    GROUP BY customer_ref
                )
                SELECT {group_sql} AS grp,
                       count(*) AS customers,
                       coalesce(sum(per.contacted), 0) AS contacted,
                       coalesce(sum(per.offered), 0) AS offered,
                       coalesce(sum(per.held_out), 0) AS held_out,
                       sum(c.id IN (SELECT value FROM json_each(:converted))) AS converted
                FROM customers c
                LEFT JOIN per ON per.customer_ref = c.id
                WHERE c.customer_id NOT LIKE '{ERASED_PREFIX}%'
                GROUP BY grp
                ORDER BY count(*) DESC, grp
                """,
                {
                    "offers": json.dumps(list(offers)),
                    "since": since or "",
                    "until": until,
                    "converted": _ids(converted),
                    "today": today,
                },
            )
        )

    def sent_times(self, since: str | None, until: str) -> tuple[list[int], list[int]]:
        """(customer_ref, unix seconds) of every message sent from ``since`` to ``until``
        (two JSON arrays in one row: far faster than a row per message)."""
        refs, times = self.conn.execute(
            "SELECT json_group_array(customer_ref), json_group_array(unixepoch(sent_at)) "
            "FROM sends WHERE state = 'sent' AND sent_at >= ? AND sent_at <= ?",
            (since or "", until),
        ).fetchone()
        return json.loads(refs), json.loads(times)

    # --- the doctor's database checks --------------------------------------------------------

    def writable(self) -> str | None:
        """None when a write transaction can start, else SQLite's reason."""
        import sqlite3

        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            return str(exc)
        self.conn.execute("ROLLBACK")
        return None

    def last_import(self, kinds: Sequence[str] = ("orders", "customers")) -> dict[str, Any] | None:
        rows = dicts(
            self.conn.execute(
                "SELECT id, kind, file_name, started_at, finished_at FROM imports "
                "WHERE finished_at IS NOT NULL AND kind IN (SELECT value FROM json_each(?)) "
                "ORDER BY finished_at DESC, id DESC LIMIT 1",
                (json.dumps(list(kinds)),),
            )
        )
        return rows[0] if rows else None
