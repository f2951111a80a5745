"""retain send under faults, through the CLI against real SMTP servers on 127.0.0.1: refusals
read by their enhanced status code, outages that cost nothing, and bounded time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from smtp_servers import (
    SHOP_AS_OF,
    Behaviour,
    DripServer,
    SmtpServer,
    sending_shop,
    use_smtp_server,
)

from retain_cli.campaigns.planner import holdout_score
from retain_cli.store import Store

CONSENTING = {f"c{i:02d}@example.org" for i in range(20)}
DUE = sorted(e for e in CONSENTING if holdout_score("hello", e.split("@")[0].upper()) >= 0.2)
RELAY = "550 5.7.1 <{}>: Relay access denied"
SPAMHAUS = "550 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org"


@pytest.fixture
def shop(db_path: Path, tmp_path: Path) -> Path:
    """The test shop (20 consenting customers; 'hello' is due for DUE) and its campaign file."""
    return sending_shop(db_path, tmp_path)


use_smtp = use_smtp_server


def send(cli, config: Path, *extra: str):
    return cli("send", "hello", "--yes", "--config", str(config), "--as-of", SHOP_AS_OF, *extra)


def rows(db_path: Path) -> dict[str, tuple[str, int, str | None]]:
    """email -> (state, attempts, error) of the 'hello' rows (the holdout left out)."""
    with Store.open(db_path) as store:
        cursor = store.conn.execute(
            "SELECT email, state, attempts, error FROM sends "
            "WHERE campaign = 'hello' AND state != 'held_out'"
        )
        return {email: (state, attempts, error) for email, state, attempts, error in cursor}


def suppressed(db_path: Path) -> set[str]:
    with Store.open(db_path) as store:
        rows = store.conn.execute("SELECT email FROM suppressions WHERE source != 'cli'")
        return {email for (email,) in rows}


def flat(text: str) -> str:
    return " ".join(text.split())


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize("reply", [RELAY.format("x"), SPAMHAUS], ids=["relay", "spamhaus"])
def test_a_policy_refusal_of_every_recipient_stops_the_run_and_suppresses_nobody(
    cli, shop, db_path, reply
):
    with SmtpServer(Behaviour(reject_every_rcpt=reply)) as server:
        result = send(cli, use_smtp(shop, server.port))
        assert server.handler.mail_commands == 2  # the second refusal stopped the run
    assert result.exit_code == 3
    message = flat(result.stderr)
    assert (
        f"Stopped: the SMTP server refused mail from the shop (RCPT: {reply}). Nobody was "
        f"suppressed for it and nothing was counted against the messages: {len(DUE)} messages "
        "wait for the next run." in message
    )
    assert suppressed(db_path) == set()
    ledger = rows(db_path)
    assert {state for state, _, _ in ledger.values()} == {"planned"}
    assert {attempts for _, attempts, _ in ledger.values()} == {0}
    held = {e: error for e, (_, _, error) in ledger.items() if error}
    assert held == {
        e: f"held: RCPT: {reply} (a policy refusal: nobody suppressed, not counted)"
        for e in DUE[:2]
    }


def test_after_the_policy_is_lifted_everyone_gets_the_message(cli, shop, db_path):
    with SmtpServer(Behaviour(reject_every_rcpt=RELAY.format("x"))) as server:
        config = use_smtp(shop, server.port)
        send(cli, config)
    with SmtpServer() as healthy:
        config.write_text(
            config.read_text().replace(f"port: {server.port}", f"port: {healthy.port}")
        )
        result = send(cli, config)
    assert result.exit_code == 0, result.output
    assert sorted(healthy.recipients()) == DUE
    assert {(s, a) for s, a, _ in rows(db_path).values()} == {("sent", 1)}


def test_a_policy_refusal_of_one_recipient_fails_that_message_alone(cli, shop, db_path):
    picky = DUE[3]
    reply = "550 5.7.1 Message rejected: recipient's policy"
    with SmtpServer(Behaviour(reject_rcpt={picky: reply})) as server:
        result = send(cli, use_smtp(shop, server.port))
    assert result.exit_code == 3
    assert sorted(server.recipients()) == sorted(set(DUE) - {picky})
    assert rows(db_path)[picky] == (
        "failed",
        1,
        f"RCPT: {reply} (refused for this recipient only: later messages went through)",
    )
    assert suppressed(db_path) == set()
    assert "Stopped" not in result.stderr


def test_a_refused_sender_stops_the_run_at_once(cli, shop, db_path):
    reply = "553 5.1.8 <hello@kornblume-backstube.de>: Sender address rejected: Domain not found"
    with SmtpServer(Behaviour(mail_replies=[reply] * 50)) as server:
        result = send(cli, use_smtp(shop, server.port))
        assert server.handler.mail_commands == 1
    assert result.exit_code == 3
    assert f"(MAIL: {reply})" in flat(result.stderr)
    assert {(s, a) for s, a, _ in rows(db_path).values()} == {("planned", 0)}
    assert suppressed(db_path) == set()


@pytest.mark.parametrize(
    ("reply", "suppress"),
    [
        ("550 5.1.1 <{}>: Recipient address rejected: User unknown", True),
        ("550 No such user here", True),
        ("553 sorry, that mailbox does not exist", True),
        ("550 Requested action not taken: mailbox unavailable", False),
        ("550 <{}>: Sender address rejected: User unknown in local recipient table", False),
        ("552 5.2.2 Mailbox full", False),
    ],
    ids=[
        "5.1.1",
        "bare-no-such-user",
        "bare-does-not-exist",
        "bare-unavailable",
        "sender",
        "5.2.2-full",
    ],
)
def test_only_a_mailbox_that_does_not_exist_is_suppressed(cli, shop, db_path, reply, suppress):
    bad = DUE[0]
    text = reply.format(bad)
    with SmtpServer(Behaviour(reject_rcpt={bad: text})) as server:
        result = send(cli, use_smtp(shop, server.port))
    assert result.exit_code == 3
    assert sorted(server.recipients()) == DUE[1:]  # the rest went out
    assert suppressed(db_path) == ({bad} if suppress else set())
    state, attempts, error = rows(db_path)[bad]
    assert (state, attempts) == ("failed", 1)
    assert error.startswith(f"RCPT: {text}")


# --- outages -----------------------------------------------------------------------------


def test_an_outage_of_three_runs_burns_nothing_and_the_fourth_sends_everything(cli, shop, db_path):
    closing = "421 4.3.2 Service not available, closing transmission channel"
    with SmtpServer(Behaviour(mail_replies=[closing] * 1000)) as down:
        config = use_smtp(shop, down.port)
        for run in range(3):
            before = down.handler.mail_commands
            result = send(cli, config, "--backoff", "0")
            assert result.exit_code == 3, result.output
            assert down.handler.mail_commands - before == 4  # 1 try + 3 retries, then stop
            assert (
                f"Stopped: the SMTP server is not taking mail now (MAIL: {closing}). Nothing "
                f"was counted against the messages: {len(DUE)} messages wait for the next "
                "run." in flat(result.stderr)
            ), run
        assert down.received == []
    ledger = rows(db_path)
    assert {(s, a) for s, a, _ in ledger.values()} == {("planned", 0)}
    assert ledger[DUE[0]][2] == (f"deferred, not counted (the server's trouble): MAIL: {closing}")
    with SmtpServer() as healthy:
        config.write_text(config.read_text().replace(f"port: {down.port}", f"port: {healthy.port}"))
        result = send(cli, config)
    assert result.exit_code == 0, result.output
    assert sorted(healthy.recipients()) == DUE
    assert {(s, a) for s, a, _ in rows(db_path).values()} == {("sent", 1)}


def test_a_connection_dropped_before_rcpt_is_the_servers_and_costs_nothing(cli, shop, db_path):
    with SmtpServer(Behaviour(drop_at_rcpt=True)) as server:
        result = send(cli, use_smtp(shop, server.port), "--backoff", "0")
    assert result.exit_code == 3
    assert "Stopped: the SMTP server is not taking mail now (connection to 127.0.0.1:" in flat(
        result.stderr
    )
    assert {(s, a) for s, a, _ in rows(db_path).values()} == {("planned", 0)}


def test_a_refused_connection_stops_the_run_with_everything_planned(cli, shop, db_path):
    port = SmtpServer().port  # nothing listens there
    result = send(cli, use_smtp(shop, port))
    assert result.exit_code == 3
    assert f"(cannot connect to SMTP server 127.0.0.1:{port} (" in flat(result.stderr)
    assert {(s, a) for s, a, _ in rows(db_path).values()} == {("planned", 0)}


# --- bounded time ------------------------------------------------------------------------


def test_a_server_dripping_its_greeting_does_not_hold_the_send(cli, shop, db_path):
    with DripServer(interval=0.2) as server:
        config = use_smtp(shop, server.port, timeout=1)
        started = time.monotonic()
        result = send(cli, config)
        took = time.monotonic() - started
        assert took < 8, took  # one reply bounded by transport.timeout (1 s), not 30 s a byte
        assert result.exit_code == 3
        assert (
            f"(cannot connect to SMTP server 127.0.0.1:{server.port} (no complete reply "
            "within 1 s (transport.timeout): the server answers too slowly)"
        ) in flat(result.stderr)
        assert {(s, a) for s, a, _ in rows(db_path).values()} == {("planned", 0)}
        again = send(cli, config)  # the lock was released: the next run starts
    assert "already running" not in again.output
    assert again.exit_code == 3


def test_max_run_minutes_stops_a_slow_run_and_leaves_the_rest_planned(cli, shop, db_path):
    with SmtpServer(Behaviour(delay=0.5)) as server:
        config = use_smtp(shop, server.port, limits="  max_run_minutes: 0.02\n")
        started = time.monotonic()
        result = send(cli, config)
        took = time.monotonic() - started
        sent = len(server.received)
    assert took < 6, took
    assert result.exit_code == 3
    ledger = rows(db_path)
    states = [s for s, _, _ in ledger.values()]
    assert states.count("sent") == sent and 1 <= sent < len(DUE)
    assert states.count("planned") == len(DUE) - sent
    assert "claimed" not in states
    assert (
        f"Held back: {len(DUE) - sent} due messages wait for a later run: the run reached "
        "limits.max_run_minutes (0.02 minutes); the rest goes out on the next run. A slow "
        "SMTP server or a long queue under per_minute: raise limits.max_run_minutes if the "
        "runs need longer." in flat(result.stderr)
    )


def test_max_run_minutes_must_be_a_positive_number(cli, shop):
    config = use_smtp(shop, 25, limits="  max_run_minutes: 0\n")
    result = cli("campaigns", "check", "--config", str(config))
    assert result.exit_code == 1
    assert f"Error: {config}: key 'limits.max_run_minutes': must be at least 0.01, not 0" in flat(
        result.stderr
    )


def test_a_rehearsal_stops_where_the_real_run_would(cli, shop, db_path):
    """Under --now a pacer's waits cost no real time, but they count against max_run_minutes:
    5 a minute for at most a minute sends the first 5, then stops instead of waiting."""
    config = shop.read_text().replace(
        "campaigns:\n", "limits:\n  per_minute: 5\n  max_run_minutes: 1\ncampaigns:\n", 1
    )
    shop.write_text(config)
    result = send(cli, shop, "--now", f"{SHOP_AS_OF}T12:00")
    assert result.exit_code == 3, result.output
    states = [s for s, _, _ in rows(db_path).values()]
    assert states.count("sent") == 5 and states.count("planned") == len(DUE) - 5
    assert (
        f"Held back: {len(DUE) - 5} due messages wait for a later run: the run reached "
        "limits.max_run_minutes (1 minute); the rest goes out on the next run."
    ) in flat(result.stderr)
