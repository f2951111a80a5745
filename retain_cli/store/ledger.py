"""SQL for the send ledger (a mixin of :class:`retain_cli.store.Store`).

One row per (campaign, step, customer, occurrence) in ``sends``. Every state change is its own
short transaction, committed before the next step of the protocol happens: the audience is
recorded (``planned`` / ``held_out``), a message is ``claimed`` before it goes to the server,
and ``sent`` (with the server's reply) right after the reply. Rate limits, frequency caps and
reports are computed from the same table, so they hold across runs and campaigns.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retain_cli.store.base import StoreBase, dicts

STATES = (
    "planned",
    "claimed",
    "sent",
    "failed",
    "ambiguous",
    "held_out",
    "skipped",
    "queued",  # waiting for approval (retain queue)
)
SETTLED = ("sent", "failed", "ambiguous", "skipped")


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """A ledger row the dispatcher works on."""

    id: int
    send_key: str
    campaign: str
    step: int
    customer_ref: int
    occurrence: str
    email: str  # where it goes: the customer's current address
    state: str
    attempts: int
    planned_email: str | None = None  # the address when it was planned, if different
    variant: str | None = None  # the A/B variant it sends (None: the campaign's own message)
    coupon_ref: int | None = None  # the coupon code it carries (given at its first claim)
    coupon_code: str | None = None

    @property
    def readdressed(self) -> bool:
        return self.planned_email is not None and self.planned_email != self.email


@dataclass(frozen=True, slots=True)
class Settle:
    """An outcome to record for a row (see :meth:`LedgerStore.ledger_settle`)."""

    send_id: int
    state: str
    now: str
    error: str | None = None
    reply: str | None = None
    message_id: str | None = None
    extra_attempts: int = 0


_ADVANCE_SQL = """
UPDATE sends SET
    state = CASE WHEN id = :claim THEN 'claimed' ELSE :state END,
    attempts = attempts + CASE WHEN id = :claim THEN 1 ELSE :extra END,
    claimed_at = CASE WHEN id = :claim THEN :now ELSE claimed_at END,{coupon}
    error = CASE WHEN id = :claim THEN error ELSE :error END,
    reply = CASE WHEN id = :claim THEN reply ELSE coalesce(:reply, reply) END,
    message_id = CASE WHEN id = :claim THEN message_id ELSE coalesce(:message_id, message_id) END,
    sent_at = CASE WHEN id != :claim AND :state = 'sent' THEN :settled_at ELSE sent_at END,
    updated_at = :now
WHERE (id = :claim AND state = 'planned'{guard}) OR id = :settle
"""
#: the previous message's outcome and the next claim (:meth:`LedgerStore.ledger_advance`)
_ADVANCE = _ADVANCE_SQL.format(coupon="", guard="")
#: the same, the claimed message carrying a coupon code (kept if the row has it already)
_ADVANCE_COUPON = _ADVANCE_SQL.format(
    coupon="\n    coupon_ref = CASE WHEN id = :claim THEN :coupon ELSE coupon_ref END,",
    guard=" AND (coupon_ref IS NULL OR coupon_ref = :coupon)",
)


def _ids(values: Iterable[int]) -> str:
    return json.dumps(list(values))


def _only(refs: Sequence[int] | None) -> str:
    """The clause that keeps a ledger query to some customers (none: all of them)."""
    return "" if refs is None else "AND customer_ref IN (SELECT value FROM json_each(?))"


def _refs(refs: Sequence[int] | None) -> tuple[str, ...]:
    return () if refs is None else (_ids(refs),)


class LedgerStore(StoreBase):
    """Queries and writes for the send ledger."""

    # --- recording the audience ----------------------------------------------------------

    def ledger_record(self, rows: Sequence[dict[str, Any]], now: str) -> int:
        """Insert planned / held_out rows; rows whose key exists are left alone. Returns new."""
        if not rows:
            return 0
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO sends (send_key, campaign, step, customer_ref, "
                "occurrence, email, state, variant, planned_at, updated_at) "
                "VALUES (:send_key, :campaign, :step, :customer_ref, :occurrence, :email, "
                ":state, :variant, :now, :now)",
                [{"variant": None, **row, "now": now} for row in rows],
            )
            return conn.total_changes - before

    def ledger_states(self, campaigns: Sequence[str]) -> dict[str, str]:
        """send_key -> state for every row of these campaigns."""
        rows = self.conn.execute(
            "SELECT send_key, state FROM sends WHERE campaign IN (SELECT value FROM json_each(?))",
            (json.dumps(list(campaigns)),),
        )
        return dict(rows.fetchall())

    def ledger_history(
        self, campaign: str, refs: Sequence[int] | None = None
    ) -> dict[int, dict[str, Any]]:
        """Per customer_ref for one campaign (or only these customers): last time something
        was sent or held out, and whether they are in the holdout."""
        rows = self.conn.execute(
            "SELECT customer_ref, max(coalesce(sent_at, "
            "  CASE WHEN state IN ('planned', 'claimed', 'ambiguous', 'held_out', 'queued') "
            "  THEN planned_at END)), max(state = 'held_out') "
            f"FROM sends WHERE campaign = ? {_only(refs)} GROUP BY customer_ref",
            (campaign, *_refs(refs)),
        )
        return {ref: {"last": last, "held_out": bool(held)} for ref, last, held in rows}

    def ledger_step_states(
        self, campaign: str, step: int, refs: Sequence[int] | None = None
    ) -> dict[tuple[int, str], str]:
        """(customer_ref, occurrence) -> state for one step of a campaign (or only these
        customers)."""
        rows = self.conn.execute(
            "SELECT customer_ref, occurrence, state, sent_at FROM sends "
            f"WHERE campaign = ? AND step = ? {_only(refs)}",
            (campaign, step, *_refs(refs)),
        )
        return {(ref, occ): state for ref, occ, state, _ in rows}

    def ledger_step_sent_at(
        self, campaign: str, step: int, refs: Sequence[int] | None = None
    ) -> dict[tuple[int, str], str]:
        """(customer_ref, occurrence) -> sent_at for the sent rows of one step (or only these
        customers')."""
        rows = self.conn.execute(
            "SELECT customer_ref, occurrence, sent_at FROM sends "
            f"WHERE campaign = ? AND step = ? AND state = 'sent' {_only(refs)}",
            (campaign, step, *_refs(refs)),
        )
        return {(ref, occ): sent_at for ref, occ, sent_at in rows}

    def ledger_step_variants(
        self, campaign: str, step: int, refs: Sequence[int] | None = None
    ) -> dict[tuple[int, str], str]:
        """(customer_ref, occurrence) -> the A/B variant recorded for one step of a campaign
        (or only these customers'), where one was."""
        rows = self.conn.execute(
            "SELECT customer_ref, occurrence, variant FROM sends "
            f"WHERE campaign = ? AND step = ? AND variant IS NOT NULL {_only(refs)}",
            (campaign, step, *_refs(refs)),
        )
        return {(ref, occ): variant for ref, occ, variant in rows}

    def ledger_last_sent_all(self, since: str) -> dict[int, str]:
        """customer_ref -> latest sent_at at or after ``since`` (for the frequency cap)."""
        rows = self.conn.execute(
            "SELECT customer_ref, max(sent_at) FROM sends WHERE sent_at >= ? GROUP BY customer_ref",
            (since,),
        )
        return dict(rows.fetchall())

    def ledger_last_sent(self, refs: Sequence[int], since: str) -> dict[int, str]:
        """customer_ref -> latest sent_at at or after ``since``, for these customers."""
        rows = self.conn.execute(
            "SELECT customer_ref, max(sent_at) FROM sends WHERE sent_at >= ? "
            "AND customer_ref IN (SELECT value FROM json_each(?)) GROUP BY customer_ref",
            (since, _ids(refs)),
        )
        return dict(rows.fetchall())

    # --- the dispatcher's protocol -------------------------------------------------------

    def ledger_recover_claimed(self, now: str) -> int:
        """Rows left ``claimed`` by a run that died: outcome unknown -> ambiguous."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE sends SET state = 'ambiguous', updated_at = ?, error = "
                "'outcome unknown: the run sending it stopped (killed or crashed) after "
                "claiming it; check the mailbox, then retain sends resolve' "
                "WHERE state = 'claimed'",
                (now,),
            )
            return cursor.rowcount

    def ledger_pending(self, campaigns: Sequence[str]) -> list[LedgerRow]:
        """Planned rows of these campaigns, oldest first, addressed to the customer's current
        address (``planned_email``: the one at planning time)."""
        rows = self.conn.execute(
            "SELECT s.id, s.send_key, s.campaign, s.step, s.customer_ref, s.occurrence, "
            "coalesce(c.email, s.email), s.state, s.attempts, s.email, s.variant, "
            "s.coupon_ref, k.code FROM sends s JOIN customers c ON c.id = s.customer_ref "
            "LEFT JOIN coupon_codes k ON k.id = s.coupon_ref WHERE s.state = 'planned' "
            "AND s.campaign IN (SELECT value FROM json_each(?)) ORDER BY s.id",
            (json.dumps(list(campaigns)),),
        )
        return [LedgerRow(*row) for row in rows]

    def ledger_skip(self, reasons: Sequence[tuple[str, str]], now: str) -> int:
        """Planned rows (by send key) that will not be sent: skipped, with the reason."""
        with self.transaction() as conn:
            before = conn.total_changes
            conn.executemany(
                "UPDATE sends SET state = 'skipped', error = ?, updated_at = ? "
                "WHERE send_key = ? AND state = 'planned'",
                [(reason, now, key) for key, reason in reasons],
            )
            return conn.total_changes - before

    def ledger_readdress(self, send_id: int, email: str) -> None:
        """Record the address a planned message goes to (the customer's current one)."""
        self.conn.execute("UPDATE sends SET email = ? WHERE id = ?", (email, send_id))

    def ledger_pending_counts(self, campaigns: Sequence[str]) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT campaign, count(*) FROM sends WHERE state = 'planned' "
            "AND campaign IN (SELECT value FROM json_each(?)) GROUP BY campaign",
            (json.dumps(list(campaigns)),),
        )
        return dict(rows.fetchall())

    def ledger_pending_rows(
        self, campaigns: Sequence[str], refs: Sequence[int] | None = None
    ) -> list[dict[str, Any]]:
        """Planned rows with the customer's id and current address, for a plan (of these
        customers only, when ``refs`` is given)."""
        only = "" if refs is None else "AND s.customer_ref IN (SELECT value FROM json_each(?))"
        rows = self.conn.execute(
            "SELECT s.send_key, s.campaign, s.step, s.customer_ref, c.customer_id, "
            "coalesce(c.email, s.email) AS email, s.occurrence, s.planned_at, s.variant "
            "FROM sends s JOIN customers c ON c.id = s.customer_ref "
            f"WHERE s.state = 'planned' AND s.campaign IN (SELECT value FROM json_each(?)) {only} "
            "ORDER BY s.id",
            (json.dumps(list(campaigns)), *_refs(refs)),
        )
        return dicts(rows)

    @contextmanager
    def ledger_sending(self, pages: int = 10_000) -> Iterator[None]:
        """While a run sends: move the WAL into the database file every ``pages`` pages
        instead of every 1,000 (a checkpoint flushes the file to disk, which costs more than
        a hundred ledger writes); one checkpoint at the end. Commits stay as durable."""
        (before,) = self.conn.execute("PRAGMA wal_autocheckpoint").fetchone()
        self.conn.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")
        try:
            yield
        finally:
            self.conn.execute(f"PRAGMA wal_autocheckpoint={int(before)}")
            with suppress(sqlite3.OperationalError):  # busy: the next writer checkpoints
                self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def ledger_claim(self, send_id: int, now: str) -> bool:
        """planned -> claimed, committed before anything goes to the server."""
        cursor = self.conn.execute(
            "UPDATE sends SET state = 'claimed', attempts = attempts + 1, claimed_at = ?, "
            "updated_at = ? WHERE id = ? AND state = 'planned'",
            (now, now, send_id),
        )
        return cursor.rowcount == 1

    def ledger_settle(
        self,
        send_id: int,
        state: str,
        now: str,
        *,
        error: str | None = None,
        reply: str | None = None,
        message_id: str | None = None,
        extra_attempts: int = 0,
    ) -> None:
        """claimed (or planned) -> sent | failed | ambiguous | skipped | planned (released)."""
        if state not in STATES:
            raise ValueError(state)
        self.conn.execute(
            "UPDATE sends SET state = ?, error = ?, reply = coalesce(?, reply), "
            "message_id = coalesce(?, message_id), "
            "sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END, "
            "attempts = attempts + ?, updated_at = ? WHERE id = ?",
            (state, error, reply, message_id, state, now, extra_attempts, now, send_id),
        )

    def ledger_advance(
        self, settle: Settle | None, claim_id: int | None, now: str, coupon: int | None = None
    ) -> bool:
        """One statement, so one commit: record the previous message's outcome (if any) and
        claim the next one (planned -> claimed), with the coupon code its message carries
        (``coupon``: written with the claim; a row that carries another code already is not
        claimed). False when that row is no longer planned."""
        if settle is not None and settle.state not in STATES:
            raise ValueError(settle.state)
        values = {
            "claim": -1 if claim_id is None else claim_id,
            "settle": -1 if settle is None else settle.send_id,
            "state": settle.state if settle else None,
            "extra": settle.extra_attempts if settle else 0,
            "error": settle.error if settle else None,
            "reply": settle.reply if settle else None,
            "message_id": settle.message_id if settle else None,
            "settled_at": settle.now if settle else None,
            "now": now,
        }
        try:
            if coupon is None:  # sends without a code never touch the index on coupon_ref
                cursor = self.conn.execute(_ADVANCE, values)
            else:
                cursor = self.conn.execute(_ADVANCE_COUPON, {**values, "coupon": coupon})
        except sqlite3.IntegrityError:
            # the code is another message's already (never by retain's own doing): record
            # the previous outcome alone; the caller does not send this message
            if settle is not None:
                self.ledger_advance(settle, None, now)
            return False
        return cursor.rowcount == (settle is not None) + (claim_id is not None)

    def ledger_sent_since(self, since: str) -> list[str]:
        """sent_at of every message sent at or after ``since`` (all campaigns), oldest first."""
        rows = self.conn.execute(
            "SELECT sent_at FROM sends WHERE sent_at >= ? ORDER BY sent_at", (since,)
        )
        return [r[0] for r in rows]

    def ledger_count_sent_since(self, since: str) -> int:
        row = self.conn.execute("SELECT count(*) FROM sends WHERE sent_at >= ?", (since,))
        return int(row.fetchone()[0])

    def mailability(self, rows: Sequence[tuple[int, str]]) -> dict[int, tuple[bool, bool, bool]]:
        """For (customer_ref, ledger email) pairs: customer_ref -> (has an e-mail address,
        accepts marketing, suppressed: the current or the planned address).

        The first three are ``customer_consent``'s parts (all true = consent); the planned
        address is looked up too, since the customer's address may have changed since."""
        cursor = self.conn.execute(
            "SELECT v.customer_ref, v.has_email, v.marketing, v.suppressed OR "
            "  EXISTS (SELECT 1 FROM suppressions s WHERE s.email = json_extract(r.value, '$[1]')) "
            "FROM json_each(?) r "
            "JOIN customer_consent v ON v.customer_ref = json_extract(r.value, '$[0]')",
            (json.dumps([list(row) for row in rows]),),
        )
        return {ref: (bool(has), bool(ok), bool(sup)) for ref, has, ok, sup in cursor}

    def rehearsal_copy(self, path: Path) -> Any:
        """A copy of the whole database at ``path`` (SQLite's online backup), opened as a
        store of the same kind: ``retain simulate`` sends its nights there."""
        from retain_cli.store.base import create_private

        create_private(path)  # a copy of the customers: private as the original
        target = sqlite3.connect(path)
        try:
            self.conn.backup(target)
        finally:
            target.close()
        return type(self).open(path)

    # --- listing and settling by hand ------------------------------------------------------

    def ledger_list(
        self,
        *,
        campaign: str | None = None,
        state: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Ledger rows, newest first, with the customer's id."""
        sql = (
            "SELECT s.campaign, s.step, c.customer_id, s.email, s.state, s.attempts, "
            "s.error, s.planned_at, s.sent_at, s.send_key AS key, s.message_id, s.reply, "
            "s.variant "
            "FROM sends s JOIN customers c ON c.id = s.customer_ref WHERE 1 = 1"
        )
        params: list[Any] = []
        if campaign is not None:
            sql += " AND s.campaign = ?"
            params.append(campaign)
        if state is not None:
            sql += " AND s.state = ?"
            params.append(state)
        sql += " ORDER BY s.id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        cursor = self.conn.execute(sql, params)
        return dicts(cursor)

    def ledger_find(
        self,
        *,
        key: str | None = None,
        campaign: str | None = None,
        states: Sequence[str] = ("ambiguous",),
    ) -> list[LedgerRow]:
        sql = (
            "SELECT id, send_key, campaign, step, customer_ref, occurrence, email, state, "
            "attempts, NULL, variant FROM sends WHERE state IN (SELECT value FROM json_each(?))"
        )
        params: list[Any] = [json.dumps(list(states))]
        if key is not None:
            sql += " AND send_key = ?"
            params.append(key)
        if campaign is not None:
            sql += " AND campaign = ?"
            params.append(campaign)
        return [LedgerRow(*row) for row in self.conn.execute(sql + " ORDER BY id", params)]

    def ledger_key_state(self, key: str) -> str | None:
        row = self.conn.execute("SELECT state FROM sends WHERE send_key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def ledger_resolve(self, ids: Sequence[int], state: str, now: str, note: str) -> int:
        """Settle rows by hand: sent (sent_at = now if unknown), failed, or planned (retry)."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE sends SET state = ?, error = ?, updated_at = ?, "
                "sent_at = CASE WHEN ? = 'sent' THEN coalesce(sent_at, claimed_at, ?) "
                "ELSE NULL END "
                "WHERE id IN (SELECT value FROM json_each(?))",
                (state, note, now, state, now, _ids(ids)),
            )
            return cursor.rowcount

    # --- triggers --------------------------------------------------------------------------

    def customer_events(self, refs: Sequence[int], as_of: str) -> dict[int, dict[str, str | None]]:
        """customer_ref -> first_order / last_order (UTC timestamps of the orders placed and
        not cancelled up to ``as_of``, even one refunded in full, which the planner leaves
        out with its reason), birthday, signup (a timestamp, or a day).

        signup: when the platform says the customer signed up; else, for customers retain
        first saw in a later import than the database's first one, when that import brought
        them in (the first import is a baseline: importing a shop must not "welcome" everyone).
        The caller turns timestamps into days in the shop's time zone."""
        cursor = self.conn.execute(
            """
            SELECT c.id, f.first_at, f.last_at, c.birthday,
                   CASE
                     WHEN c.source_created_at IS NOT NULL THEN c.source_created_at
                     WHEN c.created_at > (SELECT min(coalesce(finished_at, started_at))
                                          FROM imports)
                     THEN c.created_at
                   END
            FROM customers c
            LEFT JOIN (
                -- every order placed and not cancelled, even one refunded in full: the
                -- planner leaves such a trigger out and says why (order_facts drops it)
                SELECT customer_ref, min(ordered_at) AS first_at, max(ordered_at) AS last_at
                FROM orders
                WHERE cancelled_at IS NULL AND ordered_at <= :as_of
                  AND customer_ref IN (SELECT value FROM json_each(:refs))
                GROUP BY customer_ref
            ) f ON f.customer_ref = c.id
            WHERE c.id IN (SELECT value FROM json_each(:refs))
            """,
            {"refs": _ids(refs), "as_of": as_of},
        )
        return {
            ref: {"first_order": first, "last_order": last, "birthday": bday, "signup": signup}
            for ref, first, last, bday, signup in cursor
        }

    def ledger_night_counts(self, since: str) -> list[dict[str, Any]]:
        """Per campaign, what happened at or after ``since``: sent, skipped, held out; and
        what is still waiting (planned) now. For ``retain simulate``."""
        cursor = self.conn.execute(
            """
            SELECT campaign,
                   sum(state = 'sent' AND sent_at >= :since) AS sent,
                   sum(state = 'skipped' AND updated_at >= :since) AS skipped,
                   sum(state = 'held_out' AND planned_at >= :since) AS held_out,
                   sum(state = 'planned') AS waiting,
                   sum(state IN ('failed', 'ambiguous') AND updated_at >= :since) AS failed
            FROM sends
            WHERE state = 'planned' OR updated_at >= :since
            GROUP BY campaign ORDER BY campaign
            """,
            {"since": since},
        )
        return dicts(cursor)
