"""``retain cron``: the crontab lines for a nightly run, checked against the quiet hours, and
what cron needs to know that an interactive shell has (the SMTP password).

The lines start with ``CRON_TZ=`` and the shop's time zone, so that cron runs the line at the
shop's wall-clock time in every season. Not every cron reads ``CRON_TZ`` (cronie does;
Debian's and Ubuntu's cron do not, and run it on the machine's clock), so the time is checked
both ways: inside the quiet hours on the shop's clock, it is refused (every run would send
nothing while the queue grows); inside them on the machine's clock on some days of the year
(daylight saving moves one against the other), it is a loud warning with the dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from retain_cli.errors import UsageError

if TYPE_CHECKING:
    from retain_cli.campaigns.model import CampaignConfig, Limits


def password_advice(what: str, env: str, service: str, username: str) -> list[str]:
    """Comment lines for the crontab: cron starts with an empty environment, so a password
    kept in the shell's environment is not there (never the password itself)."""
    return [
        f"# cron does not see your shell's {env}: store the {what} password in the system",
        f"# keyring once ('keyring set {service} {username}'), or set {env}=... at the",
        "# top of this crontab (then keep the crontab private: crontab files are yours only).",
    ]


def cron_advice(config: Path) -> list[str]:
    """What a cron run needs that an interactive shell has: the SMTP password (see
    :func:`password_advice`). Returns comment lines for the crontab."""
    from retain_cli.campaigns.config import load_config
    from retain_cli.secrets import DEFAULT_KEYRING_SERVICE, DEFAULT_PASSWORD_ENV

    if not config.exists():
        return [f"# note: {config} does not exist yet; 'retain init' writes one"]
    settings = load_config(config)
    smtp = settings.smtp
    if settings.transport != "smtp" or smtp is None or smtp.username is None:
        return []
    env = smtp.password_env or DEFAULT_PASSWORD_ENV
    service = smtp.keyring_service or DEFAULT_KEYRING_SERVICE
    return password_advice("SMTP", env, service, smtp.username)


STALE_NOTE = (
    "# the run sends from the orders as last imported ('retain send' warns when they are",
    "# more than a day old); --import-dir FOLDER adds an import of the new exports first",
)


def parse_at(at: str) -> time:
    """``--at HH:MM`` -> a time. Raises UsageError."""
    try:
        hour, minute = (int(part) for part in at.split(":"))
        if not (0 <= hour <= 23 and 0 <= minute <= 59) or len(at.split(":")[1]) != 2:
            raise ValueError
    except ValueError:
        raise UsageError(f"--at {at!r} is not a time; write HH:MM such as 06:30") from None
    return time(hour, minute)


@dataclass
class CronCheck:
    """What the quiet hours say about a cron time: warnings to show loudly, and a time that
    is outside the quiet hours both ways, all year (if there is one)."""

    warnings: list[str] = field(default_factory=list)
    suggestion: time | None = None


def _quiet_days(
    limits: Limits, at: time, clock_tz: str, first: date, *, first_only: bool = False
) -> list[date]:
    """The days of the coming year on which ``at`` on ``clock_tz``'s wall clock falls inside
    the quiet hours (on the shop's wall clock); ``first_only``: stop at the first."""
    from retain_cli.campaigns.limits import in_quiet_hours
    from retain_cli.timeutil import zone

    tz = zone(clock_tz)
    days = []
    for offset in range(366):
        day = first + timedelta(days=offset)
        if in_quiet_hours(limits, datetime.combine(day, at, tzinfo=tz).astimezone(UTC)):
            days.append(day)
            if first_only:
                break
    return days


def _ranges(days: list[date]) -> str:
    """``[1 Nov .. 28 Mar]`` as "from 2025-11-02 to 2026-03-07", runs joined by "and"."""
    if len(days) >= 366:
        return "all year"
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and day - runs[-1][1] == timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    parts = [f"on {a}" if a == b else f"from {a} to {b}" for a, b in runs[:3]]
    more = f" (and {len(runs) - 3} more stretches)" if len(runs) > 3 else ""
    return " and ".join(parts) + more


def check_cron_time(limits: Limits, at: time, machine_tz: str, today: date) -> CronCheck:
    """Refuse a time inside the quiet hours on the shop's clock; warn when the machine's
    clock (a cron that ignores CRON_TZ) puts it inside them on some days of the year."""
    check = CronCheck()
    if limits.quiet_hours is None:
        return check
    start, end = limits.quiet_hours
    quiet = f"{start:%H:%M}-{end:%H:%M} ({limits.timezone})"
    zones = [limits.timezone] if machine_tz == limits.timezone else [limits.timezone, machine_tz]

    def hint() -> str:
        for minutes in range(0, 24 * 60, 15):
            candidate = (datetime.combine(today, end) + timedelta(minutes=30 + minutes)).time()
            if not any(_quiet_days(limits, candidate, z, today, first_only=True) for z in zones):
                check.suggestion = candidate
                return f", such as {candidate:%H:%M}"
        return ""

    if _quiet_days(limits, at, limits.timezone, today, first_only=True):
        raise UsageError(
            f"--at {at:%H:%M} is inside the quiet hours {quiet}: every run would send "
            f"nothing while the queue grows. Pick a time between {end:%H:%M} and "
            f"{start:%H:%M}{hint()}"
        )
    if machine_tz != limits.timezone:
        days = _quiet_days(limits, at, machine_tz, today)
        if days:
            check.warnings.append(
                f"if your cron ignores CRON_TZ (Debian's and Ubuntu's cron do), this line "
                f"runs at {at:%H:%M} on this machine's clock ({machine_tz}), which is inside "
                f"the quiet hours {quiet} {_ranges(days)}: those nights send nothing. "
                f"Use a cron that reads CRON_TZ, set the machine's time zone to "
                f"{limits.timezone}, or pick a time that is safe both ways{hint()}"
            )
    return check


INBOX_NOTE = (
    "# the mailbox is read first ('retain inbox': unsubscribe requests, bounces, replies); the",
    "# send runs only when it could be read, so nobody who asked to leave is mailed again",
)
DIGEST_NOTE = "# 'retain digest --email' mails you the day's summary after the send"


def retain_command(executable: str | None = None) -> str:
    """How the crontab calls retain: the ``retain`` script beside this Python, else
    ``python -m retain_cli`` (quoted for the shell)."""
    import shlex
    import sys

    if executable is not None:
        return shlex.quote(executable)
    script = Path(sys.executable).with_name("retain")
    if script.exists():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m retain_cli"


def cron_entry(
    *,
    at: str,
    db: Path,
    config: Path,
    log: Path | None = None,
    executable: str | None = None,
    import_dir: Path | None = None,
    inbox: bool = False,
    digest: bool = False,
) -> str:
    """A crontab line for the nightly loop, every output appended to a log file:

    1. ``import folder`` of the new exports in ``import_dir`` (if given);
    2. ``inbox`` (if ``inbox``): the shop's mailbox; when it cannot be read (exit 1 or 2; 3 is
       "read, some messages not usable") the send is skipped that night;
    3. ``send`` (which also keeps the day's segment snapshot that ``entered_segment`` triggers
       compare against);
    4. ``digest --email`` (if ``digest``), whatever the send did.

    Absolute paths throughout; ``%`` (a new line to cron) escaped."""
    import shlex

    moment = parse_at(at)
    db = db.expanduser().absolute()
    config = config.expanduser().absolute()
    log = (log or db.with_name("retain-send.log")).expanduser().absolute()
    q = shlex.quote
    base = f"{retain_command(executable)} --db {q(str(db))}"
    out = f">> {q(str(log))} 2>&1"
    cfg = f"--config {q(str(config))}"
    steps = ""
    if import_dir is not None:
        folder = q(str(import_dir.expanduser().absolute()))
        steps = f"{base} import folder {folder} {out}; "
    if inbox:
        steps += f"{{ {base} inbox {cfg} {out} || [ $? -eq 3 ]; }} && "
    steps += f"{base} send {cfg} --yes {out}"
    if digest:
        steps += f"; {base} digest {cfg} --email {out}"
    command = f"cd {q(str(db.parent))} && {steps}"
    return f"{moment.minute} {moment.hour} * * * " + command.replace("%", "\\%")


def cron_lines(
    *,
    at: str,
    db: Path,
    config: Path,
    settings: CampaignConfig | None,
    machine_tz: str,
    today: date,
    log: Path | None = None,
    import_dir: Path | None = None,
    inbox: bool = False,
    digest: bool = False,
    mailbox_notes: Sequence[str] = (),
) -> tuple[list[str], list[str]]:
    """The crontab lines (notes, ``CRON_TZ=`` for the shop's time zone, then the run), and
    loud warnings about the time; ``mailbox_notes`` (what the mailbox's owner says about
    reading it at night) go after the notes on the import and before the one on the digest.
    Raises UsageError for a time inside the quiet hours."""
    line = cron_entry(
        at=at, db=db, config=config, log=log, import_dir=import_dir, inbox=inbox, digest=digest
    )
    note = [] if import_dir is not None else list(STALE_NOTE)
    if inbox:
        note += INBOX_NOTE
    note += mailbox_notes
    if digest:
        note.append(DIGEST_NOTE)
    if settings is None:
        return [*note, line], []
    check = check_cron_time(settings.limits, parse_at(at), machine_tz, today)
    lines = [
        *note,
        f"# CRON_TZ: cron reads the times below on the shop's clock ({settings.timezone})",
        f"CRON_TZ={settings.timezone}",
        line,
    ]
    return lines, check.warnings
