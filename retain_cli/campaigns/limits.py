"""The limits a run obeys: which apply to a transport, the quiet hours, the calendar day the
daily limits count in, and the pacer that keeps a run within the per-minute and per-day limits.

Days are calendar days in the shop's time zone (``shop.timezone``, which the campaign file
also gives as ``limits.timezone``), so that a nightly cron can never straddle a window:
``per_day`` counts what went out since midnight, and a frequency cap of 24 hours or more
(``min_hours_between_messages``) is counted in whole days (24: not on the same day, 48: not
on the same day or the next). A run that starts a few seconds earlier
than yesterday's finished is not held back by a rolling window.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from retain_cli.campaigns.model import Limits
from retain_cli.timeutil import Clock, from_iso, local_day, start_of_day, to_iso, zone

if TYPE_CHECKING:
    from retain_cli.store import Store


def effective_limits(limits: Limits, transport: str, *, rehearsal: bool = False) -> Limits:
    """The limits a transport obeys. Rate limits and quiet hours protect the mail provider
    account and customers' evenings; the outbox delivers to no one, so it obeys only the
    per-customer frequency cap and the batch size (the demo then runs at any hour).

    A rehearsal (a simulated clock: ``--now``, ``RETAIN_NOW``, ``retain simulate``) obeys every
    limit whatever the transport, since it stands in for the real nightly run."""
    if transport != "outbox" or rehearsal:
        return limits
    import dataclasses

    return dataclasses.replace(limits, per_minute=None, per_day=None, quiet_hours=None)


def in_quiet_hours(limits: Limits, moment: datetime) -> bool:
    """Whether ``moment`` falls inside the quiet hours, on the wall clock of limits.timezone."""
    if limits.quiet_hours is None:
        return False
    start, end = limits.quiet_hours
    local = moment.astimezone(zone(limits.timezone)).time().replace(tzinfo=None)
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


def day_start(limits: Limits, moment: datetime) -> datetime:
    """Midnight (UTC) at the start of ``moment``'s day in the shop's time zone: ``per_day``
    counts the messages sent since."""
    tz = zone(limits.timezone)
    return start_of_day(local_day(moment, tz), tz)


def cap_since(limits: Limits, moment: datetime) -> datetime | None:
    """The frequency cap at ``moment``: a customer sent a message at or after the returned
    moment waits. Gaps of 24 hours or more are whole days in the shop's time zone (rounded
    up), so a daily run is never held back by seconds; shorter gaps are hours."""
    gap = limits.min_hours_between_messages
    if not gap:
        return None
    if gap < 24:
        return moment - timedelta(hours=gap)
    tz = zone(limits.timezone)
    days = math.ceil(gap / 24 - 1e-9)
    return start_of_day(local_day(moment, tz) - timedelta(days=days - 1), tz)


def cap_text(limits: Limits) -> str:
    gap = limits.min_hours_between_messages
    assert gap
    if gap < 24:
        return f"{gap:g}h between messages"
    days = math.ceil(gap / 24 - 1e-9)
    return f"{gap:g}h between messages: " + ("one a day" if days == 1 else f"one every {days} days")


def daily_limit_text(limits: Limits) -> str:
    return (
        f"daily limit of {limits.per_day} messages reached (today in {limits.timezone}); "
        "the rest goes out on the next run"
    )


class RunDeadline:
    """``limits.max_run_minutes`` from the start of the run: real time on the monotonic clock,
    plus the time a simulated clock slept (a rehearsal's pacer waits cost no real time, and
    stop it where the real run would stop). Checked between messages: the message in hand is
    finished (each SMTP reply has its own bound, ``transport.timeout``), then the run stops
    and the rest stays planned."""

    __slots__ = ("clock", "limit", "minutes", "slept", "start")

    def __init__(self, limits: Limits, clock: Clock | None = None) -> None:
        self.minutes = limits.max_run_minutes
        self.limit = self.minutes * 60
        self.start = time.monotonic()
        self.clock = clock if clock is not None and clock.simulated else None
        self.slept = self.clock.slept if self.clock is not None else 0.0

    def spent(self) -> float:
        """Seconds the run has taken so far."""
        spent = time.monotonic() - self.start
        if self.clock is not None:
            spent += self.clock.slept - self.slept
        return spent

    def passed(self, within: float = 0.0) -> bool:
        """Whether the deadline has passed (or will have, ``within`` seconds from now)."""
        return self.spent() + within >= self.limit

    def text(self) -> str:
        return (
            f"the run reached limits.max_run_minutes ({self.minutes:g} "
            f"minute{'' if self.minutes == 1 else 's'}); "
            "the rest goes out on the next run"
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
        self.day = day_start(limits, moment)
        if limits.per_day:
            used = store.ledger_count_sent_since(to_iso(self.day))
            self.day_left = max(limits.per_day - used, 0)

    def day_exhausted(self) -> bool:
        if self.day_left is not None and self.limits.per_day:
            today = day_start(self.limits, self.now())
            if today != self.day:  # the run went past midnight: a new day's budget
                self.day = today
                self.day_left = self.limits.per_day
        return self.day_left is not None and self.day_left <= 0

    def wait_for_slot(self, deadline: RunDeadline | None = None) -> bool:
        """Wait until the per-minute limit lets the next message go; False (without waiting)
        when the run's deadline would pass first."""
        per_minute = self.limits.per_minute
        if not per_minute:
            return True
        while True:
            moment = self.now()
            while self.recent and self.recent[0] <= moment - timedelta(seconds=60):
                self.recent.popleft()
            if len(self.recent) < per_minute:
                return True
            wait = max((self.recent[0] + timedelta(seconds=60) - moment).total_seconds(), 0.05)
            if deadline is not None and deadline.passed(wait):
                return False
            self.sleep(wait)

    def record(self, moment: datetime) -> None:
        if self.limits.per_minute:
            self.recent.append(moment)
        if self.day_left is not None:
            self.day_left -= 1
