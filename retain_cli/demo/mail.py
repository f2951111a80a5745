"""Sample mail as it arrives in a shop's mailbox, byte for byte: a Postfix-style delivery
status notification (RFC 3464), an RFC 3834 auto-reply, replies from mail programs (plain
text, or ``multipart/alternative`` with quoted-printable parts), a mail to the unsubscribe
address. The demo's mailbox, the tests' IMAP server and the inbox benchmark are filled with
them.
"""

from __future__ import annotations

import binascii
import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime


def _date(moment: datetime | None) -> str:
    return format_datetime(moment or datetime.now(UTC))


def _id(seed: str, domain: str) -> str:
    return f"<{hashlib.sha256(seed.encode()).hexdigest()[:24]}@{domain}>"


def _lines(*headers: tuple[str, str]) -> bytes:
    return "".join(f"{name}: {value}\r\n" for name, value in headers).encode("utf-8")


def _text(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def dsn_bounce(
    *,
    to: str,
    failed: str,
    status: str = "5.1.1",
    diagnostic: str = "550 5.1.1 <{failed}>: Recipient address rejected: User unknown",
    original_id: str | None = None,
    original_subject: str = "We miss you",
    original_from: str = "hello@rosies.example",
    mta: str = "mx.example.net",
    when: datetime | None = None,
    seed: str = "",
) -> bytes:
    """A Postfix delivery status notification: ``failed`` could not be reached (5.x.x: for
    good; 4.x.x: delayed). ``to`` is the envelope sender of the original (VERP address)."""
    action = "failed" if status.startswith("5") else "delayed"
    boundary = f"{hashlib.sha256((seed + failed).encode()).hexdigest()[:16]}.{mta}"
    diagnostic = diagnostic.format(failed=failed)
    human = (
        f"This is the mail system at host {mta}.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients. It's attached below.\n\n"
        f"                   The mail system\n\n<{failed}>: host {mta} said: {diagnostic}\n"
    )
    if action == "delayed":
        human = (
            f"This is the mail system at host {mta}.\n\n"
            "####################################################################\n"
            "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
            "####################################################################\n\n"
            f"Your message could not be delivered for 4 hours.\n\n<{failed}>: {diagnostic}\n"
        )
    head = _lines(
        ("Return-Path", "<>"),
        ("Date", _date(when)),
        ("From", f"MAILER-DAEMON@{mta} (Mail Delivery System)"),
        (
            "Subject",
            "Undelivered Mail Returned to Sender"
            if action == "failed"
            else "Delayed Mail (still being retried)",
        ),
        ("To", to),
        ("Auto-Submitted", "auto-replied"),
        ("MIME-Version", "1.0"),
        (
            "Content-Type",
            f'multipart/report; report-type=delivery-status;\r\n boundary="{boundary}"',
        ),
        ("Message-Id", _id(f"dsn{seed}{failed}{status}", mta)),
    )
    original = _lines(
        ("From", f"Rosie's Bakery <{original_from}>"),
        ("To", failed),
        ("Subject", original_subject),
        *((("Message-ID", original_id),) if original_id else ()),
    )
    body = (
        (
            f"This is a MIME-encapsulated message.\r\n\r\n--{boundary}\r\n"
            "Content-Description: Notification\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        ).encode()
        + _text(human)
        + (
            f"\r\n--{boundary}\r\nContent-Description: Delivery report\r\n"
            f"Content-Type: message/delivery-status\r\n\r\n"
            f"Reporting-MTA: dns; {mta}\r\nX-Postfix-Queue-ID: 4F1A2B3C4D\r\n"
            f"Arrival-Date: {_date(when)}\r\n\r\n"
            f"Final-Recipient: rfc822; {failed}\r\nOriginal-Recipient: rfc822;{failed}\r\n"
            f"Action: {action}\r\nStatus: {status}\r\nRemote-MTA: dns; {mta}\r\n"
            f"Diagnostic-Code: smtp; {diagnostic}\r\n\r\n"
            f"--{boundary}\r\nContent-Description: Undelivered Message Headers\r\n"
            "Content-Type: text/rfc822-headers\r\n\r\n"
        ).encode()
        + original
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return head + b"\r\n" + body


def auto_reply(
    *,
    sender: str,
    name: str,
    to: str,
    subject: str,
    in_reply_to: str | None = None,
    when: datetime | None = None,
) -> bytes:
    """A vacation reply as RFC 3834 asks for it (``Auto-Submitted: auto-replied``)."""
    head = _lines(
        ("From", f"{name} <{sender}>"),
        ("To", to),
        ("Subject", f"Out of office: {subject}"),
        ("Date", _date(when)),
        ("Message-ID", _id(f"auto{sender}{subject}", sender.partition("@")[2])),
        *((("In-Reply-To", in_reply_to),) if in_reply_to else ()),
        ("Auto-Submitted", "auto-replied"),
        ("Precedence", "bulk"),
        ("MIME-Version", "1.0"),
        ("Content-Type", "text/plain; charset=utf-8"),
    )
    text = f"I am away until Monday and will read your message then.\n\n{name}\n"
    return head + b"\r\n" + _text(text)


def reply(
    *,
    sender: str,
    name: str,
    to: str,
    subject: str,
    text: str,
    in_reply_to: str | None = None,
    quoted: str = "",
    html: bool = False,
    when: datetime | None = None,
    seed: str = "",
) -> bytes:
    """A reply from a mail program: plain text, or (``html``) ``multipart/alternative``
    with quoted-printable parts as Gmail and Outlook send them."""
    moment = when or datetime.now(UTC)
    domain = sender.partition("@")[2] or "example.com"
    headers = [
        ("From", f"{name} <{sender}>"),
        ("To", to),
        ("Subject", f"Re: {subject}" if subject else "(no subject)"),
        ("Date", _date(moment)),
        ("Message-ID", _id(f"reply{seed}{sender}{subject}{text}", domain)),
    ]
    if in_reply_to:
        headers += [("In-Reply-To", in_reply_to), ("References", in_reply_to)]
    headers.append(("MIME-Version", "1.0"))
    body_text = text.rstrip("\n") + "\n"
    if quoted:
        body_text += f"\nOn {moment:%a, %d %b %Y} Rosie's Bakery <{to}> wrote:\n"
        body_text += "".join(f"> {line}\n" for line in quoted.splitlines())
    if not html:
        headers += [
            ("Content-Type", "text/plain; charset=utf-8; format=flowed"),
            ("Content-Transfer-Encoding", "8bit"),
        ]
        return _lines(*headers) + b"\r\n" + _text(body_text)
    boundary = "000000000000" + hashlib.sha256((seed + sender + text).encode()).hexdigest()[:16]
    headers.append(("Content-Type", f'multipart/alternative; boundary="{boundary}"'))
    escaped = (body_text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")).replace(
        "\n", "<br>\n"
    )
    html_text = f'<div dir="ltr">{escaped}</div>\n'

    def qp(value: str) -> bytes:
        return binascii.b2a_qp(value.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")

    body = (
        (
            f'--{boundary}\r\nContent-Type: text/plain; charset="UTF-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode()
        + qp(body_text)
        + (
            f'\r\n--{boundary}\r\nContent-Type: text/html; charset="UTF-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        ).encode()
        + qp(html_text)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return _lines(*headers) + b"\r\n" + body


def unsubscribe_mail(
    *, sender: str, to: str, named: str | None = None, when: datetime | None = None
) -> bytes:
    """What a mail program sends for a ``mailto:`` unsubscribe link."""
    head = _lines(
        ("From", sender),
        ("To", to),
        ("Subject", f"unsubscribe {named or sender}"),
        ("Date", _date(when)),
        ("Message-ID", _id(f"unsub{sender}{to}", sender.partition("@")[2])),
        ("MIME-Version", "1.0"),
        ("Content-Type", "text/plain; charset=utf-8"),
    )
    return head + b"\r\n\r\n"
