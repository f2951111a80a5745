"""The SMTP transport and the dispatch engine against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import pytest
from smtp_servers import (
    Behaviour,
    SmtpServer,
    add_customers,
    plan_rows,
    simple_builder,
    states,
)

from retain_cli.campaigns.dispatch import RetryPolicy, SendResult, dispatch
from retain_cli.campaigns.model import Limits
from retain_cli.errors import SendError
from retain_cli.secrets import smtp_password
from retain_cli.transports.base import SmtpSettings, TemporaryFailure
from retain_cli.transports.smtp import SmtpTransport

NO_WAIT = RetryPolicy(attempts=3, backoff=0.0)
EMAILS = [f"c{i}@example.org" for i in range(12)]


def settings(port: int, **overrides) -> SmtpSettings:
    values = dict(
        host="127.0.0.1",
        port=port,
        security="none",
        username=None,
        password_env=None,
        keyring_service=None,
        timeout=5.0,
    )
    values.update(overrides)
    return SmtpSettings(**values)  # type: ignore[arg-type]


def run(store, server: SmtpServer, *, limits: Limits | None = None, **kw) -> SendResult:
    transport = SmtpTransport(settings(server.port, **kw.pop("smtp", {})), None)
    return dispatch(
        store,
        transport,
        simple_builder(),
        sender="shop@example.com",
        limits=limits or Limits(batch_size=5),
        campaigns=["c"],
        retry=kw.pop("retry", NO_WAIT),
        sleep=lambda s: None,
        **kw,
    )


def test_every_message_sent_exactly_once_with_our_headers(store):
    add_customers(store, EMAILS)
    plan_rows(store, "c", EMAILS)
    with SmtpServer() as server:
        result = run(store, server)
    assert (result.sent, result.failed, result.ambiguous, result.deferred) == (12, 0, 0, 0)
    assert result.exit_code == 0
    assert sorted(server.recipients()) == sorted(EMAILS)
    first = server.received[0].message
    assert first["Message-ID"].endswith(".c@example.com>")
    assert first["X-Retain-Campaign"] == "c"
    assert "..a line starting with a dot" in first.get_payload()  # dot-stuffing undone
    rows = store.conn.execute(
        "SELECT state, attempts, reply, message_id, sent_at, claimed_at FROM sends"
    ).fetchall()
    assert {r[0] for r in rows} == {"sent"}
    assert all(r[1] == 1 and r[2].startswith("250") and r[3] and r[4] and r[5] for r in rows)


def test_421_and_451_are_retried_then_sent(store):
    add_customers(store, EMAILS[:4])
    plan_rows(store, "c", EMAILS[:4])
    behaviour = Behaviour(
        mail_replies=["421 4.3.2 too busy, closing"],
        data_replies=["451 4.3.0 try again later", "451 4.3.0 try again later"],
    )
    with SmtpServer(behaviour) as server:
        result = run(store, server, retry=RetryPolicy(attempts=4, backoff=0.0))
    assert result.sent == 4 and result.failed == 0
    assert sorted(server.recipients()) == sorted(EMAILS[:4])
    attempts = dict(store.conn.execute("SELECT email, attempts FROM sends").fetchall())
    assert attempts[EMAILS[0]] == 3  # 421 (the server's: not counted), 451, 451, accepted
    assert attempts[EMAILS[1]] == 1


def test_temporary_failure_that_persists_is_deferred_not_failed(store):
    add_customers(store, EMAILS[:2])
    plan_rows(store, "c", EMAILS[:2])
    busy = {EMAILS[0]: "450 4.2.1 mailbox busy"}
    with SmtpServer(Behaviour(reject_rcpt=busy)) as server:
        result = run(store, server)
    assert (result.sent, result.failed, result.deferred) == (1, 0, 1)
    row = store.conn.execute(
        "SELECT state, attempts, error FROM sends WHERE email = ?", (EMAILS[0],)
    ).fetchone()
    assert row == ("planned", 3, "deferred: RCPT: 450 4.2.1 mailbox busy")


def test_550_for_one_mailbox_fails_and_suppresses_but_the_batch_goes_on(store):
    add_customers(store, EMAILS[:6])
    plan_rows(store, "c", EMAILS[:6])
    bad = EMAILS[2]
    behaviour = Behaviour(reject_rcpt={bad: "550 5.1.1 no such user here"})
    with SmtpServer(behaviour) as server:
        result = run(store, server)
    assert (result.sent, result.failed, result.suppressed) == (5, 1, 1)
    assert result.exit_code == 3
    assert bad not in server.recipients()
    assert states(store)[bad] == "failed"
    error = store.conn.execute("SELECT error FROM sends WHERE email = ?", (bad,)).fetchone()[0]
    assert error == "RCPT: 550 5.1.1 no such user here"
    assert store.conn.execute(
        "SELECT source FROM suppressions WHERE email = ?", (bad,)
    ).fetchone() == ("bounce",)


def test_policy_rejection_at_data_fails_without_suppressing(store):
    add_customers(store, EMAILS[:2])
    plan_rows(store, "c", EMAILS[:2])
    with SmtpServer(Behaviour(data_replies=["554 5.7.1 message refused"])) as server:
        result = run(store, server)
    assert (result.sent, result.failed, result.suppressed) == (1, 1, 0)
    assert store.conn.execute("SELECT count(*) FROM suppressions").fetchone() == (0,)


def test_connection_dropped_after_data_is_ambiguous_and_never_resent(store):
    add_customers(store, EMAILS[:5])
    plan_rows(store, "c", EMAILS[:5])
    lost = EMAILS[1]
    with SmtpServer(Behaviour(drop_after_data={lost})) as server:
        result = run(store, server)
        assert (result.sent, result.ambiguous, result.failed) == (4, 1, 0)
        assert result.exit_code == 3
        assert states(store)[lost] == "ambiguous"
        again = run(store, server)
    assert (again.sent, again.ambiguous) == (0, 0)
    assert server.recipients().count(lost) == 1  # the server did get it, once
    assert sorted(server.recipients()) == sorted(EMAILS[:5])


def test_slow_server_past_the_timeout_is_ambiguous(store):
    add_customers(store, EMAILS[:1])
    plan_rows(store, "c", EMAILS[:1])
    with SmtpServer(Behaviour(delay=1.5)) as server:
        result = run(store, server, smtp={"timeout": 0.5})
    assert (result.sent, result.ambiguous) == (0, 1)
    error = store.conn.execute("SELECT error FROM sends").fetchone()[0]
    assert error.startswith("no reply from 127.0.0.1:")
    assert "it may have been delivered" in error


def test_slow_server_within_the_timeout_is_fine(store):
    add_customers(store, EMAILS[:2])
    plan_rows(store, "c", EMAILS[:2])
    with SmtpServer(Behaviour(delay=0.3)) as server:
        result = run(store, server, smtp={"timeout": 3})
    assert result.sent == 2


def test_server_down_stops_the_run_and_keeps_everything_planned(store):
    add_customers(store, EMAILS[:3])
    plan_rows(store, "c", EMAILS[:3])
    server = SmtpServer()  # never started: connection refused
    result = run(store, server)
    assert result.sent == 0 and result.deferred == 3 and result.transport_down
    assert result.exit_code == 3
    assert (
        result.stopped is not None and "cannot connect to SMTP server 127.0.0.1" in result.stopped
    )
    assert set(states(store).values()) == {"planned"}


def test_refused_login_never_shows_the_password(monkeypatch):
    secret = "s3cr3t-Pa55"
    monkeypatch.setenv("SHOP_SMTP_PW", secret)
    with SmtpServer(Behaviour(refuse_login=True), auth=True) as server:
        config = settings(server.port, username="apikey", password_env="SHOP_SMTP_PW")
        password = smtp_password(config)
        assert password == secret
        transport = SmtpTransport(config, password)
        with pytest.raises(SendError) as caught:
            transport.open()
    message = str(caught.value)
    assert secret not in message
    assert message.startswith(f"SMTP login to 127.0.0.1:{server.port} as apikey was refused (535")
    assert "$SHOP_SMTP_PW" in message
    # the user name reached the server as configured (yagmail would add @gmail.com)
    assert set(server.handler.logins) == {("apikey", secret)}


def test_login_accepted_then_sends(store, monkeypatch):
    monkeypatch.setenv("RETAIN_SMTP_PASSWORD", "pw")
    add_customers(store, EMAILS[:1])
    plan_rows(store, "c", EMAILS[:1])
    with SmtpServer(auth=True) as server:
        config = settings(server.port, username="shop@example.com")
        transport = SmtpTransport(config, smtp_password(config))
        result = dispatch(
            store,
            transport,
            simple_builder(),
            sender="shop@example.com",
            limits=Limits(),
            campaigns=["c"],
            retry=NO_WAIT,
        )
    assert result.sent == 1
    assert server.handler.logins == [("shop@example.com", "pw")]


def test_missing_password_says_where_to_put_it():
    config = settings(25, username="shop@example.com", password_env="SHOP_PW")
    with pytest.raises(SendError) as caught:
        smtp_password(config)
    assert str(caught.value).startswith(
        "no SMTP password for shop@example.com: set the environment variable SHOP_PW"
    )


def test_connection_refused_is_a_temporary_connection_failure():
    transport = SmtpTransport(settings(SmtpServer().port), None)
    with pytest.raises(TemporaryFailure) as caught:
        transport.open()
    assert caught.value.connection
