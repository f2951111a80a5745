"""The demo shop's mailbox: a maildir folder (``mailbox/``) of the mail a shop gets back after
a send, for ``retain inbox --from-maildir mailbox`` to read without a server.

It answers the messages the demo's first ``retain send`` will send (the plan at demo time:
same customers, same send keys, so the same Message-IDs and VERP tokens): a hard and a soft
bounce (Postfix delivery reports to the VERP address), a vacation auto-reply, an "unsubscribe"
and a "Bitte abmelden" reply, a mail to the unsubscribe address, two replies from customers
(one in the thread of a campaign message, one new) and a question from someone who is not a
customer. Read before the send, the replies are still linked to their customers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

from retain_cli.campaigns.message import envelope_sender, message_id
from retain_cli.demo import mail
from retain_cli.errors import RetainError

if TYPE_CHECKING:
    from retain_cli.campaigns.model import CampaignConfig
    from retain_cli.store import Store

MAILBOX_DIR = "mailbox"
# answers to the survey campaign (feedback): a promoter, a detractor, one in German (left
# unscored by the English-only sentiment model), a passive
SURVEY_ANSWERS = (
    "9 - the seeded rye is the best bread in Berlin",
    "4\nThe croissants were stale and the staff was rude on Saturday.",
    "10 Super Brötchen, danke!",
    "8 - good bread, but the Saturday queue is long",
)


def demo_messages(store: Store, config: CampaignConfig, today: date) -> list[tuple[str, bytes]]:
    """(file name, bytes) of each sample message."""
    from retain_cli.campaigns.planner import make_plan

    moment = datetime.combine(today, time(9, 0), UTC)
    plan = make_plan(store, config, as_of=moment, transport="outbox", now=moment)
    due, seen = [], set()
    for item in plan.items:
        if item.status == "due" and item.email and item.email not in seen:
            seen.add(item.email)
            due.append(item)
    sender = config.sender
    shop = sender.from_email
    unsubscribe = sender.unsubscribe.removeprefix("mailto:").partition("?")[0]
    out: list[tuple[str, bytes]] = []

    def later(minutes: int) -> datetime:
        return datetime.combine(today, time(10, 0), UTC).replace(minute=minutes % 60)

    for n, item in enumerate(due[:7]):
        email = item.email or ""
        key = item.send_key
        mid = message_id(key, sender.from_addr)
        to_bounce = envelope_sender(sender, key) or shop
        subject = f"Your {item.campaign} message"
        when = later(n * 7)
        if n == 0:
            raw = mail.dsn_bounce(to=to_bounce, failed=email, original_id=mid, when=when)
        elif n == 1:
            raw = mail.dsn_bounce(
                to=to_bounce,
                failed=email,
                status="4.2.2",
                when=when,
                diagnostic="452 4.2.2 <{failed}>: Mailbox full",
                original_id=mid,
            )
        elif n == 2:
            raw = mail.auto_reply(
                sender=email,
                name=item.customer_id,
                to=shop,
                subject=subject,
                in_reply_to=mid,
                when=when,
            )
        elif n == 3:
            raw = mail.reply(
                sender=email,
                name=item.customer_id,
                to=shop,
                subject=subject,
                text="Unsubscribe, please.",
                in_reply_to=mid,
                quoted="Dear customer,",
                when=when,
            )
        elif n == 4:
            raw = mail.reply(
                sender=email,
                name=item.customer_id,
                to=shop,
                subject=subject,
                text="Bitte abmelden.",
                in_reply_to=mid,
                when=when,
            )
        elif n == 5:
            raw = mail.reply(
                sender=email,
                name=item.customer_id,
                to=shop,
                subject=subject,
                text="Thank you! Do you still bake the seeded rye on Saturdays?\nSee you soon",
                in_reply_to=mid,
                quoted="Dear customer,\nwe have missed you.",
                html=True,
                when=when,
            )
        else:
            raw = mail.unsubscribe_mail(sender=email, to=unsubscribe or shop, when=when)
        out.append((f"{1700000000 + n}.demo{n}.rosies:2,", raw))
    surveys = [
        i
        for i in plan.items
        if i.status == "due"
        and i.email
        and i.email not in {d.email for d in due[:7]}
        and any(c.name == i.campaign and c.survey for c in config.campaigns)
    ]
    for n, (item, text) in enumerate(zip(surveys, SURVEY_ANSWERS, strict=False)):
        raw = mail.reply(
            sender=item.email or "",
            name=item.customer_id,
            to=shop,
            subject="How was your order?",
            text=text,
            in_reply_to=message_id(item.send_key, sender.from_addr),
            quoted="How likely are you to recommend Rosie's Bakery to a friend?",
            when=later(20 + n * 9),
        )
        out.append((f"{1700000050 + n}.demo-survey{n}.rosies:2,", raw))
    out.append(
        (
            "1700000100.demo-supplier.rosies:2,",
            mail.reply(
                sender="orders@mill.example",
                name="The Mill",
                to=shop,
                subject="",
                text="Your flour delivery is scheduled for Tuesday.",
                when=later(55),
            ),
        )
    )
    return out


def write_demo_mailbox(directory: Path, store: Store, config: CampaignConfig, today: date) -> Path:
    """Write the sample messages as a maildir (``mailbox/cur``); returns the folder."""
    folder = directory / MAILBOX_DIR
    try:
        for sub in ("cur", "new", "tmp"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        for name, raw in demo_messages(store, config, today):
            (folder / "cur" / name).write_bytes(raw)
    except OSError as exc:
        raise RetainError(f"cannot write the demo mailbox in {folder}: {exc}") from exc
    return folder
