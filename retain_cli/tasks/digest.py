"""``retain digest``: the owner's day on one page, printed or e-mailed.

What was sent and what failed, what came back (replies, unsubscribes, bounces, survey
answers, detractors), the VIPs at risk, the tasks due, and the shop's figures from ``retain
metrics`` (the last 30 days) and the feedback scores (the last 90). The rules that make tasks
run first (:func:`retain_cli.tasks.rules.refresh`), so the tasks it counts are up to date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from retain_cli.errors import SendError
from retain_cli.tasks.rules import Refresh, refresh
from retain_cli.tasks.todo import due_in, list_tasks
from retain_cli.timeutil import to_iso

if TYPE_CHECKING:
    from retain_cli.campaigns.model import CampaignConfig
    from retain_cli.store import Store

METRICS = (
    ("active_customers", "active customers"),
    ("new_customers", "new customers"),
    ("orders", "orders"),
    ("revenue", "revenue"),
    ("repeat_purchase_rate", "repeat purchase rate"),
    ("churn_rate", "churn rate"),
)
LISTED = 8


@dataclass
class Digest:
    since: datetime
    until: datetime
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    vips: list[str] = field(default_factory=list)
    made: Refresh = field(default_factory=Refresh)
    notes: list[str] = field(default_factory=list)
    zone: str = "UTC"

    def text(self) -> str:
        """The digest as plain text (at most 78 columns a line, as an e-mail's)."""
        import textwrap

        from retain_cli.timeutil import zone

        tz = zone(self.zone)
        start, end = self.since.astimezone(tz), self.until.astimezone(tz)
        lines = [f"retain digest, {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} ({self.zone})"]
        for title, values in self.sections.items():
            lines += ["", title]
            lines += [f"  {name}: {value}" for name, value in values.items()]
        lines += ["", f"VIPs at risk ({len(self.vips)} new)"]
        lines += [f"  {v}" for v in self.vips] or ["  none"]
        lines += ["", "Tasks due first ('retain tasks show ID')"]
        lines += [f"  {t['id']:>4}  {t['when']:<12} {t['title']}" for t in self.tasks[:LISTED]] or [
            "  nothing open"
        ]
        if len(self.tasks) > LISTED:
            lines.append(f"  ... and {len(self.tasks) - LISTED} more: retain tasks")
        for note in self.notes:
            lines += ["", note]
        out = []
        for line in lines:
            indent = len(line) - len(line.lstrip())
            out += textwrap.wrap(line, 78, subsequent_indent=" " * (indent + 6)) or [""]
        return "\n".join(out) + "\n"

    def as_json(self) -> dict[str, Any]:
        return {
            "since": to_iso(self.since),
            "until": to_iso(self.until),
            **{k.lower().replace(" ", "_"): v for k, v in self.sections.items()},
            "vips_at_risk": self.vips,
            "tasks": self.tasks,
            "tasks_made_now": dict(self.made.made),
            "notes": self.notes,
        }


def make_digest(store: Store, now: datetime, *, hours: int = 24, timezone: str = "UTC") -> Digest:
    """The digest of the ``hours`` before ``now`` (shown on the shop's clock)."""
    from retain_cli.analytics.metrics import metrics
    from retain_cli.errors import RetainError
    from retain_cli.feedback.report import headline

    since = now - timedelta(hours=hours)
    digest = Digest(since, now, zone=timezone)
    digest.made = refresh(store, now)
    digest.notes += digest.made.notes
    counts = store.digest_counts(to_iso(since))
    made_since = store.tasks_made_since(to_iso(since))
    pauses = store.pauses()
    sending: dict[str, Any] = {
        "sent": counts["sent"],
        "failed": counts["failed"],
        "outcome unknown (ambiguous)": counts["ambiguous"],
        "waiting for your approval": counts["waiting_for_approval"],
    }
    if pauses:
        sending["paused"] = ", ".join(
            "every campaign" if p["scope"] == "*" else str(p["scope"]) for p in pauses
        )
    digest.sections["Sending"] = sending
    digest.sections["Mailbox"] = {
        "replies from customers": counts["inbox_customer_reply"],
        "other mail": counts.get("inbox_reply", 0) - counts["inbox_customer_reply"],
        "survey answers": counts["answers"],
        "unsubscribe requests": counts.get("inbox_unsubscribe", 0),
        "bounces": counts.get("inbox_hard_bounce", 0) + counts.get("inbox_soft_bounce", 0),
        "new detractors and negative comments": sum(
            1 for t in made_since if t["kind"] in ("detractor", "negative_comment")
        ),
    }
    digest.sections["Mailbox"].update(_mailbox_runs(store, timezone))
    figures: dict[str, Any] = {}
    try:
        report = metrics(store, now, "30d")
        for key, name in METRICS:
            value = report.values.get(key)
            if value is None:
                continue
            if key.endswith("_rate"):
                figures[name] = f"{float(value):.1%}"
            elif key == "revenue":  # as retain metrics counts it, in the shop's currency
                figures[name] = f"{float(value):.2f} {report.currency}".strip()
            else:
                figures[name] = value
    except RetainError as exc:
        digest.notes.append(f"No figures: {exc}")
    for result in headline(store, now):
        figures[result.kind.upper() + " (90 days)"] = result.text()
    if figures:
        digest.sections["The last 30 days ('retain metrics')"] = figures
    digest.vips = [
        t["title"].removeprefix("VIP at risk: ") for t in made_since if t["kind"] == "vip_at_risk"
    ]
    digest.tasks = [
        {"id": t["id"], "when": due_in(t, now), "kind": t["kind"], "title": t["title"]}
        for t in list_tasks(store, now)
    ]
    open_counts = store.task_counts(to_iso(now), to_iso(now + timedelta(hours=24)))
    digest.sections["Tasks"] = {
        "open": open_counts["open"],
        "overdue": open_counts["overdue"],
        "due in the next 24 hours": open_counts["due_today"] - open_counts["overdue"],
        "snoozed": open_counts["snoozed"],
    }
    return digest


def _mailbox_runs(store: Store, timezone: str) -> dict[str, str]:
    """When ``retain inbox`` last read the mailbox, and why its last run failed (if it did:
    the nightly line skips the send then). Nothing when it never ran."""
    from retain_cli.timeutil import from_iso, zone

    ok, last = store.inbox_last_runs()
    if last is None:
        return {}
    tz = zone(timezone)

    def when(value: str) -> str:
        return f"{from_iso(value).astimezone(tz):%Y-%m-%d %H:%M}"

    out = {"last read": "never"}
    if ok is not None:
        count = f"{ok['read']} message{'' if ok['read'] == 1 else 's'}"
        out["last read"] = f"{when(ok['finished_at'])} ({count})"
    if ok is None or last["id"] != ok["id"]:
        error = last["error"] or "it did not finish (stopped or killed)"
        out["last run failed"] = (
            f"{when(last['started_at'])}: {error} (the nightly line from 'retain cron' does "
            "not send while the mailbox cannot be read)"
        )
    return out


def mail_digest(config: CampaignConfig, digest: Digest, to: str | None) -> str:
    """Send the digest to ``to`` (default: the campaign file's reply_to, else its from)
    through the campaign file's transport; returns the address it went to."""
    from email.message import EmailMessage
    from email.utils import format_datetime, make_msgid, parseaddr

    from retain_cli.campaigns.send import make_transport
    from retain_cli.transports.base import TransportFailure

    sender = config.sender
    address = to or parseaddr(sender.reply_to or "")[1] or sender.from_email
    if "@" not in address or any(c in address for c in " \r\n<>,"):
        raise SendError(f"--to {address!r} is not an e-mail address")
    message = EmailMessage()
    message["From"] = sender.from_addr
    message["To"] = address
    message["Subject"] = f"retain: your day, {digest.until:%Y-%m-%d}"
    message["Date"] = format_datetime(digest.until)
    message["Message-ID"] = make_msgid(domain=sender.from_email.partition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    message.set_content(digest.text())
    transport = make_transport(config)
    try:
        transport.open()
        transport.send(message, sender.from_email, address)
    except TransportFailure as exc:
        raise SendError(f"the digest was not sent to {address}: {exc}") from None
    finally:
        transport.close()
    return address
