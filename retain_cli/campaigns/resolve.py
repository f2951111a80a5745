"""What the owner settles by hand: ambiguous sends (``retain sends resolve``), an address
unsubscribed from every campaign (``retain unsubscribe``), and a wrong opt-out lifted
(``retain suppressions remove``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from retain_cli.errors import SendError
from retain_cli.timeutil import to_iso, utc_now

if TYPE_CHECKING:
    from retain_cli.store import Store

RESOLVE_STATES = {"sent": "sent", "failed": "failed", "retry": "planned"}


def resolve_sends(
    store: Store,
    *,
    key: str | None,
    campaign: str | None,
    outcome: str,
    now: datetime | None = None,
) -> int:
    """Settle ambiguous sends by hand (a key, or every ambiguous send of a campaign).

    ``sent``: it did arrive (counts for limits and reports); ``failed``: it did not, leave it;
    ``retry``: it did not, send it on the next run. A single key may also be a failed send
    (to retry it). Returns the number of rows changed.
    """
    if outcome not in RESOLVE_STATES:
        raise SendError(f"--as {outcome!r}: use sent, failed or retry")
    if (key is None) == (campaign is None):
        from retain_cli.errors import UsageError

        raise UsageError("give either a send KEY or --campaign NAME (see 'retain sends')")
    moment = to_iso(now or utc_now())
    if key is not None:
        state = store.ledger_key_state(key)
        if state is None:
            from retain_cli.errors import NotFound

            raise NotFound(f"no send with key {key!r}; keys are listed by 'retain sends'")
        allowed = ("ambiguous", "failed") if outcome == "retry" else ("ambiguous",)
        if state not in allowed:
            from retain_cli.errors import UsageError

            raise UsageError(
                f"send {key!r} is {state}, not ambiguous; only ambiguous sends are settled "
                "by hand (a failed one may be retried with --as retry)"
            )
        rows = store.ledger_find(key=key, states=allowed)
    else:
        rows = store.ledger_find(campaign=campaign, states=("ambiguous",))
    note = f"resolved by hand as {outcome} at {moment}"
    return store.ledger_resolve([r.id for r in rows], RESOLVE_STATES[outcome], moment, note)


def unsubscribe(store: Store, email: str, reason: str | None, *, force: bool = False) -> bool:
    """Suppress an address for every campaign at once. False if it already was.

    An address no customer has is most likely a typo, which would leave the real customer
    mailable: it raises :class:`NotFound` naming the close addresses, unless ``force`` (to
    block an address before it is imported)."""
    from retain_cli.errors import NotFound, UsageError

    address = email.strip().lower()
    if "@" not in address or any(c.isspace() for c in address):
        raise UsageError(f"{email!r} is not an e-mail address")
    if not force and store.customer_ref_by_email(address) is None:
        if store.is_suppressed(address):
            return False
        from retain_cli.analytics.customers import similar_customers

        close = [k for k in similar_customers(store, address, limit=3) if "@" in k]
        hint = ""
        if close:
            hint = f" Did you mean {' or '.join([', '.join(close[:-1]), close[-1]][-2:])}?"
        raise NotFound(
            f"no customer has the address {address!r}.{hint} Nothing was changed; to block "
            "an address that is not imported yet, add --force."
        )
    text = reason or "unsubscribed by hand"
    return store.suppress(address, text, "cli")


_INBOX_BOUNCE = re.compile(r"^(?:hard bounce|\d+ soft bounces)")


def is_bounce(suppression: dict[str, Any]) -> bool:
    """Whether an opt-out came from a bounce (the server said the mailbox does not exist, or
    the mailbox got bounce reports) rather than from the customer (an unsubscribe request,
    an export's opt-out, the owner's ``retain unsubscribe``)."""
    source = suppression["source"]
    return source == "bounce" or (
        source == "inbox" and bool(_INBOX_BOUNCE.match(str(suppression["reason"])))
    )


@dataclass(frozen=True, slots=True)
class Lifted:
    """An opt-out lifted by ``retain suppressions remove``: what it was, and the failed sends
    to the address (they stay failed; each may be sent again by hand)."""

    email: str
    was: dict[str, Any]
    failed_keys: list[str]


def remove_suppression(
    store: Store, email: str, note: str, *, force: bool = False, now: datetime | None = None
) -> Lifted:
    """Lift a wrong opt-out (a bounce misread, a typo fixed by hand), recorded with ``note``.

    An opt-out the customer asked for (an unsubscribe, an export's opt-out, 'retain
    unsubscribe') is lifted only with ``force``: only the customer can take it back."""
    from retain_cli.errors import NotFound, UsageError

    address = email.strip().lower()
    note = " ".join(note.split())
    if not note:
        raise UsageError("--note is empty; say why the suppression was wrong (it is kept)")
    current = store.suppression(address)
    if current is None:
        raise NotFound(f"{address} is not suppressed; 'retain suppressions list' shows who is")
    if not is_bounce(current) and not force:
        raise UsageError(
            f"{address} opted out ({current['reason']}; source: {current['source']}, since "
            f"{current['created_at']}); only the customer can take that back: add --force "
            "if they asked to get mail again"
        )
    was = store.suppression_remove(address, note, to_iso(now or utc_now()))
    if was is None:  # lifted by someone else meanwhile
        raise NotFound(f"{address} is not suppressed any more")
    return Lifted(address, was, store.failed_send_keys(address))
