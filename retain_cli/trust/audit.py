"""The audit log: what retain did with customers' data, when, and who or what did it.

Imports, messages sent and consent changes are written by triggers in the database (so no
code path can miss one); exports, erasures and purges by :func:`record`. An entry names
customers by their internal number (``customer #12``), never by address or name, so the log
keeps its meaning after an erasure and holds nothing to erase. The log is append-only: the
database refuses to change or delete an entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retain_cli.errors import UsageError
from retain_cli.timeutil import to_iso, utc_now_iso

if TYPE_CHECKING:
    from datetime import datetime

    from retain_cli.store import Store

ACTIONS = ("import", "send", "consent", "export", "erase", "purge")
COLUMNS = ("at", "action", "actor", "subject", "detail")


def who(command: str) -> str:
    """The person at the keyboard (the login name) and the command, for an entry's actor."""
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        user = "unknown user"
    return f"{user} ({command})"


def subject_of(ref: int) -> str:
    return f"customer #{ref}"


def record(store: Store, action: str, command: str, subject: str | None, detail: str) -> None:
    """Append one entry for something done now by ``command`` (``retain customers erase``)."""
    if action not in ACTIONS:
        raise ValueError(action)
    store.audit(utc_now_iso(), who(command), action, subject, detail)


@dataclass(frozen=True)
class AuditLog:
    entries: list[dict[str, Any]]
    counts: dict[str, int]  # every entry in the log, per action


def audit_log(
    store: Store,
    *,
    actions: Sequence[str] = (),
    customer: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> AuditLog:
    """Entries, newest first: of these ``actions``, about one ``customer`` (an address, id
    or ``#12``), from ``since`` on, at most ``limit``."""
    for action in actions:
        if action not in ACTIONS:
            raise UsageError(f"--action {action!r} is not one of {', '.join(ACTIONS)}")
    if limit is not None and limit < 0:
        raise UsageError(f"--limit must be 0 or more, not {limit}")
    subject = None
    if customer is not None:
        text = customer.strip()
        if text.startswith("#") and text[1:].isdigit():
            subject = subject_of(int(text[1:]))
        else:
            from retain_cli.analytics.customers import find_customer

            subject = subject_of(find_customer(store, text))
    entries = store.audit_entries(
        actions=actions,
        subject=subject,
        since=to_iso(since) if since is not None else None,
        limit=limit,
    )
    return AuditLog(entries, store.audit_counts())
