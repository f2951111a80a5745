"""The e-mail itself: headers, the footer with the postal address and the recipient's
unsubscribe link, and the MIME body, built directly as bytes (:class:`BuiltMessage`).

Every header value made from data (names, subject) is flattened to one line by
:func:`one_line`, so no customer field can add a header, and no header line is longer than
RFC 5322's 998 octets: a display name is cut to :data:`MAX_DISPLAY_NAME` characters and
folded before the address, non-ASCII text and long words are RFC 2047 encoded words folded
at 78. The text comes from :class:`retain_cli.campaigns.templating.Renderer` as a
:class:`Rendered`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from email.utils import parseaddr as _parseaddr
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from retain_cli.campaigns.model import Campaign, CampaignConfig, Sender, Step
from retain_cli.errors import SendError
from retain_cli.timeutil import utc_now


@lru_cache(maxsize=64)
def parseaddr(text: str) -> tuple[str, str]:
    """email.utils.parseaddr, remembered (the sender's address is parsed for every message)."""
    return _parseaddr(text)


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]+")


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str | None


def one_line(text: str) -> str:
    """Header-safe text: control characters (CR, LF, tab ...) become single spaces, and
    ``=?`` is broken up so customer data cannot smuggle in an RFC 2047 encoded word."""
    if text.isprintable() and "=?" not in text and "  " not in text and text.strip() == text:
        return text  # the usual case, already clean
    return " ".join(_CONTROL.sub(" ", text).replace("=?", "= ?").split())


def unsubscribe_url(sender: Sender, email: str) -> str:
    """The recipient's own unsubscribe link (mailto: with their address, or https ?email=)."""
    base = sender.unsubscribe
    quoted = email if _URL_SAFE.fullmatch(email) else quote(email, safe="@")
    joiner = "&" if "?" in base else "?"
    if base.startswith("mailto:"):
        return f"{base}{joiner}subject=unsubscribe%20{quoted}"
    return f"{base}{joiner}email={quoted}"


_URL_SAFE = re.compile(r"[A-Za-z0-9_.~@-]+")  # what quote(..., safe="@") leaves as it is


def message_id(send_key: str, from_addr: str) -> str:
    domain = parseaddr(from_addr)[1].rpartition("@")[2] or "retain.invalid"
    digest = hashlib.sha256(send_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def verp_token(send_key: str) -> str:
    """The token a VERP bounce address carries for one message: the first 16 hex digits of
    its Message-ID's digest (so the ledger's Message-ID finds the message again)."""
    return hashlib.sha256(send_key.encode("utf-8")).hexdigest()[:16]


def envelope_sender(sender: Sender, send_key: str) -> str | None:
    """The message's own envelope sender (MAIL FROM) when ``sender.bounce_address`` is set:
    ``hello+bounce-{token}@shop.example`` with this message's token; else None."""
    if sender.bounce_address is None:
        return None
    return sender.bounce_address.replace("{token}", verp_token(send_key))


@lru_cache(maxsize=16)
def _footers(sender: Sender) -> tuple[str, str, str, str]:
    """Text and HTML footer, each split around the recipient's unsubscribe link."""
    from markupsafe import escape

    name, email = parseaddr(sender.from_addr)
    shop = name or email
    text = (
        f"\n\n-- \n{shop}\n{sender.address}\n"
        f"You receive this because you are a customer of {shop}.\nUnsubscribe: ",
        "\n",
    )
    html = (
        '<hr><p style="font-size:12px;color:#666">'
        f"{escape(shop)}<br>{escape(sender.address)}<br>"
        f"You receive this because you are a customer of {escape(shop)}. "
        '<a href="',
        '">Unsubscribe</a></p>',
    )
    return text[0], text[1], html[0], html[1]


def text_footer(config: CampaignConfig, unsubscribe: str) -> str:
    before, after, _, _ = _footers(config.sender)
    return f"{before}{unsubscribe}{after}"


def html_footer(config: CampaignConfig, unsubscribe: str) -> str:
    from markupsafe import escape

    _, _, before, after = _footers(config.sender)
    return f"{before}{escape(unsubscribe)}{after}"


@lru_cache(maxsize=16)
def _sender_headers(sender: Sender) -> tuple[tuple[str, str], ...]:
    from_name, from_email = parseaddr(sender.from_addr)
    headers = [("From", _address(from_name, from_email))]
    if sender.reply_to:
        reply_name, reply_email = parseaddr(sender.reply_to)
        headers.append(("Reply-To", _address(reply_name, reply_email)))
    return tuple(headers)


_DATE_CACHE: list[Any] = [None, ""]


def _date_header() -> str:
    """RFC 5322 date of now, computed once a second."""
    now = utc_now()
    if _DATE_CACHE[0] != now:
        _DATE_CACHE[:] = [now, format_datetime(now)]
    return str(_DATE_CACHE[1])


_EMAIL_OK = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+$")
_MAX_LINE = 998
MAX_ADDRESS = 254  # RFC 5321's limit for a path (4.5.3.1.3), less the angle brackets
MAX_DISPLAY_NAME = 78  # characters of a name shown in To/From; longer ones are cut
_FOLD_AT = 78  # RFC 5322's recommended line length


class BuiltMessage(EmailMessage):
    """An :class:`EmailMessage` whose wire form was built once, directly as bytes.

    The standard library's header objects and generator cost milliseconds per message; this
    keeps the headers readable (``msg["Message-ID"]``, ``msg.get("Subject")``) as plain
    strings and returns the prepared bytes from :meth:`as_bytes` (CRLF line endings, pure
    ASCII: non-ASCII text is quoted-printable or RFC 2047 encoded). Use :meth:`parsed` for a
    fully parsed copy (parts, ``get_body``).
    """

    def __init__(
        self,
        raw: bytes,
        headers: Sequence[tuple[str, str]],
        envelope_from: str | None = None,
    ) -> None:
        from email.policy import compat32

        super().__init__(policy=compat32)
        self._headers = list(headers)  # compat32 keeps (name, str) pairs as they are
        self._raw = raw
        # the message's own envelope sender (VERP, sender.bounce_address), not a header
        self.envelope_from = envelope_from
        # the coupon code it carries (coupon_codes.id): written to the ledger with its claim
        self.coupon_ref: int | None = None

    def as_bytes(self, unixfrom: bool = False, policy: Any = None) -> bytes:
        linesep = getattr(policy, "linesep", "\r\n")
        return self._raw if linesep == "\r\n" else self._raw.replace(b"\r\n", linesep.encode())

    def __bytes__(self) -> bytes:
        return self._raw

    def as_string(
        self, unixfrom: bool = False, maxheaderlen: int | None = None, policy: Any = None
    ) -> str:
        return self.as_bytes(policy=policy).decode("ascii")

    def __str__(self) -> str:
        return self._raw.decode("ascii")

    def parsed(self) -> EmailMessage:
        from email import policy as policies
        from email.parser import BytesParser

        message = BytesParser(policy=policies.default).parsebytes(self._raw)
        assert isinstance(message, EmailMessage)
        return message


def _header_text(value: str) -> str:
    """One-line header text, RFC 2047 encoded (and folded) only when it is not ASCII or has
    a word too long to fold (every line then stays under 998 octets)."""
    value = one_line(value)
    if value.isascii() and len(value) < 900:
        return value
    from email.header import Header

    plain = value.isascii() and max(map(len, value.split(" "))) < 900
    return Header(value, "us-ascii" if plain else "utf-8").encode(
        linesep="\r\n", maxlinelen=_FOLD_AT
    )


def display_name(name: str | None) -> str:
    """A name for To/From: one line, at most :data:`MAX_DISPLAY_NAME` characters (a longer
    one is cut, at a space when there is one near the end)."""
    name = one_line(name) if name else ""
    if len(name) <= MAX_DISPLAY_NAME:
        return name
    cut = name[:MAX_DISPLAY_NAME]
    space = cut.rfind(" ")
    return cut[:space] if space >= MAX_DISPLAY_NAME - 20 else cut


def _address(name: str | None, email: str) -> str:
    """``Name <email>``: an ASCII name quoted as needed, any other RFC 2047 encoded and
    folded; the address goes on a line of its own when the whole would pass 78 characters."""
    name = display_name(name)
    if not name:
        return email
    try:
        if name.isascii():
            shown = formataddr((name, "x@x"))[: -len(" <x@x>")]
        else:
            from email.header import Header

            shown = Header(name, "utf-8").encode(linesep="\r\n", maxlinelen=_FOLD_AT - 4)
    except (ValueError, UnicodeError):  # a name the formatter cannot take: send without it
        return email
    last = shown.rpartition("\n")[2]
    fold = "\r\n " if len(last) + len(email) + 8 > _FOLD_AT else " "
    return f"{shown}{fold}<{email}>"


def _part(text: str, subtype: str) -> bytes:
    """Headers and body of one text part, CRLF line endings."""
    import binascii

    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n") if text.isascii() else None
    if lines is not None and max(map(len, lines)) <= _MAX_LINE:
        encoding = "7bit"
        body = "\r\n".join(lines).encode("ascii")
    else:
        encoding = "quoted-printable"
        body = binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    ).encode("ascii")
    return head + body + (b"" if body.endswith(b"\r\n") else b"\r\n")


def build_message(
    config: CampaignConfig,
    campaign: Campaign,
    step: Step,
    rendered: Rendered,
    *,
    to_email: str,
    to_name: str | None,
    send_key: str,
) -> BuiltMessage:
    """The e-mail for one recipient, ready for ``as_bytes()`` (CRLF line endings).

    Every header value made from data (names, subject) is flattened to one line, so no
    customer field can add a header.
    """
    if not _EMAIL_OK.match(to_email) or _CONTROL.search(to_email) or not to_email.isascii():
        raise SendError(f"cannot send to {to_email[:100]!r}: not a valid e-mail address")
    if len(to_email) > MAX_ADDRESS:
        raise SendError(
            f"cannot send to {to_email[:60]!r}...: the address is {len(to_email)} characters "
            f"long (at most {MAX_ADDRESS})"
        )
    sender = config.sender
    unsubscribe = unsubscribe_url(sender, to_email)
    sender_headers = _sender_headers(sender)
    headers: list[tuple[str, str]] = [
        sender_headers[0],
        ("To", _address(to_name, to_email)),
        *sender_headers[1:],
        ("Subject", _header_text(rendered.subject)),
        ("Date", _date_header()),
        ("Message-ID", message_id(send_key, sender.from_addr)),
        ("List-Unsubscribe", f"<{unsubscribe}>"),
        ("X-Retain-Campaign", campaign.name),
        ("X-Retain-Step", str(step.index)),
        *([("X-Retain-Variant", step.variant)] if step.variant else []),
        ("MIME-Version", "1.0"),
    ]
    if sender.unsubscribe.startswith("https:"):  # RFC 8058 one-click needs an https: URL
        headers.insert(7, ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    text = _part(rendered.text.rstrip("\n") + text_footer(config, unsubscribe), "plain")
    if rendered.html is None:
        head, _, body = text.partition(b"\r\n\r\n")
        for line in head.decode("ascii").split("\r\n"):
            name, _, value = line.partition(": ")
            headers.append((name, value))
    else:
        footer = html_footer(config, unsubscribe)
        html_text = rendered.html
        at = html_text.rfind("</body>")
        if at < 0:
            at = html_text.rfind("</BODY>")
        html_text = html_text[:at] + footer + html_text[at:] if at >= 0 else html_text + footer
        html = _part(html_text, "html")
        seed = hashlib.sha256(f"{send_key}/boundary".encode()).hexdigest()
        boundary = f"=_retain_{seed[:24]}"
        while boundary.encode() in text or boundary.encode() in html:
            seed = hashlib.sha256(seed.encode()).hexdigest()
            boundary = f"=_retain_{seed[:24]}"
        headers.append(("Content-Type", f'multipart/alternative; boundary="{boundary}"'))
        mark = f"--{boundary}\r\n".encode()
        body = mark + text + mark + html + f"--{boundary}--\r\n".encode()
    raw = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("ascii")
    return BuiltMessage(raw + b"\r\n" + body, headers, envelope_sender(sender, send_key))
