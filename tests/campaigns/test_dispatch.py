"""The dispatch engine's bookkeeping: lock, crash recovery, limits, the outbox transport."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from email import message_from_bytes

import pytest
from smtp_servers import SmtpServer, add_customers, plan_rows, simple_builder, states

from retain_cli.campaigns.dispatch import MAX_TOTAL_ATTEMPTS, RetryPolicy, dispatch
from retain_cli.campaigns.limits import effective_limits, in_quiet_hours
from retain_cli.campaigns.model import Limits
from retain_cli.campaigns.send import lock_path, send_lock
from retain_cli.errors import SendError
from retain_cli.timeutil import to_iso
from retain_cli.transports.base import SmtpSettings
from retain_cli.transports.outbox import OutboxTransport
from retain_cli.transports.smtp import SmtpTransport

EMAILS = [f"c{i}@example.org" for i in range(6)]


class Clock:
    """A fake clock: sleeping moves it forward."""

    def __init__(self, start: datetime) -> None:
        self.moment = start
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.moment += timedelta(seconds=seconds)


def smtp(port: int) -> SmtpTransport:
    settings = SmtpSettings("127.0.0.1", port, "none", None, None, None, 5.0)
    return SmtpTransport(settings, None)


def run(store, transport, limits: Limits, clock: Clock | None = None, **kw):
    extra = {"now": clock, "sleep": clock.sleep} if clock else {"sleep": lambda s: None}
    return dispatch(
        store,
        transport,
        simple_builder(),
        sender="shop@example.com",
        limits=limits,
        campaigns=kw.pop("campaigns", ["c"]),
        retry=RetryPolicy(attempts=2, backoff=0.0),
        **extra,
        **kw,
    )


def test_outbox_writes_one_eml_per_message(store, tmp_path):
    add_customers(store, EMAILS[:3])
    plan_rows(store, "c", EMAILS[:3])
    outbox = tmp_path / "outbox"
    result = run(store, OutboxTransport(outbox), Limits())
    assert result.sent == 3
    files = sorted((outbox / "c").glob("*.eml"))
    assert len(files) == 3
    recipients = sorted(message_from_bytes(f.read_bytes())["To"] for f in files)
    assert recipients == sorted(EMAILS[:3])
    assert not list((outbox / "c").glob(".*.tmp"))
    reply = store.conn.execute("SELECT reply FROM sends LIMIT 1").fetchone()[0]
    assert reply.startswith("250 written to ")


def test_the_outbox_obeys_no_rate_limit_or_quiet_hours():
    limits = Limits(per_minute=1, per_day=1, quiet_hours=(time(0, 0), time(23, 59)))
    assert effective_limits(limits, "outbox") == Limits()
    assert effective_limits(limits, "smtp") == limits


def test_daily_limit_holds_across_runs_and_the_rest_waits(store):
    add_customers(store, EMAILS[:5])
    plan_rows(store, "c", EMAILS[:5])
    limits = Limits(per_day=3)
    clock = Clock(datetime(2025, 6, 1, 12, 0, tzinfo=UTC))
    with SmtpServer() as server:
        first = run(store, smtp(server.port), limits, clock)
        assert (first.sent, first.deferred) == (3, 2)
        assert first.stopped is not None and first.stopped.startswith("daily limit of 3")
        assert first.exit_code == 0
        clock.moment += timedelta(hours=5)
        second = run(store, smtp(server.port), limits, clock)
        assert (second.sent, second.deferred) == (0, 2)
        clock.moment += timedelta(hours=20)  # 25 hours after the first run
        third = run(store, smtp(server.port), limits, clock)
    assert (third.sent, third.deferred) == (2, 0)
    assert sorted(server.recipients()) == sorted(EMAILS[:5])


def test_daily_limit_counts_other_campaigns_too(store):
    add_customers(store, EMAILS[:4])
    plan_rows(store, "a", EMAILS[:2])
    plan_rows(store, "b", EMAILS[2:4])
    clock = Clock(datetime(2025, 6, 1, 12, 0, tzinfo=UTC))
    with SmtpServer() as server:
        run(store, smtp(server.port), Limits(), clock, campaigns=["a"])
        result = run(store, smtp(server.port), Limits(per_day=3), clock, campaigns=["b"])
    assert (result.sent, result.deferred) == (1, 1)


def test_per_minute_paces_the_run(store):
    add_customers(store, EMAILS[:5])
    plan_rows(store, "c", EMAILS[:5])
    clock = Clock(datetime(2025, 6, 1, 12, 0, tzinfo=UTC))
    with SmtpServer() as server:
        result = run(store, smtp(server.port), Limits(per_minute=2), clock)
    assert result.sent == 5
    sent = [r[0] for r in store.conn.execute("SELECT sent_at FROM sends ORDER BY sent_at")]
    assert sent == [
        "2025-06-01T12:00:00Z",
        "2025-06-01T12:00:00Z",
        "2025-06-01T12:01:00Z",
        "2025-06-01T12:01:00Z",
        "2025-06-01T12:02:00Z",
    ]
    assert clock.slept == [60.0, 60.0]


def test_quiet_hours_send_nothing(store):
    add_customers(store, EMAILS[:2])
    plan_rows(store, "c", EMAILS[:2])
    limits = Limits(quiet_hours=(time(21, 0), time(8, 0)), timezone="Europe/Berlin")
    clock = Clock(datetime(2025, 6, 1, 20, 30, tzinfo=UTC))  # 22:30 in Berlin
    with SmtpServer() as server:
        result = run(store, smtp(server.port), limits, clock)
    assert result.sent == 0 and result.deferred == 2
    assert result.stopped == (
        "quiet hours 21:00-08:00 (Europe/Berlin); nothing is sent until 08:00"
    )
    assert server.recipients() == []


@pytest.mark.parametrize(
    "hour,quiet",
    [(20, False), (21, True), (23, True), (0, True), (7, True), (8, False), (12, False)],
)
def test_quiet_hours_wrap_midnight(hour, quiet):
    limits = Limits(quiet_hours=(time(21, 0), time(8, 0)))
    assert in_quiet_hours(limits, datetime(2025, 1, 1, hour, 0, tzinfo=UTC)) is quiet
    daytime = Limits(quiet_hours=(time(12, 0), time(13, 0)))
    assert in_quiet_hours(daytime, datetime(2025, 1, 1, hour, 0, tzinfo=UTC)) is (hour == 12)


def test_frequency_cap_across_campaigns(store):
    add_customers(store, EMAILS[:2])
    plan_rows(store, "a", EMAILS[:2])
    plan_rows(store, "b", EMAILS[:1])
    limits = Limits(min_hours_between_messages=16)
    clock = Clock(datetime(2025, 6, 1, 12, 0, tzinfo=UTC))
    with SmtpServer() as server:
        result = run(store, smtp(server.port), limits, clock, campaigns=["a", "b"])
        assert (result.sent, result.deferred) == (2, 1)
        clock.moment += timedelta(hours=17)
        later = run(store, smtp(server.port), limits, clock, campaigns=["a", "b"])
    assert later.sent == 1
    assert server.recipients().count(EMAILS[0]) == 2


def test_opt_out_after_planning_wins(store, tmp_path):
    add_customers(store, EMAILS[:3])
    add_customers(store, ["no@example.org"], accepts=0)
    plan_rows(store, "c", [*EMAILS[:3], "no@example.org"])
    store.conn.execute(
        "INSERT INTO suppressions VALUES (?, 'asked', 'cli', '2025-01-01T00:00:00Z')",
        (EMAILS[1],),
    )
    result = run(store, OutboxTransport(tmp_path / "out"), Limits())
    assert (result.sent, result.skipped) == (2, 2)
    got = states(store)
    assert got[EMAILS[1]] == "skipped" and got["no@example.org"] == "skipped"
    reason = store.conn.execute("SELECT error FROM sends WHERE email = ?", (EMAILS[1],)).fetchone()[
        0
    ]
    assert reason == "opted out (suppressed) after it was planned"


def test_a_message_that_cannot_be_built_fails_alone(store, tmp_path):
    add_customers(store, EMAILS[:3])
    plan_rows(store, "c", EMAILS[:3])
    good = simple_builder()

    def build(rows):
        out = dict(good(rows))
        out[rows[1].id] = "cannot build the message: UndefinedError: 'nme' is undefined"
        return out

    result = dispatch(
        store,
        OutboxTransport(tmp_path / "out"),
        build,
        sender="shop@example.com",
        limits=Limits(),
        campaigns=["c"],
    )
    assert (result.sent, result.failed) == (2, 1)
    assert result.exit_code == 3


def test_limit_option_caps_the_run(store, tmp_path):
    add_customers(store, EMAILS[:5])
    plan_rows(store, "c", EMAILS[:5])
    result = run(store, OutboxTransport(tmp_path / "out"), Limits(batch_size=2), limit=3)
    assert (result.sent, result.deferred) == (3, 2)
    assert result.stopped == "--limit 3 reached"


def test_deferred_too_often_is_given_up(store):
    add_customers(store, EMAILS[:1])
    plan_rows(store, "c", EMAILS[:1])
    store.conn.execute("UPDATE sends SET attempts = ?", (MAX_TOTAL_ATTEMPTS - 2,))
    from smtp_servers import Behaviour

    behaviour = Behaviour(reject_rcpt={EMAILS[0]: "452 4.2.2 mailbox full"})
    with SmtpServer(behaviour) as server:
        result = run(store, smtp(server.port), Limits())
    assert result.failed == 1
    error = store.conn.execute("SELECT error FROM sends").fetchone()[0]
    assert error == f"gave up after {MAX_TOTAL_ATTEMPTS} attempts: RCPT: 452 4.2.2 mailbox full"


def test_claimed_rows_of_a_dead_run_become_ambiguous(store):
    add_customers(store, EMAILS[:2])
    plan_rows(store, "c", EMAILS[:2])
    first = store.ledger_pending(["c"])[0]
    assert store.ledger_claim(first.id, to_iso(datetime.now(UTC)))
    assert store.ledger_recover_claimed("2025-06-01T00:00:00Z") == 1
    assert states(store) == {EMAILS[0]: "ambiguous", EMAILS[1]: "planned"}
    assert [r.email for r in store.ledger_pending(["c"])] == [EMAILS[1]]


def test_lock_keeps_a_second_run_out(db_path):
    with send_lock(db_path), pytest.raises(SendError) as caught, send_lock(db_path):
        pass
    message = str(caught.value)
    assert message.startswith(f"another 'retain send' is already running on {db_path} (pid ")
    assert f"pid {os.getpid()} on " in message
    with send_lock(db_path):  # released: taken again
        pass


def test_lock_left_by_a_dead_process_is_taken_over(db_path):
    code = (
        "import fcntl, os, sys\n"
        f"f = open({str(lock_path(db_path))!r}, 'a+')\n"
        "fcntl.flock(f.fileno(), fcntl.LOCK_EX)\n"
        "f.write('pid %d on host since then' % os.getpid()); f.flush()\n"
        "os.kill(os.getpid(), 9)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=False)
    assert "pid" in lock_path(db_path).read_text()
    with send_lock(db_path):
        assert str(os.getpid()) in lock_path(db_path).read_text()
