"""What an SMTP refusal means, from its reply code, RFC 3463's enhanced status code and, where
the server gives no enhanced code, its words.

A reply that is not the one expected is sorted by the first rule that applies:

1. 4xx is temporary. 421 (the server closes the channel) at any stage and any 4xx to MAIL
   FROM (the sender is the same for every message) are the server's trouble: ``connection``,
   the run stops and the message is not charged an attempt. Other 4xx (greylisting at RCPT
   TO, a busy mailbox, "try again" at the end of DATA) are this message's: retried.
2. A 5xx to MAIL FROM, or an enhanced 5.1.7 or 5.1.8 (the sender's address is bad) at any
   stage, is about the shop: ``PolicyRefusal(about_shop=True)``: the run stops at once.
3. At RCPT TO, the address does not exist (``PermanentFailure(mailbox_unknown=True)``: the
   message failed and the address is suppressed): enhanced 5.1.1 (no such mailbox), 5.1.2 (no
   such domain), 5.1.3 (the address is malformed), 5.1.6 (mailbox moved, no forwarding
   address), 5.1.10 (the domain takes no mail, RFC 7505). Without an enhanced code: a 550, 551
   or 553 whose text says the mailbox or user is unknown ("user unknown", "no such mailbox",
   "does not exist" ...) and speaks neither of the sender nor of a policy (relay, block list,
   spam, denied, policy, listed, reputation, authentication). RFC 5321's own text for 550,
   "mailbox unavailable", is not enough: servers give it for policy refusals too, and a wrong
   suppression loses a customer for good.
4. An enhanced code about this message or this mailbox: 5.1.0, 5.1.4 and the other 5.1.x,
   5.2.x (mailbox full or disabled, message too long for it), 5.3.4 (message too big), 5.6.x
   (content): ``PermanentFailure``: the message failed, nobody is suppressed.
5. Everything else: ``PolicyRefusal``: 5.7.x (relay denied, a block list such as Spamhaus,
   authentication required, DMARC), 5.0.0, 5.3.x, 5.4.x, 5.5.x, a bare 5xx that says no
   more, a code that makes no sense at that stage. Probably about the shop, perhaps only about
   this recipient: the dispatcher stops the run if the next message is refused too, and fails
   this one alone if the next goes through. Nobody is suppressed.

An enhanced code counts only when its class agrees with the reply code (5.x.x with a 5xx).
"""

from __future__ import annotations

import re

from retain_cli.transports.base import PermanentFailure, PolicyRefusal, TemporaryFailure

Refusal = TemporaryFailure | PermanentFailure | PolicyRefusal

_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
MAILBOX_GONE = frozenset({(1, 1), (1, 2), (1, 3), (1, 6), (1, 10)})  # RCPT: suppress
SENDER_BAD = frozenset({(1, 7), (1, 8)})
BARE_MAILBOX_CODES = (550, 551, 553)
_UNKNOWN = re.compile(
    r"\b(?:user|mailbox|recipient|address|account|local[- ]part) (?:is )?unknown\b"
    r"|\bunknown (?:user|mailbox|recipient|address|account|local[- ]part)\b"
    r"|\bno such (?:user|mailbox|recipient|address|account)\b"
    r"|\b(?:user|mailbox|recipient|address|account) (?:was )?not found\b"
    r"|\b(?:does not|doesn't|did not|didn't) exist\b"
    r"|\binvalid (?:recipient|mailbox|user)\b"
    r"|\bnot a valid (?:recipient|mailbox|user)\b",
    re.IGNORECASE,
)
_NOT_THE_MAILBOX = re.compile(
    r"\b(?:sender|relay\w*|block\w*|spam\w*|polic\w*|denied|black\w*|listed|reputation"
    r"|authenticat\w*|rbl|dnsbl)\b",
    re.IGNORECASE,
)


def clean_text(reply: bytes | str) -> str:
    """A server's reply text as one line (at most 300 characters)."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())[:300]


def enhanced_status(code: int, text: str) -> tuple[int, int, int] | None:
    """The RFC 3463 status code at the start of ``text`` (``5.7.1`` -> (5, 7, 1)), if its
    class agrees with the reply ``code``."""
    match = _ENHANCED.match(text)
    if match is None:
        return None
    status = (int(match.group(1)), int(match.group(2)), int(match.group(3)))
    return status if status[0] == code // 100 else None


def says_mailbox_unknown(text: str) -> bool:
    """Whether a reply's words say the mailbox or user does not exist (and nothing about the
    sender or a policy)."""
    return bool(_UNKNOWN.search(text)) and not _NOT_THE_MAILBOX.search(text)


def refusal(code: int, reply: bytes | str, stage: str) -> Refusal:
    """The failure a reply ``code`` with ``reply`` text at ``stage`` (MAIL, RCPT, DATA or
    "end of DATA") stands for, by the rules in this module's docstring."""
    text = clean_text(reply)
    described = f"{stage}: {code} {text}"
    if 400 <= code < 500:
        return TemporaryFailure(described, code, connection=code == 421 or stage == "MAIL")
    status = enhanced_status(code, text)
    detail = status[1:] if status else None
    if stage == "MAIL" or detail in SENDER_BAD:
        return PolicyRefusal(described, code, about_shop=True)
    if stage == "RCPT" and (
        detail in MAILBOX_GONE
        or (status is None and code in BARE_MAILBOX_CODES and says_mailbox_unknown(text))
    ):
        return PermanentFailure(described, code, mailbox_unknown=True)
    if detail is not None and (detail[0] in (1, 2, 6) or detail == (3, 4)):
        return PermanentFailure(described, code)
    return PolicyRefusal(described, code)
