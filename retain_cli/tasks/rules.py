"""The rules that make the owner's tasks, from what retain already knows.

Each rule reads the database and makes a task for each new case, once (the task's key names
the case): so running them again, from ``retain tasks``, ``retain digest`` or ``retain
inbox``, changes nothing, and a task's due time comes from the case itself (when the reply
arrived, when the answer was given), not from when the rules ran.

- **a customer's reply** (``retain inbox``): answer it, within a day;
- **a detractor** (NPS 0-6, CSAT 1-2) or **a negative comment** (VADER below -0.05, English
  only): call or write within 48 hours; no campaign writes to them until the task is done;
- **a VIP entering at-risk**: a customer who entered lifecycle ``at_risk`` in the last week and
  was rfm ``champions`` before it, is rfm ``cant_lose`` (former champions) now, or is in the top
  tenth by predicted value (``retain predict``);
- **a failed or ambiguous send** in the last two weeks: check the address, or settle it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from retain_cli.errors import RetainError
from retain_cli.store.control import NEGATIVE_SCORE
from retain_cli.timeutil import from_iso, to_iso

if TYPE_CHECKING:
    from retain_cli.store import Store

REPLY_DUE = timedelta(hours=24)
FEEDBACK_DUE = timedelta(hours=48)  # the usual close-the-loop target for a detractor
VIP_DUE = timedelta(hours=72)
SEND_DUE = timedelta(hours=24)
SEND_LOOKBACK = timedelta(days=14)
VIP_WINDOW_DAYS = 7
TOP_SHARE = 0.10
NEGATIVE_SENTIMENT = -0.05  # VADER's own threshold for a negative text


@dataclass
class Refresh:
    """What one run of the rules made, by kind, and what it could not look at."""

    made: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.made.values())


def refresh(store: Store, now: datetime, *, vip: bool = True) -> Refresh:
    """Run every rule once at ``now``; see the module's doc."""
    from retain_cli.feedback.sentiment import score_pending

    result = Refresh()
    score_pending(store)
    for rows in (_replies(store), _feedback(store), _send_problems(store, now)):
        for made_kind, count in _add(store, rows, now).items():
            result.made[made_kind] += count
    if vip:
        try:
            rows = vip_rows(store, now)
        except RetainError as exc:  # no orders yet, too few customers to rank
            result.notes.append(f"VIPs at risk not looked for: {exc}")
            rows = []
        for made_kind, count in _add(store, rows, now).items():
            result.made[made_kind] += count
    return result


def _add(store: Store, rows: list[dict[str, Any]], now: datetime) -> Counter[str]:
    stamp = to_iso(now)
    for row in rows:
        row.setdefault("created_at", stamp)
    made = store.tasks_add(rows)
    kinds = {row["task_key"]: row["kind"] for row in rows}
    found = Counter[str]()
    if made:
        for task in (store.task_get(task_id) for task_id in made):
            if task is not None:
                found[kinds.get(task["task_key"], task["kind"])] += 1
    return found


def _later(moment: str | None, delta: timedelta, floor: datetime | None = None) -> str:
    start = from_iso(moment) if moment else floor
    assert start is not None
    return to_iso(start + delta)


def _who(row: dict[str, Any]) -> str:
    return str(row.get("name") or row.get("email") or row.get("from_email") or "a customer")


def _replies(store: Store) -> list[dict[str, Any]]:
    out = []
    for row in store.task_new_replies():
        if row["handled_at"]:
            continue
        about = f" to {row['campaign']}" if row["campaign"] else ""
        subject = f"Subject: {row['subject']}\n" if row["subject"] else ""
        out.append(
            {
                "task_key": f"reply:{row['id']}",
                "kind": "reply",
                "customer_ref": row["customer_ref"],
                "email": row["from_email"],
                "title": f"Answer {row['from_email']}'s reply{about}",
                "detail": (subject + (row["excerpt"] or "(no text)")).strip(),
                "action": "Answer them yourself, from your mailbox: a reply is a customer "
                "talking to you, and no campaign answers it.",
                "source": f"inbox message {row['id']}",
                "due_at": _later(row["received_at"], REPLY_DUE),
            }
        )
    return out


def negative(row: dict[str, Any]) -> str | None:
    """'detractor' (a low score), 'negative_comment' (a comment VADER finds negative), or
    None."""
    if row["score"] <= NEGATIVE_SCORE.get(row["kind"], -1):
        return "detractor"
    sentiment = row.get("sentiment")
    if sentiment is not None and sentiment <= NEGATIVE_SENTIMENT:
        return "negative_comment"
    return None


def _feedback(store: Store) -> list[dict[str, Any]]:
    out = []
    for row in store.task_new_feedback():
        kind = negative(row)
        if kind is None:
            continue
        scale = "10" if row["kind"] == "nps" else "5"
        said = f": {row['comment']}" if row["comment"] else " (no comment)"
        title = (
            f"Detractor: {row['email']} scored {row['score']}/{scale}"
            if kind == "detractor"
            else f"Negative comment from {row['email']} ({row['score']}/{scale})"
        )
        out.append(
            {
                "task_key": f"feedback:{row['id']}",
                "kind": kind,
                "customer_ref": row["customer_ref"],
                "email": row["email"],
                "title": title,
                "detail": f"{row['kind'].upper()} answer to {row['campaign']}{said}",
                "action": "Call or write to them yourself within 48 hours: thank them, ask "
                "what went wrong and put it right. No campaign writes to them until this task "
                "is done.",
                "source": f"survey answer {row['id']}",
                "due_at": _later(row["answered_at"], FEEDBACK_DUE),
            }
        )
    return out


def _send_problems(store: Store, now: datetime) -> list[dict[str, Any]]:
    out = []
    for row in store.task_new_send_problems(to_iso(now - SEND_LOOKBACK)):
        failed = row["state"] == "failed"
        what = f"{row['campaign']} step {row['step']}"
        if failed:
            title = f"Message to {row['email']} failed"
            action = (
                "Check the address with the customer (in the shop, by phone) and correct it in "
                "your shop platform; the next import brings it in."
            )
        else:
            title = f"Message to {row['email']} may not have arrived"
            action = (
                "Look in your mail provider's log or sent folder, then settle it: retain "
                f"sends resolve '{row['send_key']}' --as sent (or failed, or retry)."
            )
        out.append(
            {
                "task_key": f"send:{row['send_key']}",
                "kind": "send_failed" if failed else "send_ambiguous",
                "customer_ref": row["customer_ref"],
                "email": row["email"],
                "title": title,
                "detail": f"{what}: {row['error'] or row['state']}",
                "action": action,
                "source": f"send {row['send_key']}",
                "due_at": to_iso(now + SEND_DUE),
            }
        )
    return out


# --- VIPs entering at-risk ---------------------------------------------------------------------


def vip_rows(store: Store, now: datetime) -> list[dict[str, Any]]:
    """Tasks for VIPs who entered lifecycle at_risk in the last :data:`VIP_WINDOW_DAYS`."""
    from retain_cli.analytics.segment_snapshots import entered, membership_on

    today = now.date()
    since = today - timedelta(days=VIP_WINDOW_DAYS)
    if store.predict_last_order_day() is None:
        return []
    at_risk = entered(store, "lifecycle", "at_risk", since, today)
    if not at_risk:
        return []
    before = membership_on(store, "rfm", since)
    current = membership_on(store, "rfm", today)
    top = _top_by_value(store, now)
    events = store.customer_events(sorted(at_risk), to_iso(now))
    out = []
    for ref in sorted(at_risk):
        why = []
        if before.get(ref) == "champions":
            why.append(f"rfm champions on {since}")
        if current.get(ref) == "cant_lose":
            why.append("rfm cant_lose now (big spenders who stopped buying)")
        if ref in top:
            why.append(f"top {TOP_SHARE:.0%} by predicted value ({top[ref]:,.2f} in 90 days)")
        if not why:
            continue
        last = events.get(ref, {}).get("last_order")
        last_day = str(last)[:10] if last else "none"
        customer = store.customer_record(ref)
        out.append(
            {
                "task_key": f"vip:{customer['customer_id']}:{last_day}",
                "kind": "vip_at_risk",
                "customer_ref": ref,
                "email": customer["email"],
                "title": f"VIP at risk: {customer['email'] or customer['customer_id']}",
                "detail": f"entered at_risk since {since} (last order {last_day}); a VIP: "
                + "; ".join(why),
                "action": "Get in touch yourself: a call or a hand-written note, about what "
                "they usually buy. A campaign e-mail is no substitute for a valued customer.",
                "source": f"lifecycle at_risk since {since}",
                "due_at": to_iso(now + VIP_DUE),
            }
        )
    return out


def _top_by_value(store: Store, now: datetime) -> dict[int, float]:
    """customer_ref -> predicted value (90 days) for the top tenth of customers."""
    from retain_cli.analytics.predict import predict

    try:
        result = predict(store, as_of=now.date().isoformat(), horizon_days=90.0)
    except RetainError:
        return {}
    ids = list(result.columns["customer_id"])
    values = [float(v) for v in result.columns["predicted_clv"]]
    count = max(int(len(values) * TOP_SHARE), 1) if values else 0
    refs = store.customer_refs_by_id(ids[:count]) if count else {}
    pairs = zip(ids[:count], values[:count], strict=True)
    return {refs[cid]: value for cid, value in pairs if cid in refs}
