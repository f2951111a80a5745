"""``retain tasks``: the owner's to-do list, one task with its customer's context, done and
snoozed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from retain_cli.errors import NotFound, UsageError
from retain_cli.timeutil import to_iso

if TYPE_CHECKING:
    from retain_cli.store import Store

KINDS = (
    "reply",
    "detractor",
    "negative_comment",
    "vip_at_risk",
    "send_failed",
    "send_ambiguous",
    "campaign_step",
)
RECENT_ORDERS = 3


def state_of(task: dict[str, Any], now: str) -> str:
    if task["done_at"]:
        return "done"
    if task["snoozed_until"] and task["snoozed_until"] > now:
        return "snoozed"
    return "overdue" if task["due_at"] < now else "open"


def list_tasks(
    store: Store, now: datetime, *, everything: bool = False, kind: str | None = None
) -> list[dict[str, Any]]:
    """Open tasks, earliest due first (``everything``: snoozed and done ones too), each with
    its ``state`` (open, overdue, snoozed, done) and ``who`` (the customer)."""
    if kind is not None and kind not in KINDS:
        raise UsageError(f"--kind {kind!r} is not one of {', '.join(KINDS)}")
    stamp = to_iso(now)
    rows = store.tasks_list(stamp, done=everything, snoozed=everything, kind=kind)
    for row in rows:
        row["state"] = state_of(row, stamp)
        row["who"] = row["name"] or row["customer_email"] or row["customer_id"] or ""
    return rows


def _task(store: Store, task_id: int) -> dict[str, Any]:
    task = store.task_get(task_id)
    if task is None:
        raise NotFound(f"no task {task_id}; 'retain tasks' lists the open ones")
    return task


@dataclass
class TaskDetail:
    """One task, and the customer's context: who they are, their figures and segments, their
    last orders and what they wrote lately."""

    task: dict[str, Any]
    customer: dict[str, Any] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    wrote: list[dict[str, Any]] = field(default_factory=list)
    other_tasks: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "customer": self.customer,
            "last_orders": self.orders,
            "wrote": self.wrote,
            "other_open_tasks": self.other_tasks,
        }


def task_detail(store: Store, task_id: int, now: datetime) -> TaskDetail:
    """``retain tasks show``: the task and its customer's context."""
    from retain_cli.analytics.customers import customer_profile

    task = _task(store, task_id)
    stamp = to_iso(now)
    task["state"] = state_of(task, stamp)
    detail = TaskDetail(task)
    ref = task["customer_ref"]
    if ref is None:
        return detail
    profile = customer_profile(store, task["customer_id"])
    summary = profile.summary()
    detail.customer = {
        key: summary[key]
        for key in ("customer_id", "email", "name", "phone", "tags", "can_email")
        if key in summary
    }
    detail.customer.update(
        {
            "segments": _segments(store, ref, now),
            "orders": profile.orders,
            "total_spent": profile.total_spent,
            "currency": profile.currency,
            "first_order_at": profile.first_order_at,
            "last_order_at": profile.last_order_at,
        }
    )
    countable = [o for o in profile.history if not o["cancelled_at"]]
    detail.orders = [
        {
            "order_id": o["order_id"],
            "ordered_at": o["ordered_at"],
            "items": o["items"],
            "net": o["net"],
            "currency": o["currency"],
        }
        for o in reversed(countable[-RECENT_ORDERS:])
    ]
    detail.wrote = store.task_customer_messages(ref)
    detail.other_tasks = [
        {"id": t["id"], "title": t["title"], "due_at": t["due_at"]}
        for t in store.tasks_list(stamp, customer_ref=ref)
        if t["id"] != task_id
    ]
    return detail


def _segments(store: Store, ref: int, now: datetime) -> str:
    """``rfm: champions, lifecycle: active`` on the day of ``now`` (a stored snapshot, else
    computed and kept)."""
    from retain_cli.analytics.segment_snapshots import membership_on

    parts = []
    for scheme in ("rfm", "lifecycle"):
        segment = membership_on(store, scheme, now.date()).get(ref)
        parts.append(f"{scheme}: {segment or 'prospect'}")
    return ", ".join(parts)


def mark_done(store: Store, task_id: int, now: datetime, note: str | None) -> dict[str, Any]:
    """Mark a task done, with a note of what was done."""
    task = _task(store, task_id)
    if task["done_at"]:
        raise UsageError(f"task {task_id} was done already (at {task['done_at']})")
    store.task_done(task_id, to_iso(now), note.strip() if note else None)
    return _task(store, task_id)


def snooze(store: Store, task_id: int, until: datetime) -> dict[str, Any]:
    """Hide a task until ``until``."""
    task = _task(store, task_id)
    if task["done_at"]:
        raise UsageError(f"task {task_id} is done; there is nothing to snooze")
    store.task_snooze(task_id, to_iso(until))
    return _task(store, task_id)


def snooze_until(text: str, now: datetime, timezone: str) -> datetime:
    """``3d``, ``12h``, ``1w`` from now, or a day ``YYYY-MM-DD`` (its start in the shop's time
    zone)."""
    from datetime import date, time

    from retain_cli.campaigns.model import parse_interval
    from retain_cli.timeutil import zone

    try:
        return now + parse_interval(text)
    except ValueError:
        pass
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--for {text!r} is neither a time (3d, 12h, 1w) nor a day (YYYY-MM-DD)"
        ) from None
    moment = datetime.combine(day, time(0, 0), zone(timezone))
    if moment <= now:
        raise UsageError(f"{day} is not in the future; snooze to a later day")
    return moment


def due_in(task: dict[str, Any], now: datetime) -> str:
    """``in 5h``, ``2d overdue``: when the task is due, from ``now``."""
    from retain_cli.timeutil import from_iso

    delta = from_iso(task["due_at"]) - now
    late = delta < timedelta(0)
    hours = abs(delta.total_seconds()) / 3600
    text = f"{hours:.0f}h" if hours < 48 else f"{hours / 24:.0f}d"
    return f"{text} overdue" if late else f"in {text}"
