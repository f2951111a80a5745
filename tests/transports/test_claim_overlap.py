"""``before_data`` (the ledger's claim, a commit that waits for the disk) runs on a worker
thread while the server answers MAIL FROM, RCPT TO and DATA: the message still goes only after
it has finished, and not at all when it raises."""

from __future__ import annotations

import threading
import time

import pytest
from smtp_servers import Behaviour, SmtpServer, one_message

from retain_cli.transports.base import PermanentFailure, SmtpSettings
from retain_cli.transports.smtp import SmtpTransport


def settings(port: int) -> SmtpSettings:
    return SmtpSettings("127.0.0.1", port, "none", None, None, None, 5.0)


def test_the_message_goes_only_once_before_data_has_finished():
    finished: list[float] = []
    threads: list[str] = []

    def slow_claim() -> None:
        threads.append(threading.current_thread().name)
        time.sleep(0.3)
        finished.append(time.monotonic())

    with SmtpServer() as server:
        transport = SmtpTransport(settings(server.port), None)
        transport.open()
        reply = transport.send(
            one_message(), "shop@example.com", "ada@example.org", before_data=slow_claim
        )
        handed_over = time.monotonic()
        transport.close()
    assert reply.startswith("250")
    assert finished and finished[0] <= handed_over
    assert threads[0].startswith("retain-claim")
    assert server.recipients() == ["ada@example.org"]


def test_nothing_is_handed_over_when_before_data_raises():
    def refuse() -> None:
        raise RuntimeError("the row changed in the ledger")

    with SmtpServer() as server:
        transport = SmtpTransport(settings(server.port), None)
        with pytest.raises(RuntimeError, match="the row changed"):
            transport.send(one_message(), "shop@example.com", "ada@example.org", before_data=refuse)
        assert transport._smtp is None  # closed
    assert server.received == []


def test_a_refused_recipient_waits_for_before_data_and_reports_the_refusal():
    done = threading.Event()

    def claim() -> None:
        time.sleep(0.1)
        done.set()

    behaviour = Behaviour(reject_rcpt={"ada@example.org": "550 5.1.1 no such user"})
    with SmtpServer(behaviour) as server:
        transport = SmtpTransport(settings(server.port), None)
        with pytest.raises(PermanentFailure) as caught:
            transport.send(one_message(), "shop@example.com", "ada@example.org", before_data=claim)
        transport.close()
    assert done.is_set()  # the claim was finished before the failure was reported
    assert caught.value.mailbox_unknown
