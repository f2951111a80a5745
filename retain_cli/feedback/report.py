"""``retain feedback`` (and the feedback lines of ``retain metrics`` and ``retain digest``):
NPS and CSAT over a period, their distribution and monthly trend, and what the comments say
(sentiment for English ones, recurring themes)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from retain_cli.feedback.scores import Score, by_month, group_of, score
from retain_cli.feedback.sentiment import LANGUAGES, label, score_pending
from retain_cli.feedback.themes import themes
from retain_cli.timeutil import from_iso, to_iso, zone

if TYPE_CHECKING:
    from retain_cli.store import Store

DEFAULT_DAYS = 90
KINDS = ("nps", "csat")
LATEST = 5


@dataclass
class FeedbackReport:
    since: datetime
    until: datetime
    scores: dict[str, Score] = field(default_factory=dict)
    trend: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    comments: dict[str, Any] = field(default_factory=dict)
    themes: list[dict[str, Any]] = field(default_factory=list)
    negative: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "since": to_iso(self.since),
            "until": to_iso(self.until),
            "scores": {k: s.as_dict() for k, s in self.scores.items()},
            "trend": self.trend,
            "comments": self.comments,
            "themes": self.themes,
            "latest_negative": self.negative,
        }


def feedback_report(
    store: Store,
    until: datetime,
    *,
    days: int = DEFAULT_DAYS,
    timezone: str = "UTC",
    languages: tuple[str, ...] = LANGUAGES,
    kinds: tuple[str, ...] = (),
) -> FeedbackReport:
    """Answers given in the ``days`` before ``until``; the trend by month (in the shop's time
    zone) over the same answers. ``kinds``: the survey kinds to show even without answers."""
    score_pending(store, languages)
    since = until - timedelta(days=days)
    rows = store.survey_responses(since=to_iso(since), until=to_iso(until))
    report = FeedbackReport(since, until)
    tz = zone(timezone)
    for kind in KINDS:
        mine = [r for r in rows if r["kind"] == kind]
        if not mine and kind not in kinds:
            continue
        report.scores[kind] = score(kind, [r["score"] for r in mine])
        report.trend[kind] = by_month(
            kind,
            [
                (from_iso(r["answered_at"]).astimezone(tz).strftime("%Y-%m"), r["score"])
                for r in mine
            ],
        )
    with_text = [r for r in rows if (r["comment"] or "").strip()]
    sentiments = Counter(label(r["sentiment"]) for r in with_text)
    unscored = Counter(r["language"] or "unknown" for r in with_text if r["sentiment"] is None)
    report.comments = {
        "comments": len(with_text),
        "positive": sentiments["positive"],
        "neutral": sentiments["neutral"],
        "negative": sentiments["negative"],
        "unscored": sum(unscored.values()),
        "unscored_languages": dict(unscored.most_common()),
        "model": "VADER, English only",
    }
    report.themes = themes(
        [
            (
                r["comment"],
                r["language"],
                group_of(r["kind"], r["score"]) in ("detractor", "unsatisfied"),
                r["score"],
            )
            for r in with_text
        ]
    )
    negative = [
        r
        for r in with_text
        if group_of(r["kind"], r["score"]) in ("detractor", "unsatisfied")
        or (r["sentiment"] is not None and r["sentiment"] <= -0.05)
    ]
    report.negative = [
        {
            "answered_at": r["answered_at"],
            "email": r["email"],
            "kind": r["kind"],
            "score": r["score"],
            "sentiment": label(r["sentiment"]),
            "comment": r["comment"],
        }
        for r in reversed(negative[-LATEST:])
    ]
    return report


def headline(store: Store, until: datetime, days: int = DEFAULT_DAYS) -> list[Score]:
    """The scores of the last ``days`` (for ``retain metrics`` and the digest): one per kind
    with answers; no sentiment work."""
    rows = store.survey_responses(since=to_iso(until - timedelta(days=days)), until=to_iso(until))
    return [
        score(kind, [r["score"] for r in rows if r["kind"] == kind])
        for kind in KINDS
        if any(r["kind"] == kind for r in rows)
    ]
