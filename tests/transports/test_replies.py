"""How an SMTP refusal is read (retain_cli.transports.replies): real servers' replies, each
sorted into what it costs the message and the address."""

from __future__ import annotations

import pytest

from retain_cli.transports.base import PermanentFailure, PolicyRefusal, TemporaryFailure
from retain_cli.transports.replies import enhanced_status, refusal

SUPPRESS = "suppress"  # failed, and the address suppressed
FAIL = "fail"  # this message failed, nobody suppressed
POLICY = "policy"  # back to planned; the next message decides
SHOP = "shop"  # back to planned; the run stops at once
SERVER = "server"  # temporary, the server's: the run stops, no attempt counted
RETRY = "retry"  # temporary, the message's: retried, counted

CASES = [
    # the address does not exist
    ("RCPT", "550 5.1.1 <a@x.org>: Recipient address rejected: User unknown", SUPPRESS),
    ("RCPT", "550 5.1.1 The email account that you tried to reach does not exist.", SUPPRESS),
    ("RCPT", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found", SUPPRESS),
    ("RCPT", "550 5.1.2 Host unknown (Name server: x.org: host not found)", SUPPRESS),
    ("RCPT", "553 5.1.3 Bad recipient address syntax", SUPPRESS),
    ("RCPT", "551 5.1.6 Recipient no longer on server", SUPPRESS),
    ("RCPT", "550 No such user here", SUPPRESS),
    ("RCPT", "550 unknown user", SUPPRESS),
    ("RCPT", "553 sorry, that mailbox does not exist", SUPPRESS),
    # not enough, or not about the recipient's mailbox
    ("RCPT", "550 Requested action not taken: mailbox unavailable", POLICY),
    ("RCPT", "550 <a@x.org>: Sender address rejected: User unknown in local table", POLICY),
    ("RCPT", "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)", POLICY),
    ("RCPT", "550 user unknown; blocked by policy", POLICY),
    ("RCPT", "550 5.1.0 Address rejected", FAIL),
    ("RCPT", "552 5.2.2 Mailbox full", FAIL),
    ("RCPT", "550 5.2.1 The email account that you tried to reach is disabled", FAIL),
    ("end of DATA", "552 5.3.4 Message size exceeds fixed limit", FAIL),
    ("end of DATA", "554 5.6.0 Message contains invalid header", FAIL),
    ("end of DATA", "550 5.1.1 unknown user", FAIL),  # only RCPT TO speaks for the mailbox
    # policy: relay, block lists, authentication, content filters
    ("RCPT", "554 5.7.1 <a@x.org>: Relay access denied", POLICY),
    (
        "RCPT",
        "550 5.7.1 Service unavailable; Client host [1.2.3.4] blocked using zen.spamhaus.org",
        POLICY,
    ),
    ("RCPT", "530 5.7.0 Authentication required", POLICY),
    ("end of DATA", "550 5.7.26 Unauthenticated email is not accepted (DMARC)", POLICY),
    ("end of DATA", "554 Transaction failed", POLICY),
    ("DATA", "503 5.5.1 Error: need RCPT command", POLICY),
    # the sender
    ("MAIL", "553 5.1.8 <shop@x.org>: Sender address rejected: Domain not found", SHOP),
    ("MAIL", "550 Administrative prohibition", SHOP),
    ("RCPT", "553 5.1.7 The sender address is malformed", SHOP),
    # temporary
    ("MAIL", "421 4.3.2 Service not available, closing transmission channel", SERVER),
    ("RCPT", "421 4.7.0 Too many errors on this connection, closing", SERVER),
    ("MAIL", "451 4.3.0 Local error in processing", SERVER),
    ("RCPT", "450 4.2.1 Mailbox busy, try again later", RETRY),
    ("RCPT", "451 4.7.1 Greylisted, please try again in 300 seconds", RETRY),
    ("end of DATA", "451 4.3.0 Try again later", RETRY),
]


def kind(failure: object) -> str:
    if isinstance(failure, TemporaryFailure):
        return SERVER if failure.connection else RETRY
    if isinstance(failure, PolicyRefusal):
        return SHOP if failure.about_shop else POLICY
    assert isinstance(failure, PermanentFailure)
    return SUPPRESS if failure.mailbox_unknown else FAIL


@pytest.mark.parametrize(("stage", "reply", "expected"), CASES, ids=[c[1][:40] for c in CASES])
def test_a_refusal_is_read_by_its_enhanced_code_and_words(stage, reply, expected):
    code, _, text = reply.partition(" ")
    failure = refusal(int(code[:3]), text.encode(), stage)
    assert kind(failure) == expected
    assert str(failure) == f"{stage}: {code[:3]} {text}"


def test_an_enhanced_code_counts_only_in_its_class():
    assert enhanced_status(550, "5.1.1 no such user") == (5, 1, 1)
    assert enhanced_status(550, "4.1.1 odd") is None
    assert enhanced_status(550, "5.1.1.2 version") is None
    assert enhanced_status(550, "no code here") is None
