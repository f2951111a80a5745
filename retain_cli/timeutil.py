"""Time helpers shared by every domain: UTC ISO 8601 text in the database, and the clock.

The clock is :class:`Clock`: the real one, or a simulated one set by ``--now`` or the
``RETAIN_NOW`` environment variable, so that an owner (or a test) can run next week's nights
today. Everything that asks for "now" asks :func:`utc_now` (which reads the clock a command
installed with :func:`use_clock`, else ``RETAIN_NOW``, else the real time) or is handed a
Clock, so every timestamp of a run moves together.
"""

from __future__ import annotations

import os
import time as _time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path

from retain_cli.errors import UsageError

ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
NOW_ENV = "RETAIN_NOW"


class Clock:
    """What time it is for a run.

    The real clock (``Clock()``) reads the system time and sleeps for real. A simulated one
    (``Clock(start)``) stands still at ``start`` and moves only when the run sleeps (a pacer
    waiting for its next slot): every timestamp of a simulated run is exact, and rehearsing a
    night costs no waiting. ``source`` names where the simulated time came from (``--now``,
    ``RETAIN_NOW``), for messages.
    """

    __slots__ = ("slept", "source", "start")

    def __init__(self, start: datetime | None = None, *, source: str = "") -> None:
        if start is not None:
            start = (start if start.tzinfo else start.replace(tzinfo=UTC)).astimezone(UTC)
            start = start.replace(microsecond=0)
        self.start = start
        self.source = source
        self.slept = 0.0

    @property
    def simulated(self) -> bool:
        return self.start is not None

    def now(self) -> datetime:
        if self.start is None:
            return real_now()
        return self.start + timedelta(seconds=int(self.slept))

    def sleep(self, seconds: float) -> None:
        """Wait: for real on the real clock; a simulated clock just moves on."""
        if self.start is None:
            _time.sleep(seconds)
        else:
            self.slept += max(seconds, 0.0)

    def describe(self) -> str:
        if self.start is None:
            return "now"
        return f"{self.source or '--now'} {to_iso(self.start)}"


_installed: list[Clock] = []


def real_now() -> datetime:
    """The system's time, whatever clock a command runs on (for refusing a future --now)."""
    return datetime.now(UTC).replace(microsecond=0)


def current_clock() -> Clock:
    """The clock a command installed (:func:`use_clock`), else ``RETAIN_NOW``, else real."""
    if _installed:
        return _installed[-1]
    text = os.environ.get(NOW_ENV, "").strip()
    if not text:
        return Clock()
    return Clock(parse_now(text, NOW_ENV), source=NOW_ENV)


@contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    """Make ``clock`` the one :func:`utc_now` reads while the block runs."""
    _installed.append(clock)
    try:
        yield clock
    finally:
        _installed.remove(clock)


def utc_now() -> datetime:
    return current_clock().now()


def utc_now_iso() -> str:
    return utc_now().strftime(ISO_FORMAT)


def to_iso(moment: datetime) -> str:
    """A datetime as stored: UTC, seconds, ``Z``. Naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(ISO_FORMAT)


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def zone(name: str | None) -> tzinfo:
    """The IANA time zone ``name`` (None: UTC)."""
    if not name or name == "UTC":
        return UTC
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def local_day(moment: datetime, tz: tzinfo) -> date:
    """The calendar day ``moment`` falls on in ``tz``."""
    return moment.astimezone(tz).date()


def start_of_day(day: date, tz: tzinfo) -> datetime:
    """Midnight at the start of ``day`` in ``tz``, in UTC."""
    return datetime.combine(day, time(0, 0), tzinfo=tz).astimezone(UTC)


def parse_now(text: str, option: str = "--now", tz: tzinfo | None = None) -> datetime:
    """A ``--now`` / ``RETAIN_NOW`` value: a date and time such as ``2025-10-26T06:30``.

    A time without an offset is on the wall clock of ``tz`` (the shop's time zone, for the
    commands that read the campaign file); where no ``tz`` is known it must carry one
    (``Z`` or ``+01:00``), so that an import and a send never read it differently.
    """
    raw = text.strip()
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is not a date and time; write it as 2025-10-26T06:30 "
            "(the shop's time zone) or 2025-10-26T06:30+01:00"
        ) from None
    if len(raw) <= 10:
        raise UsageError(
            f"{option} {text!r} has no time of day; write it as {raw[:10]}T06:30 "
            "(the moment a run starts)"
        )
    if moment.tzinfo is None:
        if tz is None:
            raise UsageError(
                f"{option} {text!r} has no time zone, and this command does not read the "
                f"campaign file's; write it as {raw}Z (UTC) or with an offset such as "
                f"{raw}+01:00"
            )
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC).replace(microsecond=0)


def parse_as_of(text: str | None, option: str = "--as-of", tz: tzinfo | None = None) -> datetime:
    """An ``--as-of`` value: a date means the end of that day in ``tz`` (default UTC); a
    date and time without an offset is on that wall clock too; None means now."""
    if text is None:
        return utc_now()
    where = tz or UTC
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time(23, 59, 59), tzinfo=where).astimezone(UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date; use YYYY-MM-DD") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=where)


def system_timezone() -> str:
    """The IANA name of this machine's time zone (what cron reads a crontab's times in when
    it ignores CRON_TZ): ``$TZ``, else the ``/etc/localtime`` link, else ``/etc/timezone``,
    else UTC."""
    from zoneinfo import ZoneInfo

    def valid(name: str) -> bool:
        try:
            ZoneInfo(name)
        except (ValueError, OSError, KeyError):
            return False
        return True

    env = os.environ.get("TZ", "").strip().lstrip(":")
    if env and valid(env):
        return env
    link = Path("/etc/localtime")
    try:
        target = str(link.resolve())
    except OSError:
        target = ""
    if "zoneinfo/" in target:
        name = target.split("zoneinfo/", 1)[1]
        if valid(name):
            return name
    try:
        name = Path("/etc/timezone").read_text(encoding="utf-8").strip()
    except OSError:
        name = ""
    return name if name and valid(name) else "UTC"
