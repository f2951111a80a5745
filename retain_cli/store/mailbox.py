"""SQL for the mailbox (a mixin of :class:`retain_cli.store.Store`): what ``retain inbox``
read (``inbox_messages``), the opt-outs it made, and what it asks of the ledger.

A batch of messages is written in one transaction (:meth:`MailboxStore.inbox_record`), so a
run killed at any moment has recorded each message wholly or not at all; the mailbox marks a
message processed only after its batch is committed, and a message already recorded (by its
Message-ID) is never recorded twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from retain_cli.store.base import StoreBase, dicts
from retain_cli.timeutil import utc_now_iso

INBOX_COLUMNS = (
    "message_key",
    "message_id",
    "source",
    "received_at",
    "processed_at",
    "from_email",
    "subject",
    "classification",
    "reason",
    "email",
    "customer_ref",
    "campaign",
    "send_key",
    "action",
    "excerpt",
    "score",
)


class MailboxStore(StoreBase):
    """Queries and writes for ``retain inbox``."""

    def inbox_known(self, keys: Iterable[str]) -> set[str]:
        """The message keys already recorded."""
        rows = self.conn.execute(
            "SELECT message_key FROM inbox_messages "
            "WHERE message_key IN (SELECT value FROM json_each(?))",
            (json.dumps(list(keys)),),
        )
        return {r[0] for r in rows}

    def inbox_customers(self, emails: Iterable[str]) -> dict[str, int]:
        """address -> customers.id for the addresses that belong to a customer."""
        rows = self.conn.execute(
            "SELECT email, id FROM customers WHERE email IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(set(emails))),),
        )
        return dict(rows.fetchall())

    def inbox_sent_messages(self) -> list[tuple[str, str, str, int, str]]:
        """(message_id, send_key, campaign, customer_ref, email) of every message the ledger
        says went out (sent, or ambiguous with a Message-ID)."""
        rows = self.conn.execute(
            "SELECT message_id, send_key, campaign, customer_ref, email FROM sends "
            "WHERE message_id IS NOT NULL"
        )
        return rows.fetchall()

    def inbox_record(
        self,
        rows: Sequence[dict[str, Any]],
        suppressions: Sequence[tuple[str, str]],
        *,
        soft_bounce_limit: int,
    ) -> tuple[int, list[str]]:
        """Record a batch of classified messages and their opt-outs in one transaction.

        Soft bounces are counted per address over every message recorded; an address that
        reaches ``soft_bounce_limit`` is suppressed (reason: the count and the last report).
        Returns (messages recorded, addresses newly suppressed)."""
        if not rows:
            return 0, []
        now = utc_now_iso()
        newly: list[str] = []
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                f"INSERT OR IGNORE INTO inbox_messages ({', '.join(INBOX_COLUMNS)}) "
                f"VALUES ({', '.join(':' + c for c in INBOX_COLUMNS)})",
                rows,
            )
            recorded = conn.total_changes - before
            newly += self._suppress_many(suppressions, now)
            soft = sorted({r["email"] for r in rows if r["classification"] == "soft_bounce"})
            for email, count, reason in conn.execute(
                "SELECT email, count(*), "
                "  (SELECT reason FROM inbox_messages l WHERE l.email = i.email "
                "   AND l.classification = 'soft_bounce' ORDER BY l.id DESC LIMIT 1) "
                "FROM inbox_messages i WHERE classification = 'soft_bounce' "
                "AND email IN (SELECT value FROM json_each(?)) GROUP BY email HAVING count(*) >= ?",
                (json.dumps(soft), soft_bounce_limit),
            ).fetchall():
                text = f"{count} soft bounces, the last: {reason}"
                if self._suppress(email, text, now):
                    newly.append(email)
                    conn.execute(
                        "UPDATE inbox_messages SET action = 'suppressed' WHERE id = "
                        "(SELECT max(id) FROM inbox_messages WHERE email = ? "
                        "AND classification = 'soft_bounce')",
                        (email,),
                    )
        return recorded, newly

    def _suppress_many(self, suppressions: Sequence[tuple[str, str]], now: str) -> list[str]:
        """Opt these addresses out (the first reason given for each), in one statement; the
        addresses that were not suppressed before, in order."""
        first: dict[str, str] = {}
        for email, reason in suppressions:
            first.setdefault(email.strip().lower(), reason[:500])
        if not first:
            return []
        known = {
            r[0]
            for r in self.conn.execute(
                "SELECT email FROM suppressions WHERE email IN (SELECT value FROM json_each(?))",
                (json.dumps(list(first)),),
            )
        }
        new = [(email, reason, now) for email, reason in first.items() if email not in known]
        self.conn.executemany(
            "INSERT INTO suppressions (email, reason, source, created_at) "
            "VALUES (?, ?, 'inbox', ?) ON CONFLICT(email) DO NOTHING",
            new,
        )
        return [email for email, _, _ in new]

    def _suppress(self, email: str, reason: str, now: str) -> bool:
        cursor = self.conn.execute(
            "INSERT INTO suppressions (email, reason, source, created_at) "
            "VALUES (?, ?, 'inbox', ?) ON CONFLICT(email) DO NOTHING",
            (email.strip().lower(), reason[:500], now),
        )
        return cursor.rowcount == 1

    def inbox_run_started(self, source: str) -> int:
        """Record that a ``retain inbox`` run started; returns its id."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO inbox_runs (source, started_at) VALUES (?, ?)",
                (source, utc_now_iso()),
            )
        return int(cursor.lastrowid or 0)

    def inbox_run_ended(self, run_id: int, read: int, error: str | None) -> None:
        """Record how the run ended: the messages it read, and the error that stopped it."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE inbox_runs SET finished_at = ?, read = ?, error = ? WHERE id = ?",
                (utc_now_iso(), read, None if error is None else error[:500], run_id),
            )

    def inbox_last_runs(self) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(the latest run that read the mailbox, the latest run) as dicts, or None."""
        names = ("id", "source", "started_at", "finished_at", "read", "error")
        columns = ", ".join(names)
        ok = self.conn.execute(
            f"SELECT {columns} FROM inbox_runs WHERE finished_at IS NOT NULL AND error IS NULL "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
        last = self.conn.execute(
            f"SELECT {columns} FROM inbox_runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return (
            None if ok is None else dict(zip(names, ok, strict=True)),
            None if last is None else dict(zip(names, last, strict=True)),
        )

    def inbox_explain(self, email: str) -> dict[str, Any]:
        """The address's opt-out (if any), its customer, and every message about it."""
        address = email.strip().lower()
        suppression = self.conn.execute(
            "SELECT reason, source, created_at FROM suppressions WHERE email = ?", (address,)
        ).fetchone()
        customer = self.conn.execute(
            "SELECT customer_id FROM customers WHERE email = ?", (address,)
        ).fetchone()
        cursor = self.conn.execute(
            "SELECT processed_at, received_at, message_id, classification, action, reason, "
            "campaign, send_key, subject, from_email FROM inbox_messages "
            "WHERE email = ? OR from_email = ? ORDER BY id",
            (address, address),
        )
        names = [d[0] for d in cursor.description]
        return {
            "email": address,
            "customer_id": customer[0] if customer else None,
            "suppression": None
            if suppression is None
            else dict(zip(("reason", "source", "created_at"), suppression, strict=True)),
            "messages": [dict(zip(names, row, strict=True)) for row in cursor],
        }

    def inbox_messages(
        self, *, classification: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Recorded messages, newest first, with the customer's id (for later tasks too)."""
        sql = (
            "SELECT i.id, i.processed_at, i.received_at, i.message_id, i.from_email, "
            "i.subject, i.classification, i.action, i.reason, i.email, c.customer_id, "
            "i.campaign, i.send_key, i.excerpt, i.score FROM inbox_messages i "
            "LEFT JOIN customers c ON c.id = i.customer_ref"
        )
        params: list[Any] = []
        if classification is not None:
            sql += " WHERE i.classification = ?"
            params.append(classification)
        sql += " ORDER BY i.id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        cursor = self.conn.execute(sql, params)
        return dicts(cursor)
