"""``retain cron``: the crontab line for a nightly run, and what cron needs to know that an
interactive shell has (the SMTP password)."""

from __future__ import annotations

from pathlib import Path


def cron_advice(config: Path) -> list[str]:
    """What a cron run needs that an interactive shell has: cron starts with an empty
    environment, so a password kept in an environment variable is not there. Returns comment
    lines for the crontab (never the password itself)."""
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
    return [
        f"# cron does not see your shell's {env}: store the SMTP password in the system",
        f"# keyring once ('keyring set {service} {smtp.username}'), or set {env}=... at the",
        "# top of this crontab (then keep the crontab private: crontab files are yours only).",
    ]


def cron_entry(
    *,
    at: str,
    db: Path,
    config: Path,
    log: Path | None = None,
    executable: str | None = None,
) -> str:
    """A crontab line for a nightly run: send, appending its output to a log file. The send
    also keeps the day's segment snapshot that ``entered_segment`` triggers compare against
    (the only command that records snapshots). Absolute paths throughout."""
    import shlex
    import sys

    from retain_cli.errors import UsageError

    try:
        hour, minute = (int(part) for part in at.split(":"))
        if not (0 <= hour <= 23 and 0 <= minute <= 59) or len(at.split(":")[1]) != 2:
            raise ValueError
    except ValueError:
        raise UsageError(f"--at {at!r} is not a time; write HH:MM such as 06:30") from None
    db = db.expanduser().absolute()
    config = config.expanduser().absolute()
    log = (log or db.with_name("retain-send.log")).expanduser().absolute()
    if executable is None:
        script = Path(sys.executable).with_name("retain")
        command = (
            shlex.quote(str(script))
            if script.exists()
            else f"{shlex.quote(sys.executable)} -m retain_cli"
        )
    else:
        command = shlex.quote(executable)
    q = shlex.quote
    base = f"{command} --db {q(str(db))}"
    return (
        f"{minute} {hour} * * * cd {q(str(db.parent))} && "
        f"{base} send --config {q(str(config))} --yes >> {q(str(log))} 2>&1"
    )
