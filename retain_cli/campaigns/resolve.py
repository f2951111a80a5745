"""What the owner settles by hand: ambiguous sends (``retain sends resolve``) and an address
unsubscribed from every campaign (``retain unsubscribe``)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

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


def unsubscribe(store: Store, email: str, reason: str | None) -> bool:
    """Suppress an address for every campaign at once. False if it already was."""
    address = email.strip().lower()
    if "@" not in address or any(c.isspace() for c in address):
        from retain_cli.errors import UsageError

        raise UsageError(f"{email!r} is not an e-mail address")
    text = reason or "unsubscribed by hand"
    return store.suppress(address, text, "cli")
