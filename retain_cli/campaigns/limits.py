"""The limits a run obeys: which apply to a transport, and the quiet hours."""

from __future__ import annotations

from datetime import datetime

from retain_cli.campaigns.config import Limits


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
