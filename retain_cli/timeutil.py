"""Time helpers shared by every domain: UTC ISO 8601 text in the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from retain_cli.errors import UsageError

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def utc_now_iso() -> str:
    return utc_now().strftime(ISO_FORMAT)


def to_iso(moment: datetime) -> str:
    """A datetime as stored: UTC, seconds, ``Z``. Naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(ISO_FORMAT)


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_as_of(text: str | None, option: str = "--as-of") -> datetime:
    """An ``--as-of`` value: a date means the end of that day (UTC); None means now."""
    if text is None:
        return utc_now()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date; use YYYY-MM-DD") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
