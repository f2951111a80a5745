"""SQL for the owner's hand on sending (a mixin of :class:`retain_cli.store.Store`): the kill
switch (``send_pauses``), the approval queue (``approval_queue`` and the ledger's ``queued``
state), tags set in retain (``customer_tags``, e.g. ``human_only``), who is held out of every
automated campaign and why (:meth:`ControlStore.campaign_holds`), and small settings.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from retain_cli.store.base import StoreBase, dicts

HUMAN_ONLY = "human_only"
# survey scores at or below these are detractors (NPS 0-6) or unhappy (CSAT 1-2)
NEGATIVE_SCORE = {"nps": 6, "csat": 2}


class ControlStore(StoreBase):
    """Pauses, the approval queue, retain's own customer tags, holds and settings."""

    # --- the kill switch -----------------------------------------------------------------

    def pause_set(self, scope: str, reason: str | None, now: str) -> bool:
        """Pause ``scope`` (``*`` or a campaign); False when it was paused already."""
        cursor = self.conn.execute(
            "INSERT INTO send_pauses (scope, reason, paused_at) VALUES (?, ?, ?) "
            "ON CONFLICT(scope) DO NOTHING",
            (scope, reason, now),
        )
        return cursor.rowcount == 1

    def pause_clear(self, scopes: Sequence[str] | None) -> list[str]:
        """Lift the pauses named (None: every pause); returns the scopes lifted."""
        with self.transaction() as conn:
            if scopes is None:
                rows = conn.execute("SELECT scope FROM send_pauses ORDER BY scope").fetchall()
                conn.execute("DELETE FROM send_pauses")
            else:
                wanted = json.dumps(list(scopes))
                rows = conn.execute(
                    "SELECT scope FROM send_pauses WHERE scope IN (SELECT value FROM json_each(?))"
                    " ORDER BY scope",
                    (wanted,),
                ).fetchall()
                conn.execute(
                    "DELETE FROM send_pauses WHERE scope IN (SELECT value FROM json_each(?))",
                    (wanted,),
                )
        return [r[0] for r in rows]

    def pauses(self) -> list[dict[str, Any]]:
        return dicts(
            self.conn.execute(
                "SELECT scope, reason, paused_at FROM send_pauses ORDER BY scope = '*' DESC, scope"
            )
        )

    # --- the approval queue ---------------------------------------------------------------

    def queue_add(self, rows: Sequence[dict[str, Any]], now: str) -> int:
        """Queue rendered messages (send_key, campaign, customer_ref, email, subject,
        message) and move their ledger rows from planned to queued, in one transaction."""
        if not rows:
            return 0
        with self.transaction() as conn:
            added = 0
            for row in rows:
                moved = conn.execute(
                    "UPDATE sends SET state = 'queued', updated_at = ? "
                    "WHERE send_key = ? AND state = 'planned'",
                    (now, row["send_key"]),
                ).rowcount
                if not moved:
                    continue
                conn.execute(
                    "INSERT INTO approval_queue (send_key, campaign, customer_ref, email, "
                    "subject, message, state, queued_at) VALUES (:send_key, :campaign, "
                    ":customer_ref, :email, :subject, :message, 'pending', :now) "
                    "ON CONFLICT(send_key) DO UPDATE SET message = excluded.message, "
                    "subject = excluded.subject, email = excluded.email, state = 'pending', "
                    "queued_at = excluded.queued_at, decided_at = NULL, note = NULL",
                    {**row, "now": now},
                )
                added += 1
        return added

    def queue_list(self, state: str | None = "pending") -> list[dict[str, Any]]:
        sql = (
            "SELECT q.id, q.campaign, q.email, c.customer_id, q.subject, q.state, q.queued_at, "
            "q.decided_at, q.note, q.send_key FROM approval_queue q "
            "LEFT JOIN customers c ON c.id = q.customer_ref"
        )
        params: list[Any] = []
        if state is not None:
            sql += " WHERE q.state = ?"
            params.append(state)
        return dicts(self.conn.execute(sql + " ORDER BY q.id", params))

    def queue_get(self, queue_id: int) -> dict[str, Any] | None:
        rows = dicts(
            self.conn.execute(
                "SELECT q.id, q.campaign, q.email, c.customer_id, q.subject, q.state, "
                "q.queued_at, q.decided_at, q.note, q.send_key, q.message, s.state AS ledger "
                "FROM approval_queue q LEFT JOIN customers c ON c.id = q.customer_ref "
                "LEFT JOIN sends s ON s.send_key = q.send_key WHERE q.id = ?",
                (queue_id,),
            )
        )
        return rows[0] if rows else None

    def queue_decide(self, ids: Sequence[int], approve: bool, now: str, note: str | None) -> int:
        """Approve (the ledger row goes back to planned: the next send sends it) or reject
        (skipped, with the note) pending messages; returns how many were decided."""
        decided = 0
        with self.transaction() as conn:
            for queue_id in ids:
                row = conn.execute(
                    "SELECT send_key FROM approval_queue WHERE id = ? AND state = 'pending'",
                    (queue_id,),
                ).fetchone()
                if row is None:
                    continue
                conn.execute(
                    "UPDATE approval_queue SET state = ?, decided_at = ?, note = ? WHERE id = ?",
                    ("approved" if approve else "rejected", now, note, queue_id),
                )
                if approve:
                    conn.execute(
                        "UPDATE sends SET state = 'planned', updated_at = ? "
                        "WHERE send_key = ? AND state = 'queued'",
                        (now, row[0]),
                    )
                else:
                    conn.execute(
                        "UPDATE sends SET state = 'skipped', updated_at = ?, error = ? "
                        "WHERE send_key = ? AND state = 'queued'",
                        (
                            now,
                            "rejected in the approval queue" + (f": {note}" if note else ""),
                            row[0],
                        ),
                    )
                decided += 1
        return decided

    def queue_approved(self, send_keys: Iterable[str]) -> dict[str, bytes]:
        """send_key -> the approved message, for the keys that have one."""
        rows = self.conn.execute(
            "SELECT send_key, message FROM approval_queue WHERE state = 'approved' "
            "AND send_key IN (SELECT value FROM json_each(?))",
            (json.dumps(list(send_keys)),),
        )
        return {key: bytes(message) for key, message in rows}

    def queue_pending_ids(self, campaign: str | None = None) -> list[int]:
        sql = "SELECT id FROM approval_queue WHERE state = 'pending'"
        params: list[Any] = []
        if campaign is not None:
            sql += " AND campaign = ?"
            params.append(campaign)
        return [r[0] for r in self.conn.execute(sql + " ORDER BY id", params)]

    # --- retain's own tags, and holds -----------------------------------------------------

    def tag_add(self, customer_ref: int, tag: str, note: str | None, now: str) -> bool:
        cursor = self.conn.execute(
            "INSERT INTO customer_tags (customer_ref, tag, note, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (customer_ref, tag, note, now),
        )
        return cursor.rowcount == 1

    def tag_remove(self, customer_ref: int, tag: str) -> bool:
        cursor = self.conn.execute(
            "DELETE FROM customer_tags WHERE customer_ref = ? AND tag = ?", (customer_ref, tag)
        )
        return cursor.rowcount == 1

    def tags_of(self, customer_ref: int) -> list[dict[str, Any]]:
        return dicts(
            self.conn.execute(
                "SELECT tag, note, created_at FROM customer_tags WHERE customer_ref = ? "
                "ORDER BY tag",
                (customer_ref,),
            )
        )

    def platform_tagged(self, customer_ref: int, tag: str) -> bool:
        """Whether the shop platform's tags (``customers.tags``) hold ``tag``."""
        row = self.conn.execute(
            "SELECT ',' || lower(replace(coalesce(tags, ''), ' ', '')) || ',' LIKE ? "
            "FROM customers WHERE id = ?",
            (f"%,{tag},%", customer_ref),
        ).fetchone()
        return bool(row and row[0])

    def campaign_holds(self, refs: Sequence[int] | None = None) -> dict[int, str]:
        """customer_ref -> why an automated campaign must leave them out: a ``human_only``
        tag (set in retain or on the shop platform), or negative feedback the owner has not
        answered yet (an open detractor or negative-comment task, or a detractor's answer no
        task was made for yet). ``refs``: only these customers (None: everyone)."""
        wanted = None if refs is None else json.dumps(sorted(set(refs)))
        filter_sql = "" if wanted is None else " AND {col} IN (SELECT value FROM json_each(:refs))"
        holds: dict[int, str] = {}
        cursor = self.conn.execute(
            "SELECT t.customer_ref, 'retain' FROM customer_tags t WHERE t.tag = :tag"
            + filter_sql.format(col="t.customer_ref")
            + " UNION ALL SELECT c.id, 'the shop platform' FROM customers c "
            "WHERE c.tags IS NOT NULL AND ',' || lower(replace(c.tags, ' ', '')) || ',' "
            "LIKE '%,' || :tag || ',%'" + filter_sql.format(col="c.id"),
            {"tag": HUMAN_ONLY, "refs": wanted},
        )
        for ref, where in cursor:
            holds.setdefault(ref, f"human_only (tagged in {where}: you write to them yourself)")
        cursor = self.conn.execute(
            "SELECT t.customer_ref, t.id, t.kind FROM tasks t WHERE t.done_at IS NULL "
            "AND t.kind IN ('detractor', 'negative_comment') AND t.customer_ref IS NOT NULL"
            + filter_sql.format(col="t.customer_ref")
            + " UNION ALL SELECT r.customer_ref, NULL, r.kind FROM survey_responses r "
            "WHERE r.customer_ref IS NOT NULL AND ((r.kind = 'nps' AND r.score <= :nps) OR "
            "(r.kind = 'csat' AND r.score <= :csat)) AND NOT EXISTS (SELECT 1 FROM tasks t "
            "WHERE t.task_key = 'feedback:' || r.id)" + filter_sql.format(col="r.customer_ref"),
            {"refs": wanted, "nps": NEGATIVE_SCORE["nps"], "csat": NEGATIVE_SCORE["csat"]},
        )
        for ref, task_id, _kind in cursor:
            where = f"task {task_id}" if task_id is not None else "retain tasks"
            holds.setdefault(ref, f"negative feedback not answered yet ({where})")
        return holds

    # --- settings -------------------------------------------------------------------------

    def secret(self, name: str) -> bytes:
        """A random secret kept in the database (made on first use), e.g. for signing
        survey tokens."""
        row = self.conn.execute("SELECT value FROM retain_secrets WHERE name = ?", (name,))
        found = row.fetchone()
        if found is None:
            self.conn.execute(
                "INSERT INTO retain_secrets (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO NOTHING",
                (name, secrets.token_hex(32)),
            )
            found = self.conn.execute(
                "SELECT value FROM retain_secrets WHERE name = ?", (name,)
            ).fetchone()
        return bytes.fromhex(found[0])
