"""The limits a run obeys: which apply to a transport, the quiet hours, and the pacer that
keeps a run within the per-minute and per-day limits."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from retain_cli.campaigns.model import Limits
from retain_cli.timeutil import from_iso, to_iso

if TYPE_CHECKING:
    from retain_cli.store import Store


def effective_limits(limits: Limits, transport: str) -> Limits:
    """The limits a transport obeys. Rate limits and quiet hours protect the mail provider
    account and customers' evenings; the outbox delivers to no one, so it obeys only the
    per-customer frequency cap and the batch size (the demo then runs at any hour)."""
    if transport != "outbox":
        return limits
    import dataclasses

    return dataclasses.replace(limits, per_minute=None, per_day=None, quiet_hours=None)


def in_quiet_hours(limits: Limits, moment: datetime) -> bool:
    """Whether ``moment`` falls inside the quiet hours, on the wall clock of limits.timezone."""
    if limits.quiet_hours is None:
        return False
    from zoneinfo import ZoneInfo

    start, end = limits.quiet_hours
    local = moment.astimezone(ZoneInfo(limits.timezone)).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_hours_text(limits: Limits) -> str:
    assert limits.quiet_hours is not None
    start, end = limits.quiet_hours
    return (
        f"quiet hours {start:%H:%M}-{end:%H:%M} ({limits.timezone}); "
        f"nothing is sent until {end:%H:%M}"
    )


class Pacer:
    """Per-minute pacing and the per-day budget, counted from the ledger's sent_at."""

    def __init__(
        self,
        store: Store,
        limits: Limits,
        now: Callable[[], datetime],
        sleep: Callable[[float], None],
    ) -> None:
        self.limits = limits
        self.now = now
        self.sleep = sleep
        moment = now()
        self.recent: deque[datetime] = deque()
        if limits.per_minute:
            for text in store.ledger_sent_since(to_iso(moment - timedelta(seconds=60))):
                self.recent.append(from_iso(text))
        self.day_left: int | None = None
        if limits.per_day:
            used = store.ledger_count_sent_since(to_iso(moment - timedelta(hours=24)))
            self.day_left = max(limits.per_day - used, 0)

    def day_exhausted(self) -> bool:
        return self.day_left is not None and self.day_left <= 0

    def wait_for_slot(self) -> None:
        per_minute = self.limits.per_minute
        if not per_minute:
            return
        while True:
            moment = self.now()
            while self.recent and self.recent[0] <= moment - timedelta(seconds=60):
                self.recent.popleft()
            if len(self.recent) < per_minute:
                return
            wait = (self.recent[0] + timedelta(seconds=60) - moment).total_seconds()
            self.sleep(max(wait, 0.05))

    def record(self, moment: datetime) -> None:
        if self.limits.per_minute:
            self.recent.append(moment)
        if self.day_left is not None:
            self.day_left -= 1
