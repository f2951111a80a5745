"""``retain doctor``: will tonight's run work? One check per thing that can stop it, each with
the fix when it fails.

- the database: there, writable, migrated by this version, readable by its owner only;
- the campaign file and every template (as ``retain campaigns check``);
- the example shop's sender, addresses or server still in place;
- the unsubscribe address or URL;
- the SMTP login (logs in and out, sends nothing); the IMAP login, where a mailbox is set;
- fresh data for the nightly run: the last import against the send time in the crontab;
- the sender domain's SPF and DMARC records (dnspython; :mod:`.dnscheck`).

A check is ``ok``, ``fail`` or ``skip`` (does not apply here, with the reason); the command
exits 1 when one fails.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from retain_cli.errors import RetainError
from retain_cli.timeutil import from_iso, zone
from retain_cli.trust.checks import FAIL, OK, SKIP, Check

if TYPE_CHECKING:
    from retain_cli.campaigns.model import CampaignConfig
    from retain_cli.store import Store

#: the data a nightly send reads may be at most this old when the send starts
FRESH_HOURS = 26


@dataclass
class Doctor:
    checks: list[Check]

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def run_doctor(
    db: Path,
    config_file: Path,
    *,
    now: datetime,
    crontab: str | None,
    dns_server: str | None = None,
    dns_timeout: float = 3.0,
    network: bool = True,
) -> Doctor:
    """Every check (see the module's doc). ``crontab``: the crontab's text (None: none could
    be read); ``dns_server``: ``HOST[:PORT]`` to ask instead of the system's resolver;
    ``network``: False skips the logins and DNS."""
    checks: list[Check] = []
    store = _database_checks(db, checks)
    config = _config_checks(config_file, store, now, checks)
    if config is not None:
        _sender_checks(config, checks)
        if network:
            _login_checks(config, config_file, checks)
    if store is not None:
        checks.append(freshness(store, crontab, config, db, now))
    if config is not None and network:
        from retain_cli.trust.dnscheck import domain_checks

        checks.extend(domain_checks(config.sender.from_email, dns_server, dns_timeout))
    if store is not None:
        store.close()
    return Doctor(checks)


# --- the database --------------------------------------------------------------------------


def _database_checks(db: Path, checks: list[Check]) -> Store | None:
    from retain_cli.store import Store
    from retain_cli.store.migrations import MIGRATIONS
    from retain_cli.trust.privacy import permission_problem

    if not db.exists():
        checks.append(
            Check(
                "database",
                FAIL,
                f"no database at {db}",
                "run 'retain init' and import your exports, or pass --db PATH",
            )
        )
        return None
    try:
        store: Store = Store.open(db, create=False)
    except RetainError as exc:
        checks.append(Check("database", FAIL, str(exc), "restore the file from a backup"))
        return None
    problem = store.writable()
    if problem:
        checks.append(
            Check(
                "database writable",
                FAIL,
                f"{db}: {problem}",
                "check the file's owner and the folder's permissions, or wait for the other "
                "retain command to finish",
            )
        )
    else:
        checks.append(Check("database writable", OK, str(db)))
    known = {m.__name__ for m in MIGRATIONS}
    unknown = sorted(set(store.applied_migrations()) - known)
    if unknown:
        checks.append(
            Check(
                "database migrated",
                FAIL,
                f"made by a newer retain (has {', '.join(unknown)})",
                "update retain to the version that made it",
            )
        )
    else:
        checks.append(Check("database migrated", OK, f"{len(known)} migrations applied"))
    loose = permission_problem(db)
    if loose:
        checks.append(Check("database private", FAIL, loose.split(";")[0], loose.split("; ")[-1]))
    else:
        checks.append(Check("database private", OK, "readable by its owner only (0600)"))
    return store


# --- the campaign file ----------------------------------------------------------------------


def _config_checks(
    path: Path, store: Store | None, now: datetime, checks: list[Check]
) -> CampaignConfig | None:
    from retain_cli.campaigns.check import check_campaigns
    from retain_cli.campaigns.config import load_config

    if not path.exists():
        checks.append(
            Check(
                "campaign file",
                FAIL,
                f"no campaign file at {path}",
                "run 'retain init' (it writes campaigns.yaml), or pass --config FILE",
            )
        )
        return None
    try:
        config = load_config(path)
    except RetainError as exc:
        checks.append(Check("campaign file", FAIL, str(exc), "fix the key it names"))
        return None
    checks.append(Check("campaign file", OK, f"{path}: {len(config.campaigns)} campaign(s)"))
    try:
        rows = check_campaigns(config, store, now)
    except RetainError as exc:
        checks.append(Check("templates", FAIL, str(exc), "retain campaigns check shows more"))
        return config
    bad = [r for r in rows if r["status"] != "OK"]
    if bad:
        text = "; ".join(f"{r['campaign']}: {r['problems'].splitlines()[0]}" for r in bad)
        checks.append(
            Check("templates", FAIL, text, "'retain campaigns check' shows each problem in full")
        )
    else:
        checks.append(Check("templates", OK, f"every step of {len(rows)} campaign(s) renders"))
    return config


def _sender_checks(config: CampaignConfig, checks: list[Check]) -> None:
    from retain_cli.campaigns.placeholders import placeholders

    found = placeholders(config, smtp=True)
    if found:
        checks.append(
            Check(
                "example values",
                FAIL,
                "; ".join(p.text() for p in found),
                f"put your shop's own values under {', '.join(p.key for p in found)} in "
                f"{config.path}",
            )
        )
    else:
        checks.append(Check("example values", OK, "sender and server are your own"))
    unsubscribe = config.sender.unsubscribe.strip()
    if not unsubscribe:
        checks.append(
            Check(
                "unsubscribe",
                FAIL,
                "sender.unsubscribe is empty",
                "set sender.unsubscribe to mailto:ADDRESS or an https:// page",
            )
        )
    elif any(p.key == "sender.unsubscribe" for p in found):
        checks.append(
            Check(
                "unsubscribe",
                FAIL,
                f"{unsubscribe} is the example's: nobody can unsubscribe",
                "set sender.unsubscribe to an address you read or a page of your shop",
            )
        )
    else:
        checks.append(Check("unsubscribe", OK, unsubscribe))
    if config.transport == "outbox":
        checks.append(
            Check(
                "transport",
                FAIL,
                f"transport.type is outbox: 'retain send' writes .eml files to "
                f"{config.outbox_dir}, nothing reaches a customer",
                "set transport.type: smtp (with host, port, username) when you are ready",
            )
        )
    else:
        checks.append(Check("transport", OK, "smtp"))


# --- logins ---------------------------------------------------------------------------------


def _login_checks(config: CampaignConfig, config_file: Path, checks: list[Check]) -> None:
    from retain_cli.campaigns.placeholders import example_domain
    from retain_cli.mailbox.process import load_settings
    from retain_cli.mailbox.source import ImapSource
    from retain_cli.secrets import imap_password, smtp_password
    from retain_cli.transports.base import TransportFailure
    from retain_cli.transports.smtp import SmtpTransport

    smtp = config.smtp
    if smtp is None:
        checks.append(
            Check(
                "smtp login",
                FAIL if config.transport == "smtp" else SKIP,
                "no SMTP server in the campaign file",
                "add transport.host, port, security and username",
            )
        )
    elif example_domain(smtp.host):
        checks.append(Check("smtp login", SKIP, f"{smtp.host} is the example's server"))
    else:
        who = f"{smtp.host}:{smtp.port}" + (f" as {smtp.username}" if smtp.username else "")
        try:
            transport = SmtpTransport(smtp, smtp_password(smtp))
            transport.open()
            transport.close()
        except (RetainError, TransportFailure) as exc:
            checks.append(Check("smtp login", FAIL, str(exc), _fix_of(str(exc))))
        else:
            checks.append(Check("smtp login", OK, f"logged in to {who} (nothing sent)"))
    try:
        _, mailbox = load_settings(config_file)
    except RetainError as exc:
        checks.append(Check("imap login", FAIL, str(exc), "fix the mailbox: section"))
        return
    if not mailbox.host or not mailbox.username:
        checks.append(Check("imap login", SKIP, "no mailbox: section (retain inbox not set up)"))
        return
    if example_domain(mailbox.host):
        checks.append(Check("imap login", SKIP, f"{mailbox.host} is the example's server"))
        return
    try:
        source = ImapSource(mailbox, imap_password(mailbox))
        source.open()
        with contextlib.suppress(RetainError):
            source.close()
    except RetainError as exc:
        checks.append(Check("imap login", FAIL, str(exc), _fix_of(str(exc))))
    else:
        checks.append(
            Check("imap login", OK, f"logged in to {mailbox.where} as {mailbox.username}")
        )


def _fix_of(message: str) -> str:
    """The fix an error message carries after its last ';' (retain's messages end so)."""
    return message.rsplit("; ", 1)[1] if "; " in message else ""


# --- fresh data for the nightly run ---------------------------------------------------------

_CRON_LINE = re.compile(r"^\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(.+)$")


@dataclass
class CronRun:
    minute: int
    hour: int
    timezone: str | None
    command: str


def cron_runs(text: str, db: Path) -> tuple[list[CronRun], list[CronRun]]:
    """(retain send runs, retain import runs) in a crontab for this database: daily lines
    with a plain minute and hour. Lines naming another database (--db) are left out."""
    sends, imports = [], []
    timezone = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("CRON_TZ=") or line.startswith("TZ="):
            timezone = line.split("=", 1)[1].strip().strip("\"'") or None
            continue
        match = _CRON_LINE.match(line)
        if not match or "retain" not in match.group(6):
            continue
        minute, hour, command = match.group(1), match.group(2), match.group(6)
        if not (minute.isdigit() and hour.isdigit()):
            continue
        named = re.findall(r"--db[ =](\S+)", command)
        if named and all(Path(n.strip("\"'")).resolve() != db.resolve() for n in named):
            continue
        run = CronRun(int(minute), int(hour), timezone, command)
        if re.search(r"\bretain\S*\s+(?:--db\s+\S+\s+)?send\b", command) or " send " in command:
            sends.append(run)
        if re.search(r"\bimport\b", command):
            imports.append(run)
    return sends, imports


def _next_run(run: CronRun, now: datetime, tz_name: str) -> datetime:
    tz = zone(run.timezone or tz_name)
    local = now.astimezone(tz)
    moment = local.replace(hour=run.hour, minute=run.minute, second=0, microsecond=0)
    if moment <= local:
        moment += timedelta(days=1)
    return moment


def freshness(
    store: Store, crontab: str | None, config: CampaignConfig | None, db: Path, now: datetime
) -> Check:
    """Whether the nightly send will read fresh data: the last import (or an import line in
    the crontab that runs before it) against the send's time."""
    name = "fresh data"
    if crontab is None:
        return Check(name, SKIP, "no crontab to read on this machine")
    sends, imports = cron_runs(crontab, db)
    if not sends:
        return Check(name, SKIP, "no cron line runs 'retain send' ('retain cron' prints one)")
    tz_name = config.timezone if config is not None else "UTC"
    run = min(sends, key=lambda r: _next_run(r, now, tz_name))
    at = _next_run(run, now, tz_name)
    when = f"{at:%Y-%m-%d %H:%M} {run.timezone or tz_name}"
    for line in imports:
        gap = (run.hour * 60 + run.minute - line.hour * 60 - line.minute) % (24 * 60)
        if line is not run and 0 < gap <= 180:
            return Check(
                name,
                OK,
                f"the crontab imports at {line.hour:02d}:{line.minute:02d}, before the send at "
                f"{run.hour:02d}:{run.minute:02d}",
            )
    if "import" in run.command.split(" send")[0]:
        return Check(name, OK, "the cron line imports before it sends")
    last = store.last_import()
    if last is None:
        return Check(
            name,
            FAIL,
            f"nothing imported yet, and the send runs at {when}",
            "import your customers and orders exports before the first nightly send",
        )
    finished = from_iso(last["finished_at"])
    age = at - finished
    hours = age.total_seconds() / 3600
    text = (
        f"the last import ({last['kind']}, {last['file_name']}) finished "
        f"{_age_text(hours)} before the next send at {when}"
    )
    if hours <= FRESH_HOURS:
        return Check(name, OK, text)
    earlier = (at - timedelta(minutes=30)).strftime("%H:%M")
    return Check(
        name,
        FAIL,
        text + ": order triggers and segments will miss everything since",
        f"import fresh exports every day before the send, e.g. a cron line at {earlier} "
        "running 'retain import orders FILE'",
    )


def _age_text(hours: float) -> str:
    if hours < 48:
        return f"{hours:.0f} hours"
    return f"{hours / 24:.0f} days"
