"""The campaign file's ``mailbox:`` section: where ``retain inbox`` reads the shop's mail.

::

    mailbox:
      host: imap.example.com
      port: 993                      # default: 993 for ssl, 143 otherwise
      security: ssl                  # ssl | starttls | none
      username: hello@rosies.example
      password_env: RETAIN_IMAP_PASSWORD   # else the keyring (keyring_service: retain-imap)
      folder: INBOX
      processed_flag: $RetainProcessed     # IMAP keyword set on each processed message
      processed_folder: Retain             # or move processed messages here (never deleted)
      tls_verify: true               # as the transport's: check the server's certificate
      tls_ca_file: /path/to/ca.pem   # trust this CA too (a self-signed server)
      languages: [en, de]            # unsubscribe words understood (default: all known)
      soft_bounce_limit: 3           # soft bounces before an address is suppressed
      unsubscribe_address: unsubscribe@rosies.example   # default: sender.unsubscribe's

The password itself never goes in the file (:mod:`retain_cli.secrets`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from retain_cli.campaigns.yamlcheck import Where, as_text, check_keys, path_from

Security = Literal["ssl", "starttls", "none"]
KEYS = (
    "host",
    "port",
    "security",
    "username",
    "password_env",
    "keyring_service",
    "folder",
    "processed_flag",
    "processed_folder",
    "tls_verify",
    "tls_ca_file",
    "timeout",
    "languages",
    "soft_bounce_limit",
    "unsubscribe_address",
)
DEFAULT_FLAG = "$RetainProcessed"
DEFAULT_SOFT_BOUNCE_LIMIT = 3
ATOM = re.compile(r"^\$?[A-Za-z0-9_.+-]+$")  # an IMAP keyword we are willing to set


@dataclass(frozen=True, slots=True)
class MailboxSettings:
    """How to reach and mark the shop's mailbox; what the words and limits are."""

    host: str | None
    port: int
    security: Security
    username: str | None
    password_env: str | None
    keyring_service: str | None
    folder: str
    processed_flag: str
    processed_folder: str | None
    tls_verify: bool
    tls_ca_file: Path | None
    timeout: float
    languages: tuple[str, ...] | None  # None: every language retain knows
    soft_bounce_limit: int
    unsubscribe_address: str | None

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def parse_mailbox(data: Any, path: Path) -> MailboxSettings:
    """Validate the ``mailbox:`` mapping (None or missing: defaults, no server)."""
    from retain_cli.mailbox.words import LANGUAGES

    where = Where(path)
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise where.error("mailbox", "must be a mapping of keys (host, username, folder ...)")
    check_keys(data, KEYS, where, "mailbox.", elsewhere={}, listed_as="allowed")
    security = data.get("security", "ssl")
    if security is False:  # YAML reads a bare no/off as false
        security = "none"
    if security not in ("ssl", "starttls", "none"):
        raise where.error("mailbox.security", f"must be ssl, starttls or none, not {security!r}")
    port = data.get("port", 993 if security == "ssl" else 143)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise where.error("mailbox.port", f"must be a port number 1-65535, not {port!r}")
    env = _text(data, "password_env", where)
    if env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", env):
        raise where.error(
            "mailbox.password_env",
            f"{env!r} is not an environment variable name (e.g. RETAIN_IMAP_PASSWORD)",
        )
    flag = _text(data, "processed_flag", where) or DEFAULT_FLAG
    if not ATOM.match(flag):
        raise where.error(
            "mailbox.processed_flag", f"{flag!r} is not an IMAP keyword; write e.g. {DEFAULT_FLAG}"
        )
    verify = data.get("tls_verify", True)
    if not isinstance(verify, bool):
        raise where.error("mailbox.tls_verify", f"must be true or false, not {verify!r}")
    ca_text = _text(data, "tls_ca_file", where)
    ca_file = None
    if ca_text is not None:
        ca_file = path_from(ca_text, path.absolute().parent)
        if not ca_file.is_file():
            raise where.error("mailbox.tls_ca_file", f"no file at {ca_file}")
    timeout = data.get("timeout", 30)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise where.error("mailbox.timeout", f"must be a number of seconds, not {timeout!r}")
    languages = data.get("languages")
    if languages is not None:
        if isinstance(languages, str):
            languages = [languages]
        if not isinstance(languages, list) or not all(x in LANGUAGES for x in languages):
            raise where.error(
                "mailbox.languages", f"must be a list of {', '.join(LANGUAGES)}, not {languages!r}"
            )
    limit = data.get("soft_bounce_limit", DEFAULT_SOFT_BOUNCE_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise where.error(
            "mailbox.soft_bounce_limit", f"must be a whole number from 1, not {limit!r}"
        )
    unsubscribe = _text(data, "unsubscribe_address", where)
    if unsubscribe is not None and not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", unsubscribe):
        raise where.error(
            "mailbox.unsubscribe_address", f"{unsubscribe!r} is not an e-mail address"
        )
    return MailboxSettings(
        host=_text(data, "host", where),
        port=port,
        security=cast(Security, security),
        username=_text(data, "username", where),
        password_env=env,
        keyring_service=_text(data, "keyring_service", where),
        folder=_text(data, "folder", where) or "INBOX",
        processed_flag=flag,
        processed_folder=_text(data, "processed_folder", where),
        tls_verify=verify,
        tls_ca_file=ca_file,
        timeout=float(timeout),
        languages=None if languages is None else tuple(languages),
        soft_bounce_limit=limit,
        unsubscribe_address=None if unsubscribe is None else unsubscribe.lower(),
    )


def _text(data: Mapping[str, Any], key: str, where: Where) -> str | None:
    value = data.get(key)
    one_line = isinstance(value, str) and "\n" not in value and "\r" not in value
    if value is None or one_line or (isinstance(value, str) and not value.strip()):
        return as_text(value, where, f"mailbox.{key}", required=False)
    raise where.error(f"mailbox.{key}", f"must be text on one line, not {value!r}")


NO_MAILBOX_NOTE = (
    "# no mailbox: section in the campaign file, so replies, unsubscribe mails and bounces",
    "# are not read; add one (see 'retain inbox --help') and run 'retain cron' again",
)


def cron_mailbox(config_file: Path) -> tuple[bool, list[str]]:
    """For ``retain cron``: whether the nightly run reads the mailbox (the campaign file names
    a server and a login, and the server is not the example's), and the crontab's comment
    lines about it (where the IMAP password must come from: cron does not see the shell's
    environment; or why the mailbox is not read)."""
    import yaml

    from retain_cli.campaigns.cron import password_advice
    from retain_cli.campaigns.placeholders import example_domain
    from retain_cli.secrets import DEFAULT_IMAP_KEYRING_SERVICE, DEFAULT_IMAP_PASSWORD_ENV

    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    section = data.get("mailbox") if isinstance(data, Mapping) else None
    settings = parse_mailbox(section, config_file)
    if not settings.host or not settings.username:
        return False, list(NO_MAILBOX_NOTE)
    if example_domain(settings.host):
        return False, [
            f"# mailbox.host is still the example's {settings.host}, so replies, unsubscribe",
            "# mails and bounces are not read; put your IMAP server there and run 'retain",
            "# cron' again",
        ]
    env = settings.password_env or DEFAULT_IMAP_PASSWORD_ENV
    service = settings.keyring_service or DEFAULT_IMAP_KEYRING_SERVICE
    return True, password_advice("IMAP", env, service, settings.username)
