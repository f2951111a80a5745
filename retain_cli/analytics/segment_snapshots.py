"""Segment membership over time: the per-day snapshots and what they tell.

Only the send path records snapshots: :func:`entered_on` (the planner's ``entered_segment``
trigger, run by ``retain plan`` and ``retain send``) keeps the as-of day's membership, so the
next run sees who entered a segment since. Everything else reads: :func:`moves` (``retain
segments moves``) uses a kept snapshot where there is one and computes a missing day from
the order history (only orders up to that day count) without keeping it, so looking at the
past never makes the next send think customers just entered a segment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retain_cli.analytics.features import core_features
from retain_cli.analytics.segments import (
    NO_SEGMENT,
    SCHEMES,
    find_segment,
    membership_of,
    save_snapshot,
    scheme_segments,
)
from retain_cli.errors import UsageError
from retain_cli.timeutil import parse_as_of

if TYPE_CHECKING:
    from retain_cli.store import Store


def snapshot(
    store: Store, scheme: str, as_of: datetime | date, *, segments_file: Path | None = None
) -> int:
    """Compute and keep membership for the as-of day (idempotent: replaces that day's)."""
    moment = _end_of(as_of)
    core = core_features(store, moment)
    membership = membership_of(core, scheme, segments_file=segments_file, store=store)
    return save_snapshot(store, scheme, moment.date(), membership)


def _end_of(day: datetime | date) -> datetime:
    if isinstance(day, datetime):
        return day if day.tzinfo else day.replace(tzinfo=UTC)
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def membership_on(
    store: Store,
    scheme: str,
    day: date,
    *,
    segments_file: Path | None = None,
    keep: bool = False,
) -> dict[int, str]:
    """customer_ref -> segment on ``day``: the stored snapshot, else computed (and stored
    when ``keep``: the send path only)."""
    stored = store.segment_snapshot(scheme, day.isoformat())
    if stored is None:
        if not keep:
            moment = _end_of(day)
            core = core_features(store, moment)
            membership = membership_of(core, scheme, segments_file=segments_file, store=store)
            names = membership.names
            return {
                ref: names[code]
                for ref, code in zip(
                    membership.refs.tolist(), membership.codes.tolist(), strict=True
                )
            }
        snapshot(store, scheme, day, segments_file=segments_file)
        stored = store.segment_snapshot(scheme, day.isoformat()) or []
    out: dict[int, str] = {}
    for name, members in stored:
        out.update(dict.fromkeys(json.loads(members), name))
    return out


def entered(
    store: Store,
    scheme: str,
    segment: str,
    since: date,
    until: date,
    *,
    segments_file: Path | None = None,
) -> set[int]:
    """customer_refs in ``segment`` on ``until`` who were not in it on ``since`` (read only)."""
    before = membership_on(store, scheme, since, segments_file=segments_file)
    after = membership_on(store, scheme, until, segments_file=segments_file)
    return {ref for ref, name in after.items() if name == segment and before.get(ref) != segment}


def entered_on(
    store: Store,
    name: str,
    as_of: datetime,
    *,
    segments_file: Path | None = None,
    keep: bool = False,
) -> dict[int, date]:
    """For members of segment ``name`` at ``as_of``: the day of the stored snapshot in which
    they most recently entered it (they were outside it in the snapshot before). Members
    with no such transition in the stored snapshots are left out: the first snapshot is a
    baseline, not an entry. The as-of day's membership is computed if no snapshot holds it,
    and kept only when ``keep`` (``retain send``, the one writer of snapshots)."""
    scheme, segment = find_segment(name, segments_file)
    today = as_of.date().isoformat()
    if not keep and not any(d < today for d in store.segment_snapshot_days(scheme, until=today)):
        return {}  # no snapshot before today: today's is the baseline, nobody entered yet
    now = membership_on(store, scheme, as_of.date(), segments_file=segments_file, keep=keep)
    days = store.segment_snapshot_days(scheme, until=today)
    history = store.segment_history(scheme, segment, until=today)
    sets = [set(json.loads(history[d])) if d in history else set() for d in days]
    if not days or days[-1] != today:  # computed for this run, not kept
        days.append(today)
        sets.append({ref for ref, member_of in now.items() if member_of == segment})
    out: dict[int, date] = {}
    for day, before, after in zip(days[1:], sets, sets[1:], strict=False):
        for ref in after - before:
            out[ref] = date.fromisoformat(day)
    current = sets[-1] if sets else set()
    return {ref: day for ref, day in out.items() if ref in current}


@dataclass
class Moves:
    scheme: str
    start: date
    end: date
    segments: list[str]
    counts: dict[tuple[str, str], int] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """Long form for scripts: from_segment, to_segment, customers (non-zero only)."""
        return [
            {"from_segment": a, "to_segment": b, "customers": n}
            for (a, b), n in sorted(
                self.counts.items(),
                key=lambda kv: (self._rank(kv[0][0]), self._rank(kv[0][1])),
            )
            if n
        ]

    def _rank(self, name: str) -> int:
        return self.segments.index(name) if name in self.segments else len(self.segments)


def moves(
    store: Store,
    scheme: str,
    start: date,
    end: date,
    *,
    segments_file: Path | None = None,
) -> Moves:
    """How many customers went from each segment on ``start`` to each segment on ``end``
    (read only: a day without a kept snapshot is computed, not kept)."""
    if scheme not in SCHEMES:
        raise UsageError(f"--scheme {scheme!r} is not one of {', '.join(SCHEMES)}")
    if end < start:
        raise UsageError(f"--to {end} is before --from {start}; swap them")
    before = membership_on(store, scheme, start, segments_file=segments_file)
    after = membership_on(store, scheme, end, segments_file=segments_file)
    names = scheme_segments(scheme, segments_file)
    if scheme == "custom":
        names.append(NO_SEGMENT)
    result = Moves(scheme, start, end, names)
    for ref in set(before) | set(after):
        key = (before.get(ref, NO_SEGMENT), after.get(ref, NO_SEGMENT))
        result.counts[key] = result.counts.get(key, 0) + 1
    if NO_SEGMENT not in result.segments and any(NO_SEGMENT in k for k in result.counts):
        result.segments.append(NO_SEGMENT)
    return result


def parse_day(text: str, option: str) -> date:
    return parse_as_of(text, option).date()
