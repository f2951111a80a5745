"""The owner's hand on sending: ``retain pause`` / ``retain resume`` (the kill switch that
``retain send`` honours), ``retain queue`` (messages of ``approval: required`` campaigns
waiting for a yes), and ``retain customers tag`` (``human_only``: never in an automated
campaign)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from retain_cli.errors import NotFound, UsageError
from retain_cli.timeutil import to_iso

if TYPE_CHECKING:
    from retain_cli.campaigns.model import CampaignConfig
    from retain_cli.store import Store

ALL = "*"
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,40}$")


def pause(
    store: Store,
    campaigns: Sequence[str],
    *,
    everything: bool,
    reason: str | None,
    now: datetime,
    config: CampaignConfig | None,
) -> list[tuple[str, bool]]:
    """Pause every campaign (``everything``) or the ones named; (scope, newly paused)."""
    if everything == bool(campaigns):
        raise UsageError("name the campaigns to pause, or pass --all for every campaign")
    if config is not None:
        for name in campaigns:
            config.campaign(name)  # NotFound with the names there are
    scopes = [ALL] if everything else list(dict.fromkeys(campaigns))
    return [(scope, store.pause_set(scope, reason, to_iso(now))) for scope in scopes]


def resume(store: Store, campaigns: Sequence[str], *, everything: bool) -> list[str]:
    """Lift pauses: every one (``everything``), else the campaigns named (``*``: the pause of
    every campaign). Returns the scopes lifted."""
    if everything and campaigns:
        raise UsageError("pass --all, or name campaigns, not both")
    if not everything and not campaigns:
        return store.pause_clear([ALL])
    return store.pause_clear(None if everything else list(campaigns))


def pauses(store: Store) -> list[dict[str, Any]]:
    return store.pauses()


# --- the approval queue ----------------------------------------------------------------------


def queue_list(store: Store, *, everything: bool = False) -> list[dict[str, Any]]:
    return store.queue_list(None if everything else "pending")


def queue_message(store: Store, queue_id: int) -> dict[str, Any]:
    """One queued message: its row and the text its recipient would read."""
    from email import policy
    from email.parser import BytesParser

    row = store.queue_get(queue_id)
    if row is None:
        raise NotFound(f"no message {queue_id} in the approval queue; see 'retain queue list'")
    message = BytesParser(policy=policy.default).parsebytes(bytes(row.pop("message")))
    body = message.get_body(preferencelist=("plain",))
    row["headers"] = {
        name: str(message[name]) for name in ("From", "To", "Reply-To", "Subject") if message[name]
    }
    row["text"] = body.get_content() if body is not None else ""
    return row


def decide(
    store: Store,
    ids: Sequence[int],
    *,
    approve: bool,
    now: datetime,
    note: str | None = None,
    everything: bool = False,
    campaign: str | None = None,
) -> int:
    """Approve (the next 'retain send' sends them as they are) or reject (never sent) queued
    messages: the ids named, or every pending one (``everything``, optionally of one
    campaign)."""
    if everything == bool(ids):
        verb = "approve" if approve else "reject"
        raise UsageError(f"name the messages to {verb} (see 'retain queue list'), or pass --all")
    if everything:
        ids = store.queue_pending_ids(campaign)
    else:
        for queue_id in ids:
            row = store.queue_get(queue_id)
            if row is None:
                raise NotFound(f"no message {queue_id} in the approval queue")
            if row["state"] != "pending":
                raise UsageError(
                    f"message {queue_id} was {row['state']} already ({row['decided_at']})"
                )
    return store.queue_decide(list(ids), approve, to_iso(now), note)


# --- retain's own tags -----------------------------------------------------------------------


def tag(
    store: Store, key: str, name: str, *, remove: bool, note: str | None, now: datetime
) -> tuple[str, bool]:
    """Set (or remove) one of retain's own tags on a customer (``human_only``: never in an
    automated campaign). Returns (the customer's id, changed)."""
    from retain_cli.analytics.customers import find_customer

    text = name.strip().lower().replace("-", "_")
    if not TAG_RE.match(text):
        raise UsageError(f"{name!r} is not a tag; use letters, digits and _ (e.g. human_only)")
    ref = find_customer(store, key)
    record = store.customer_record(ref)
    if remove:
        changed = store.tag_remove(ref, text)
        if not changed and store.platform_tagged(ref, text):
            raise UsageError(
                f"{record['customer_id']} has the tag {text} from the shop platform "
                "(customers.tags); remove it there and import the customers again"
            )
        return str(record["customer_id"]), changed
    return str(record["customer_id"]), store.tag_add(ref, text, note, to_iso(now))
