"""SQL for the owner's to-do list (a mixin of :class:`retain_cli.store.Store`): ``tasks``, and
what the rules that make them read (customer replies, negative feedback, failed sends).

A task is made once: ``task_key`` names what made it, and :meth:`TaskStore.tasks_add` leaves
a key that exists alone, so a rule run twice changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from retain_cli.store.base import StoreBase, dicts

TASK_COLUMNS = (
    "task_key",
    "kind",
    "customer_ref",
    "email",
    "title",
    "detail",
    "action",
    "source",
    "created_at",
    "due_at",
)
_SELECT = (
    "SELECT t.id, t.kind, t.title, t.detail, t.action, t.source, t.email, t.customer_ref, "
    "c.customer_id, trim(coalesce(c.first_name, '') || ' ' || coalesce(c.last_name, '')) "
    "AS name, coalesce(c.email, t.email) AS customer_email, t.created_at, t.due_at, "
    "t.snoozed_until, t.done_at, t.note, t.task_key FROM tasks t "
    "LEFT JOIN customers c ON c.id = t.customer_ref"
)


class TaskStore(StoreBase):
    """Queries and writes for ``retain tasks`` and the rules that make tasks."""

    def tasks_add(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Insert tasks (dicts with :data:`TASK_COLUMNS`); a key that exists is left alone.
        Returns the ids of the tasks made now."""
        made: list[int] = []
        if not rows:
            return made
        with self.transaction() as conn:
            for row in rows:
                cursor = conn.execute(
                    f"INSERT OR IGNORE INTO tasks ({', '.join(TASK_COLUMNS)}) "
                    f"VALUES ({', '.join(':' + c for c in TASK_COLUMNS)})",
                    {c: row.get(c) for c in TASK_COLUMNS},
                )
                if cursor.rowcount == 1 and cursor.lastrowid is not None:
                    made.append(int(cursor.lastrowid))
        return made

    def tasks_list(
        self,
        now: str,
        *,
        done: bool = False,
        snoozed: bool = False,
        kind: str | None = None,
        customer_ref: int | None = None,
    ) -> list[dict[str, Any]]:
        """Open tasks (``done``: the done ones too; ``snoozed``: the snoozed ones too), the
        earliest due first."""
        sql = _SELECT + " WHERE 1 = 1"
        params: list[Any] = []
        if not done:
            sql += " AND t.done_at IS NULL"
        if not snoozed:
            sql += " AND (t.snoozed_until IS NULL OR t.snoozed_until <= ?)"
            params.append(now)
        if kind is not None:
            sql += " AND t.kind = ?"
            params.append(kind)
        if customer_ref is not None:
            sql += " AND t.customer_ref = ?"
            params.append(customer_ref)
        sql += " ORDER BY t.done_at IS NOT NULL, t.due_at, t.id"
        return dicts(self.conn.execute(sql, params))

    def task_get(self, task_id: int) -> dict[str, Any] | None:
        rows = dicts(self.conn.execute(_SELECT + " WHERE t.id = ?", (task_id,)))
        return rows[0] if rows else None

    def task_done(self, task_id: int, now: str, note: str | None) -> None:
        """Mark a task done (with the owner's note); a reply's message is marked handled."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE tasks SET done_at = ?, note = coalesce(?, note), snoozed_until = NULL "
                "WHERE id = ?",
                (now, note, task_id),
            )
            conn.execute(
                "UPDATE inbox_messages SET handled_at = ? WHERE handled_at IS NULL AND "
                "'reply:' || id = (SELECT task_key FROM tasks WHERE id = ?)",
                (now, task_id),
            )

    def task_reopen(self, task_id: int) -> None:
        self.conn.execute("UPDATE tasks SET done_at = NULL WHERE id = ?", (task_id,))

    def task_snooze(self, task_id: int, until: str) -> None:
        self.conn.execute("UPDATE tasks SET snoozed_until = ? WHERE id = ?", (until, task_id))

    def task_counts(self, now: str, day_end: str) -> dict[str, int]:
        """Open tasks: all, overdue (due before now), due by ``day_end``, snoozed."""
        row = self.conn.execute(
            "SELECT count(*), coalesce(sum(due_at < :now AND awake), 0), "
            "coalesce(sum(due_at <= :end AND awake), 0), coalesce(sum(NOT awake), 0) "
            "FROM (SELECT due_at, (snoozed_until IS NULL OR snoozed_until <= :now) AS awake "
            "FROM tasks WHERE done_at IS NULL)",
            {"now": now, "end": day_end},
        ).fetchone()
        return {"open": row[0], "overdue": row[1], "due_today": row[2], "snoozed": row[3]}

    def tasks_made_since(self, since: str) -> list[dict[str, Any]]:
        return dicts(
            self.conn.execute(_SELECT + " WHERE t.created_at >= ? ORDER BY t.id", (since,))
        )

    # --- what the rules read ------------------------------------------------------------

    def task_new_replies(self) -> list[dict[str, Any]]:
        """Customer replies recorded by ``retain inbox`` without a task yet."""
        return dicts(
            self.conn.execute(
                "SELECT i.id, i.customer_ref, i.from_email, i.subject, i.excerpt, i.campaign, "
                "coalesce(i.received_at, i.processed_at) AS received_at, i.handled_at "
                "FROM inbox_messages i WHERE i.classification = 'reply' "
                "AND i.customer_ref IS NOT NULL AND NOT EXISTS "
                "(SELECT 1 FROM tasks t WHERE t.task_key = 'reply:' || i.id) ORDER BY i.id"
            )
        )

    def task_new_feedback(self) -> list[dict[str, Any]]:
        """Survey answers without a task yet (the rules decide which are negative)."""
        return dicts(
            self.conn.execute(
                "SELECT r.id, r.customer_ref, r.email, r.campaign, r.kind, r.score, r.comment, "
                "r.answered_at, r.sentiment, r.language, r.scored FROM survey_responses r "
                "WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.task_key = 'feedback:' || r.id)"
                " ORDER BY r.id"
            )
        )

    def task_new_send_problems(self, since: str) -> list[dict[str, Any]]:
        """Failed and ambiguous sends updated at or after ``since``, without a task yet."""
        return dicts(
            self.conn.execute(
                "SELECT s.send_key, s.campaign, s.step, s.customer_ref, s.email, s.state, "
                "s.error, s.updated_at FROM sends s "
                "WHERE s.state IN ('failed', 'ambiguous') AND s.updated_at >= ? "
                "AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.task_key = 'send:' || s.send_key)"
                " ORDER BY s.id",
                (since,),
            )
        )

    def task_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of these task keys exist."""
        rows = self.conn.execute(
            "SELECT task_key FROM tasks WHERE task_key IN (SELECT value FROM json_each(?))",
            (json.dumps(list(keys)),),
        )
        return {r[0] for r in rows}

    def task_customer_messages(self, customer_ref: int, limit: int = 3) -> list[dict[str, Any]]:
        """What the customer wrote lately (replies and survey answers), newest first."""
        return dicts(
            self.conn.execute(
                "SELECT coalesce(received_at, processed_at) AS at, classification, subject, "
                "excerpt, score FROM inbox_messages WHERE customer_ref = ? "
                "AND classification IN ('reply', 'survey_answer') ORDER BY id DESC LIMIT ?",
                (customer_ref, limit),
            )
        )

    def customer_refs_by_id(self, customer_ids: Sequence[str]) -> dict[str, int]:
        """customer_id -> customers.id for the ids that exist."""
        rows = self.conn.execute(
            "SELECT customer_id, id FROM customers "
            "WHERE customer_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(customer_ids)),),
        )
        return dict(rows.fetchall())

    def digest_counts(self, since: str) -> dict[str, int]:
        """What happened at or after ``since``: messages sent, failed, ambiguous; mail read
        by ``retain inbox`` by kind; survey answers; messages waiting for approval."""
        sends = self.conn.execute(
            "SELECT coalesce(sum(state = 'sent' AND sent_at >= :since), 0), "
            "coalesce(sum(state = 'failed' AND updated_at >= :since), 0), "
            "coalesce(sum(state = 'ambiguous' AND updated_at >= :since), 0) FROM sends "
            "WHERE updated_at >= :since OR sent_at >= :since",
            {"since": since},
        ).fetchone()
        out = {"sent": sends[0], "failed": sends[1], "ambiguous": sends[2]}
        for name, count in self.conn.execute(
            "SELECT classification, count(*) FROM inbox_messages WHERE processed_at >= ? "
            "GROUP BY classification",
            (since,),
        ):
            out[f"inbox_{name}"] = count
        out["inbox_customer_reply"] = self.conn.execute(
            "SELECT count(*) FROM inbox_messages WHERE processed_at >= ? "
            "AND classification = 'reply' AND customer_ref IS NOT NULL",
            (since,),
        ).fetchone()[0]
        out["answers"] = self.conn.execute(
            "SELECT count(*) FROM survey_responses WHERE recorded_at >= ?", (since,)
        ).fetchone()[0]
        out["waiting_for_approval"] = self.conn.execute(
            "SELECT count(*) FROM approval_queue WHERE state = 'pending'"
        ).fetchone()[0]
        return out
