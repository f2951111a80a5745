"""What ``retain send`` leaves to the owner: the kill switch (``retain pause``), the approval
queue (``approval: required``) and ``channel: task`` steps.

:func:`run_send <retain_cli.campaigns.send.run_send>` asks :func:`paused` first (a pause of
every campaign stops the run before anything is planned; a paused campaign is left out),
then, after recording the plan, hands each due ``channel: task`` step to the owner as a task
(:func:`hand_over_tasks`; the ledger row is marked sent: the step happened, as a to-do) and
puts each due message of an ``approval: required`` campaign in the approval queue
(:func:`queue_for_approval`; the ledger row waits as ``queued``). A message approved with
``retain queue approve`` goes back to ``planned`` and is sent by the next run exactly as it
was approved (:func:`with_approved`). Between batches the dispatcher asks :func:`paused`
again, so ``retain pause --all`` stops a send that is running.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING

from retain_cli.campaigns.dispatch import Builder, Waiting
from retain_cli.store.ledger import LedgerRow
from retain_cli.timeutil import to_iso

if TYPE_CHECKING:
    from retain_cli.campaigns.coupons import CouponDesk
    from retain_cli.campaigns.model import CampaignConfig
    from retain_cli.store import Store

ALL = "*"
TASK_DUE = timedelta(hours=24)


def pause_text(pause: Mapping[str, object]) -> str:
    scope = "every campaign" if pause["scope"] == ALL else f"campaign {pause['scope']}"
    why = f": {pause['reason']}" if pause.get("reason") else ""
    return f"{scope} paused since {pause['paused_at']}{why} ('retain resume' to send again)"


def paused(store: Store, campaigns: Sequence[str]) -> tuple[str | None, list[str]]:
    """(why every campaign is paused, or None; the campaigns of ``campaigns`` paused one by
    one)."""
    pauses = store.pauses()
    for pause in pauses:
        if pause["scope"] == ALL:
            return pause_text(pause), list(campaigns)
    scopes = {str(p["scope"]) for p in pauses}
    return None, [name for name in campaigns if name in scopes]


def pause_check(store: Store) -> Callable[[], str | None]:
    """For the dispatcher, between batches: why sending must stop now (a pause of every
    campaign made while the run was sending), or None."""

    def check() -> str | None:
        found, _ = paused(store, [])
        return found

    return check


# --- channel: task ---------------------------------------------------------------------------


def task_rows(config: CampaignConfig, rows: Sequence[LedgerRow]) -> list[LedgerRow]:
    """The rows of ``channel: task`` steps."""
    out = []
    for row in rows:
        campaign = next((c for c in config.campaigns if c.name == row.campaign), None)
        if campaign is not None and any(s.index == row.step and s.is_task for s in campaign.steps):
            out.append(row)
    return out


def hand_over_tasks(
    store: Store, config: CampaignConfig, campaigns: Sequence[str], as_of: datetime, now: datetime
) -> int:
    """Each due ``channel: task`` step becomes a task (its subject the title, its rendered
    template the suggested action), due within a day; the ledger row is marked sent (the
    step happened). Idempotent: a run killed in between makes the task once."""
    from retain_cli.campaigns.context import load_contexts
    from retain_cli.campaigns.templating import Renderer

    rows = task_rows(config, store.ledger_pending(campaigns))
    if not rows:
        return 0
    contexts = load_contexts(store, config, [r.customer_ref for r in rows], as_of)
    renderer = Renderer(config)
    stamp = to_iso(now)
    made = 0
    for row in rows:
        campaign = config.campaign(row.campaign)
        step = campaign.step(row.step)
        context = contexts.get(row.customer_ref)
        try:
            if context is None:
                raise ValueError("the customer no longer exists or has no e-mail address")
            rendered = renderer.render(campaign, step, context)
        except Exception as exc:  # one bad template or customer never stops the run
            store.ledger_settle(row.id, "failed", stamp, error=f"cannot make the task: {exc}")
            continue
        label = (
            f"step {step.index} of {campaign.name}" if len(campaign.steps) > 1 else campaign.name
        )
        store.tasks_add(
            [
                {
                    "task_key": f"step:{row.send_key}",
                    "kind": "campaign_step",
                    "customer_ref": row.customer_ref,
                    "email": row.email,
                    "title": rendered.subject,
                    "detail": f"campaign {label} (channel: task)",
                    "action": rendered.text.strip(),
                    "source": row.send_key,
                    "created_at": stamp,
                    "due_at": to_iso(now + TASK_DUE),
                }
            ]
        )
        task = store.task_keys([f"step:{row.send_key}"])
        store.ledger_settle(row.id, "sent", stamp, reply="a task for the owner (retain tasks)")
        made += bool(task)
    return made


# --- approval: required ----------------------------------------------------------------------


def queue_for_approval(
    store: Store,
    config: CampaignConfig,
    campaigns: Sequence[str],
    build: Builder,
    now: datetime,
    desk: CouponDesk | None = None,
) -> tuple[int, list[str]]:
    """Render each due message of an ``approval: required`` campaign and put it in the
    approval queue (the ledger row waits as ``queued``; the coupon code ``desk`` set aside
    for it is given now); messages approved already are left for the dispatcher. Returns
    (queued, errors); a message that cannot be built fails (one waiting for a coupon code
    stays planned)."""
    wanted = {c.name for c in config.campaigns if c.approval and c.name in campaigns}
    if not wanted:
        return 0, []
    rows = [r for r in store.ledger_pending(sorted(wanted)) if not task_rows(config, [r])]
    approved = store.queue_approved([r.send_key for r in rows])
    rows = [r for r in rows if r.send_key not in approved]
    if not rows:
        return 0, []
    stamp = to_iso(now)
    messages = build(rows)
    queued: list[dict[str, object]] = []
    errors: list[str] = []
    ready: list[LedgerRow] = []
    for row in rows:
        message = messages.get(row.id)
        if isinstance(message, Waiting):
            continue  # stays planned; the dispatcher meets it again and counts it
        if not isinstance(message, EmailMessage):
            error = message if isinstance(message, str) else "message was not built"
            store.ledger_settle(row.id, "failed", stamp, error=error)
            errors.append(f"{row.send_key}: {error}")
            continue
        queued.append(
            {
                "send_key": row.send_key,
                "campaign": row.campaign,
                "customer_ref": row.customer_ref,
                "email": row.email,
                "subject": str(message.get("Subject") or ""),
                "message": message.as_bytes(),
            }
        )
        ready.append(row)
    if desk is not None:
        desk.attach(ready)
    return store.queue_add(queued, stamp), errors


class _WithApproved(Mapping[int, "EmailMessage | str"]):
    """A batch's messages: approved ones as they were approved, the others built."""

    def __init__(self, approved: dict[int, EmailMessage | str], built: Mapping[int, object]):
        self._approved = approved
        self._built = built

    def __getitem__(self, key: int) -> EmailMessage | str:
        if key in self._approved:
            return self._approved[key]
        value = self._built[key]
        assert isinstance(value, EmailMessage | str)
        return value

    def __iter__(self) -> Iterator[int]:
        yield from self._approved
        yield from self._built

    def __len__(self) -> int:
        return len(self._approved) + len(self._built)


def with_approved(store: Store, config: CampaignConfig, build: Builder) -> Builder:
    """The dispatcher's builder, sending an approved message exactly as it was approved (a
    fresh Date header; the address it was approved for)."""

    def wrapped(rows: Sequence[LedgerRow]) -> Mapping[int, EmailMessage | str]:
        approved = store.queue_approved([r.send_key for r in rows]) if rows else {}
        if not approved:
            return build(rows)
        ready: dict[int, EmailMessage | str] = {}
        for row in rows:
            raw = approved.get(row.send_key)
            if raw is not None:
                ready[row.id] = _approved_message(raw, row, config)
        others = [r for r in rows if r.id not in ready]
        return _WithApproved(ready, build(others) if others else {})

    return wrapped


def _approved_message(raw: bytes, row: LedgerRow, config: CampaignConfig) -> EmailMessage | str:
    from email.utils import format_datetime

    from retain_cli.campaigns.message import BuiltMessage, envelope_sender
    from retain_cli.timeutil import utc_now

    date = format_datetime(utc_now())

    head, _, body = raw.partition(b"\r\n\r\n")
    headers: list[tuple[str, str]] = []
    for line in head.decode("ascii", "replace").split("\r\n"):
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + "\r\n" + line)
        else:
            name, _, value = line.partition(": ")
            headers.append((name, date if name.lower() == "date" else value))
    to = next((v for n, v in headers if n.lower() == "to"), "")
    if row.email.lower() not in to.lower():
        return (
            f"the customer's address changed to {row.email} after the message was approved "
            f"for {to}; not sent (it is in 'retain sends' as failed)"
        )
    text = "".join(f"{n}: {v}\r\n" for n, v in headers).encode("ascii", "replace")
    return BuiltMessage(
        text + b"\r\n" + body, headers, envelope_sender(config.sender, row.send_key)
    )
