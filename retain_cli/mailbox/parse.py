"""One e-mail as ``retain inbox`` reads it: headers, addresses, and the text the sender wrote.

Reading 5,000 messages must cost about what fetching them does, so the usual case is read
straight from the bytes: the header block is split and unfolded once, and the text of a
``text/plain`` message, or of the first ``text/plain`` part of a ``multipart`` one, is decoded
with :mod:`binascii` and the part's charset. Anything out of the ordinary (no boundary, an
unknown charset or transfer encoding, an HTML-only message) goes through the standard
library's parser instead (:meth:`Mail.text_by_parser`); a property test holds the two to the
same result. Bounce reports are handed to flufl.bounce as a parsed
:class:`email.message.Message` (:meth:`Mail.message`).
"""

from __future__ import annotations

import binascii
import codecs
import re
from email.message import Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from functools import lru_cache
from html.parser import HTMLParser

_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # printable ASCII except the colon
_MSGID = re.compile(r"<[^<>\s]+>")
_PARAM = re.compile(r';\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))')
ADDRESS_HEADERS = ("to", "cc", "delivered-to", "x-original-to", "envelope-to")
MAX_TEXT = 20_000  # characters of a reply kept for classification


class Malformed(ValueError):
    """Not an e-mail retain can read (no header block, no sender)."""


def split_header_block(raw: bytes) -> tuple[bytes, bytes]:
    """(header block, body): split at the first empty line."""
    if raw.startswith((b"\r\n", b"\n")):
        return b"", raw.partition(b"\n")[2]
    at = raw.find(b"\r\n\r\n")
    lf = raw.find(b"\n\n")
    if at < 0 and lf < 0:
        return raw, b""
    if at >= 0 and (lf < 0 or at < lf):
        return raw[:at], raw[at + 4 :]
    return raw[:lf], raw[lf + 2 :]


_FIELD = re.compile(r"^([!-9;-~]+):(.*(?:\n[ \t].*)*)", re.M)
_ALL_FIELDS = re.compile(r"(?:[!-9;-~]+:.*(?:\n[ \t].*)*(?:\n|\Z))*")


def parse_headers(block: bytes) -> dict[str, list[str]]:
    """Lower-cased name -> unfolded values, in order. Lines that are not headers stop it."""
    text = block.decode("utf-8", "replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    headers: dict[str, list[str]] = {}
    if _ALL_FIELDS.fullmatch(text):  # every line a field or a continuation: one scan in C
        for name, value in _FIELD.findall(text):
            if "\n" in value:
                value = " ".join(piece.strip() for piece in value.split("\n"))
            else:
                value = value.strip()
            key = name.lower()
            if key in headers:
                headers[key].append(value)
            else:
                headers[key] = [value]
        return headers
    return headers_by_line(text)


def headers_by_line(text: str) -> dict[str, list[str]]:
    """:func:`parse_headers` line by line (for a block with lines that are not fields)."""
    headers: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in text.split("\n"):
        if line.endswith("\r"):
            line = line[:-1]
        if line[:1] in (" ", "\t"):
            if last is not None:
                last[-1] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        if not colon or not _HEADER_NAME.match(name):
            if line.startswith("From "):  # an mbox separator line
                continue
            break
        last = headers.setdefault(name.lower(), [])
        last.append(value.strip())
    return headers


_PLAIN_ADDRESS = re.compile(
    r'^(?:[^<>"(),;:@\\]*<([^<>"\s(),;:@\\]+@[^<>"\s(),;:@\\]+)>|'
    r'([^<>"\s(),;:@\\]+@[^<>"\s(),;:@\\]+))$'
)


def address_of(value: str) -> str:
    """The lower-cased address in a From: value ("" when there is none). ``Name <a@b>`` and
    a bare ``a@b`` are read directly; anything else (quoted names, comments, groups) by
    :func:`email.utils.parseaddr`."""
    match = _PLAIN_ADDRESS.match(value.strip())
    if match:
        return (match.group(1) or match.group(2)).lower()
    address = parseaddr(value)[1].strip().lower()
    return address if "@" in address else ""


def decode_words(value: str) -> str:
    """RFC 2047 encoded words decoded (``=?utf-8?q?Gr=C3=BC=C3=9Fe?=`` -> ``Grüße``)."""
    if "=?" not in value:
        return value
    from email.header import decode_header, make_header

    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return value


def content_type(value: str | None) -> tuple[str, dict[str, str]]:
    """``text/plain; charset="utf-8"`` -> (``text/plain``, {charset: utf-8}). The parameters
    are shared between calls with the same value: read them, never change them."""
    if not value:
        return "text/plain", {}
    return _content_type(value)


@lru_cache(maxsize=512)  # a part's type repeats from message to message (boundaries do not)
def _content_type(value: str) -> tuple[str, dict[str, str]]:
    kind, _, rest = value.partition(";")
    params = {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _PARAM.finditer(";" + rest)
    }
    return kind.strip().lower() or "text/plain", params


class Mail:
    """One message's bytes, read lazily: what classification asks for is computed once."""

    __slots__ = (
        "_from",
        "_kind",
        "_message",
        "_report",
        "_subject",
        "_text",
        "body",
        "headers",
        "raw",
    )

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        block, self.body = split_header_block(raw)
        self.headers = parse_headers(block)
        self._text: str | None = None
        self._message: Message | None = None
        self._from: str | None = None
        self._subject: str | None = None
        self._kind: tuple[str, dict[str, str]] | None = None
        self._report: Message | bool | None = False  # False: not looked for yet

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[0] if values else None

    def check(self) -> None:
        """Raise :class:`Malformed` when this is not a message retain can read."""
        if not self.headers:
            raise Malformed("no header block (is it an e-mail at all?)")
        if not self.from_email:
            raise Malformed("no sender address in From:")

    @property
    def message_id(self) -> str | None:
        match = _MSGID.search(self.header("message-id") or "")
        return match.group(0) if match else None

    @property
    def from_email(self) -> str:
        if self._from is None:
            self._from = address_of(self.header("from") or "")
        return self._from

    @property
    def subject(self) -> str:
        if self._subject is None:
            self._subject = " ".join(decode_words(self.header("subject") or "").split())
        return self._subject

    @property
    def content_type(self) -> tuple[str, dict[str, str]]:
        """The message's own Content-Type: (``type/subtype``, parameters)."""
        if self._kind is None:
            self._kind = content_type(self.header("content-type"))
        return self._kind

    @property
    def received_at(self) -> str | None:
        value = self.header("date")
        if not value:
            return None
        quick = _quick_date(value)
        if quick is not None:
            return quick
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            return None
        from datetime import UTC

        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def recipients(self) -> list[str]:
        """Every address the message was sent to (To, Cc, Delivered-To ...), lower-cased."""
        values = [v for name in ADDRESS_HEADERS for v in self.headers.get(name, ())]
        if not any('"' in v or "(" in v or ";" in v for v in values):  # the usual, quickly
            found = [address_of(piece) for v in values for piece in v.split(",")]
            if all(found):
                return found
        return [a.strip().lower() for _, a in getaddresses(values) if "@" in a]

    def thread_ids(self) -> list[str]:
        """The Message-IDs this one answers: In-Reply-To first, then References, newest
        first."""
        ids = _MSGID.findall(self.header("in-reply-to") or "")
        ids += reversed(_MSGID.findall(" ".join(self.headers.get("references", ()))))
        return list(dict.fromkeys(ids))

    # --- the text --------------------------------------------------------------------------

    def text(self) -> str:
        """What the sender wrote: the first text/plain part (HTML as text if there is none)."""
        if self._text is None:
            found = _plain_text(self.headers, self.body, 0)
            self._text = found if found is not None else self.text_by_parser()
        return self._text

    def text_by_parser(self) -> str:
        """The same, through the standard library's parser (the slow, thorough way)."""
        from email import policy
        from email.parser import BytesParser

        try:
            message = BytesParser(policy=policy.default).parsebytes(self.raw)
            part = message.get_body(preferencelist=("plain", "html"))
            if part is None:
                return ""
            content = part.get_content()
        except (LookupError, ValueError, AttributeError, TypeError, AssertionError):
            return ""
        if not isinstance(content, str):
            return ""
        if part.get_content_type() == "text/html":
            content = html_to_text(content)
        return _lines(content)[:MAX_TEXT]

    def delivery_status(self) -> Message | None:
        """The ``message/delivery-status`` part of a report, parsed alone (the standard
        library's parser, as flufl.bounce reads it), or None."""
        if self._report is False:
            self._report = self._delivery_status()
        assert self._report is not True
        return self._report

    def _delivery_status(self) -> Message | None:
        kind, params = self.content_type
        parts = _parts(self.body, params) if kind == "multipart/report" else None
        for headers, content in parts or ():
            if content_type((headers.get("content-type") or [""])[0])[0] == (
                "message/delivery-status"
            ):
                return status_message(content)
        return None

    def message(self) -> Message:
        """A parsed copy (compat32, as flufl.bounce expects)."""
        if self._message is None:
            from email import message_from_bytes

            self._message = message_from_bytes(self.raw)
        return self._message


_BLANK_LINE = re.compile(rb"\r?\n(?:[ \t]*\r?\n)+")


def status_message(content: bytes) -> Message:
    """A ``message/delivery-status`` part as the standard library's parser makes it (a list of
    header blocks, one per recipient, after the one about the report), built from the blocks'
    fields directly: the parser's line machinery costs ten times more."""
    status = Message()
    status["Content-Type"] = "message/delivery-status"
    blocks: list[Message | str] = []
    for piece in _BLANK_LINE.split(content.strip()):
        block = Message()
        for name, values in parse_headers(piece).items():
            for value in values:
                block[name] = value
        blocks.append(block)
    status.set_payload(blocks)
    return status


_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_DATE = re.compile(
    r"(?:[A-Za-z]{3},\s*)?(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d\d):(\d\d)(?::(\d\d))? "
    r"([+-])(\d\d)(\d\d)(?:\s*\([^()]*\))?"
)


def _quick_date(value: str) -> str | None:
    """An RFC 5322 date in its usual form (``Sat, 05 Dec 2026 21:07:31 +0100``) as UTC ISO
    text; None for anything else (the standard library reads it then)."""
    match = _DATE.fullmatch(value.strip())
    if match is None:
        return None
    day, month, year, hour, minute, second, sign, off_h, off_m = match.groups()
    number = _MONTHS.get(month.lower())
    if number is None or year < "1000" or (sign == "-" and off_h == off_m == "00"):
        return None  # -0000: the time zone is unknown (the parser's answer, None)
    from datetime import datetime, timedelta

    try:
        moment = datetime(int(year), number, int(day), int(hour), int(minute), int(second or 0))
    except ValueError:
        return None
    offset = int(off_h) * 60 + int(off_m)
    if offset:
        moment -= timedelta(minutes=offset if sign == "+" else -offset)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _plain_text(headers: dict[str, list[str]], body: bytes, depth: int) -> str | None:
    """The fast way; None when the message needs the parser."""
    values = headers.get("content-type")
    kind, params = content_type(values[0] if values else None)
    if kind == "text/plain":
        if "name" in params or "attachment" in " ".join(headers.get("content-disposition", ())):
            return None
        return _decode(body, headers, params)
    if not kind.startswith("multipart/") or depth > 3:
        return None
    parts = _parts(body, params)
    if parts is None:
        return None
    for part_headers, content in parts:
        found = _plain_text(part_headers, content, depth + 1)
        if found is not None:
            return found
        sub_kind = content_type((part_headers.get("content-type") or [""])[0])[0]
        if sub_kind == "text/html":
            return None  # HTML before any plain text: the parser decides
    return None


def _parts(body: bytes, params: dict[str, str]) -> list[tuple[dict[str, list[str]], bytes]] | None:
    """The parts of a multipart body (headers, content); None when it cannot be split."""
    boundary = params.get("boundary")
    if not boundary or any(k.startswith("boundary*") for k in params):
        return None
    pieces = body.split(b"--" + boundary.encode("ascii", "replace"))
    if len(pieces) < 3:
        return None
    out = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            break  # the closing boundary
        part = piece[2:] if piece.startswith(b"\r\n") else piece[1:]
        if part.endswith(b"\r\n"):
            part = part[:-2]
        elif part.endswith(b"\n"):
            part = part[:-1]
        block, content = split_header_block(part)
        out.append((parse_headers(block) if block else {}, content))
    return out


def _decode(body: bytes, headers: dict[str, list[str]], params: dict[str, str]) -> str | None:
    encoding = (headers.get("content-transfer-encoding") or ["7bit"])[0].strip().lower()
    try:
        if encoding in ("7bit", "8bit", "binary", ""):
            data = body
        elif encoding == "quoted-printable":
            data = binascii.a2b_qp(body)
        elif encoding == "base64":
            data = binascii.a2b_base64(body)
        else:
            return None
        charset = params.get("charset", "us-ascii").strip().lower() or "us-ascii"
        codec = codecs.lookup(charset).name
    except (binascii.Error, LookupError, ValueError):
        return None
    if codec == "ascii":
        codec = "utf-8"  # undeclared 8-bit text is UTF-8 far more often than not
    return _lines(data.decode(codec, "replace"))[:MAX_TEXT]


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("style", "script", "head"):
            self.skip += 1
        elif tag in ("br", "p", "div", "tr", "li", "blockquote"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "head"):
            self.skip = max(self.skip - 1, 0)

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOf()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return "\n".join(lines).strip("\n")


_QUOTE_HEAD = re.compile(
    r"^(?:on .{4,200} wrote:|am .{4,200} schrieb .{1,200}:|le .{4,200} a écrit\s*:|"
    r"el .{4,200} escribió:|-+\s*(?:original message|ursprüngliche nachricht)\s*-+|"
    r"from:\s.+|von:\s.+)$",
    re.I,
)


def own_lines(text: str, limit: int = 1000) -> list[str]:
    """The reply's own lines: up to the quoted message or the signature (or about ``limit``
    characters), blank ones out."""
    out: list[str] = []
    size = 0
    for line in text.split("\n", 200):
        stripped = line.strip()
        if stripped.startswith(">") or stripped == "--" or line == "-- ":
            break
        if (
            stripped.endswith(":") or stripped.startswith(("-", "From", "from", "Von", "von"))
        ) and _QUOTE_HEAD.match(stripped):
            break
        if stripped:
            out.append(stripped)
            size += len(stripped)
            if size > limit:
                break
    return out
