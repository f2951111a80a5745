"""SQL for surveys (a mixin of :class:`retain_cli.store.Store`): the answers
(``survey_responses``, one per survey message), the survey messages they answer, and what the
survey-fatigue rule reads from the ledger."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from retain_cli.store.base import StoreBase, dicts

RESPONSE_COLUMNS = (
    "send_key",
    "campaign",
    "customer_ref",
    "email",
    "kind",
    "score",
    "comment",
    "answered_at",
    "source",
    "recorded_at",
)


class FeedbackStore(StoreBase):
    """Queries and writes for survey answers."""

    def survey_record(self, rows: Sequence[dict[str, Any]]) -> tuple[int, int]:
        """Record answers (dicts with :data:`RESPONSE_COLUMNS`), one per send key: a later
        answer replaces an earlier one, the same answer again changes nothing. Returns
        (new, replaced)."""
        new = replaced = 0
        if not rows:
            return new, replaced
        with self.transaction() as conn:
            for row in rows:
                values = {c: row.get(c) for c in RESPONSE_COLUMNS}
                old = conn.execute(
                    "SELECT answered_at, score, coalesce(comment, '') FROM survey_responses "
                    "WHERE send_key = ?",
                    (row["send_key"],),
                ).fetchone()
                if old is None:
                    conn.execute(
                        f"INSERT INTO survey_responses ({', '.join(RESPONSE_COLUMNS)}) "
                        f"VALUES ({', '.join(':' + c for c in RESPONSE_COLUMNS)})",
                        values,
                    )
                    new += 1
                elif old[0] < row["answered_at"] and (old[1], old[2]) != (
                    row["score"],
                    row.get("comment") or "",
                ):
                    conn.execute(
                        "UPDATE survey_responses SET score = :score, comment = :comment, "
                        "answered_at = :answered_at, source = :source, recorded_at = "
                        ":recorded_at, language = NULL, sentiment = NULL, scored = 0 "
                        "WHERE send_key = :send_key",
                        values,
                    )
                    replaced += 1
        return new, replaced

    def survey_sent(self, campaigns: Sequence[str]) -> list[dict[str, Any]]:
        """The survey messages that went out (sent), with their customer."""
        return dicts(
            self.conn.execute(
                "SELECT s.send_key, s.campaign, s.customer_ref, s.email, s.sent_at "
                "FROM sends s WHERE s.state = 'sent' "
                "AND s.campaign IN (SELECT value FROM json_each(?)) ORDER BY s.id",
                (json.dumps(list(campaigns)),),
            )
        )

    def survey_latest_sent(
        self, customer_ref: int, campaigns: Sequence[str], since: str
    ) -> tuple[str, str, str] | None:
        """(message_id, send_key, campaign) of the customer's latest survey message sent at
        or after ``since``."""
        row = self.conn.execute(
            "SELECT message_id, send_key, campaign FROM sends WHERE customer_ref = ? "
            "AND state = 'sent' AND sent_at >= ? AND message_id IS NOT NULL "
            "AND campaign IN (SELECT value FROM json_each(?)) ORDER BY sent_at DESC LIMIT 1",
            (customer_ref, since, json.dumps(list(campaigns))),
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def survey_last_asked(self, campaigns: Sequence[str]) -> dict[int, str]:
        """customer_ref -> when they were last sent (or planned, queued) a survey of any of
        these campaigns: what the survey-fatigue rule counts from."""
        rows = self.conn.execute(
            "SELECT customer_ref, max(coalesce(sent_at, planned_at)) FROM sends "
            "WHERE state IN ('sent', 'planned', 'claimed', 'queued', 'ambiguous') "
            "AND campaign IN (SELECT value FROM json_each(?)) GROUP BY customer_ref",
            (json.dumps(list(campaigns)),),
        )
        return dict(rows.fetchall())

    def survey_unsynced_inbox(self) -> list[dict[str, Any]]:
        """Survey answers ``retain inbox`` recorded that are not answers yet."""
        return dicts(
            self.conn.execute(
                "SELECT i.message_key, i.customer_ref, i.email, i.campaign, i.send_key, "
                "i.score, i.excerpt, coalesce(i.received_at, i.processed_at) AS answered_at "
                "FROM inbox_messages i WHERE i.classification = 'survey_answer' "
                "AND i.send_key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM survey_responses r "
                "WHERE r.send_key = i.send_key AND r.answered_at >= "
                "coalesce(i.received_at, i.processed_at)) ORDER BY i.id"
            )
        )

    def survey_responses(
        self, *, since: str | None = None, until: str | None = None, kind: str | None = None
    ) -> list[dict[str, Any]]:
        """Answers (oldest first) with the customer's id."""
        sql = (
            "SELECT r.id, r.send_key, r.campaign, r.customer_ref, c.customer_id, "
            "coalesce(c.email, r.email) AS email, r.kind, r.score, r.comment, r.answered_at, "
            "r.source, r.language, r.sentiment, r.scored FROM survey_responses r "
            "LEFT JOIN customers c ON c.id = r.customer_ref WHERE 1 = 1"
        )
        params: list[Any] = []
        for clause, value in (
            (" AND r.answered_at >= ?", since),
            (" AND r.answered_at <= ?", until),
            (" AND r.kind = ?", kind),
        ):
            if value is not None:
                sql += clause
                params.append(value)
        return dicts(self.conn.execute(sql + " ORDER BY r.answered_at, r.id", params))

    def survey_unscored(self) -> list[tuple[int, str]]:
        """(id, comment) of the answers whose comment was not looked at yet."""
        rows = self.conn.execute(
            "SELECT id, comment FROM survey_responses WHERE scored = 0 "
            "AND coalesce(trim(comment), '') <> '' ORDER BY id"
        )
        return rows.fetchall()

    def survey_set_sentiment(self, rows: Sequence[tuple[int, str | None, float | None]]) -> None:
        """(id, language, sentiment) for scored answers (sentiment None: not English)."""
        with self.transaction() as conn:
            conn.executemany(
                "UPDATE survey_responses SET language = ?, sentiment = ?, scored = 1 WHERE id = ?",
                [(language, sentiment, rid) for rid, language, sentiment in rows],
            )

    def survey_promoter_days(self, refs: Sequence[int]) -> dict[int, str]:
        """customer_ref -> when they last answered as a promoter (NPS 9-10, CSAT 5): the
        ``promoter`` trigger's event."""
        rows = self.conn.execute(
            "SELECT customer_ref, max(answered_at) FROM survey_responses "
            "WHERE ((kind = 'nps' AND score >= 9) OR (kind = 'csat' AND score = 5)) "
            "AND customer_ref IN (SELECT value FROM json_each(?)) GROUP BY customer_ref",
            (json.dumps(list(refs)),),
        )
        return dict(rows.fetchall())
