"""plan, send, sends, resolve, unsubscribe and cron through the CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from smtp_servers import SHOP_AS_OF, Behaviour, SmtpServer, kill_after, make_shop

from retain_cli.campaigns.cron import DIGEST_NOTE, STALE_NOTE
from retain_cli.campaigns.planner import holdout_score
from retain_cli.campaigns.send import send_lock
from retain_cli.store import Store

DATA = Path(__file__).parent / "data" / "sending"
CONSENTING = {f"c{i:02d}@example.org" for i in range(20)}
HELD = {e for e in CONSENTING if holdout_score("hello", e.split("@")[0].upper()) < 0.2}


@pytest.fixture
def shop(db_path: Path, tmp_path: Path) -> Path:
    """The test shop in the database, and the campaign file (outbox) in tmp_path/shop."""
    with Store.open(db_path) as store:
        make_shop(store)
    shutil.copytree(DATA, tmp_path / "shop")
    return tmp_path / "shop" / "campaigns.yaml"


def use_smtp(config: Path, port: int, limits: str = "") -> Path:
    text = config.read_text().replace(
        "  type: outbox\n",
        f"  type: smtp\n  host: 127.0.0.1\n  port: {port}\n  security: none\n  timeout: 5\n",
    )
    if limits:
        text = text.replace("campaigns:\n", f"limits:\n{limits}campaigns:\n", 1)
    config.write_text(text)
    return config


def ledger(db_path: Path) -> dict[str, str]:
    with Store.open(db_path) as store:
        rows = store.conn.execute("SELECT email, state FROM sends WHERE campaign = 'hello'")
        return dict(rows.fetchall())


def rows_of(stdout: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(stdout)))


def test_plan_lists_due_and_left_out_with_reasons(cli, shop):
    result = cli("plan", "hello", "--config", str(shop), "--as-of", SHOP_AS_OF, "-f", "csv")
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    assert list(rows[0]) == [
        "campaign", "step", "customer_id", "email", "status", "variant", "reason", "key"
    ]  # fmt: skip
    status = {r["email"]: (r["status"], r["reason"]) for r in rows}
    assert status["n1@example.org"] == ("left_out", "no consent")
    assert status["s1@example.org"] == ("left_out", "opted out")
    assert {e for e, (s, _) in status.items() if s == "held_out"} == HELD
    assert {e for e, (s, _) in status.items() if s == "due"} == CONSENTING - HELD
    assert rows[0]["key"] == f"hello:1:{rows[0]['customer_id']}:1"
    assert ledger(Path(os.environ["RETAIN_DB"])) == {}  # planning records nothing


def test_plan_table_shows_summary(cli, shop):
    result = cli("plan", "--config", str(shop), "--as-of", SHOP_AS_OF)
    assert result.exit_code == 0
    assert "Plan as of 2025-06-10 23:59 UTC" in result.stdout
    assert "no consent 1" in result.stdout


def test_send_to_outbox_then_nothing_twice(cli, shop, db_path, tmp_path):
    args = ("send", "hello", "--yes", "--config", str(shop), "--as-of", SHOP_AS_OF)
    result = cli(*args, "-f", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    due = len(CONSENTING - HELD)
    assert summary["sent"] == due and summary["held out"] == len(HELD)
    assert summary["failed"] == 0 and summary["transport"] == "outbox"
    assert len(list((tmp_path / "shop" / "outbox" / "hello").glob("*.eml"))) == due
    states = ledger(db_path)
    assert {e for e, s in states.items() if s == "sent"} == CONSENTING - HELD
    assert {e for e, s in states.items() if s == "held_out"} == HELD
    again = cli(*args, "-f", "json")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["sent"] == 0
    assert len(list((tmp_path / "shop" / "outbox" / "hello").glob("*.eml"))) == due


def test_dry_run_renders_but_records_nothing(cli, shop, db_path):
    result = cli("send", "--dry-run", "--config", str(shop), "--as-of", SHOP_AS_OF, "-f", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["would send"] == len(CONSENTING - HELD) + 5 + 1  # hello, thanks, birthday
    assert ledger(db_path) == {}


def test_in_a_terminal_it_asks_first(cli, shop, db_path, monkeypatch):
    from retain_cli.cli import sending

    monkeypatch.setattr(sending, "_interactive", lambda: True)
    args = ("send", "hello", "--config", str(shop), "--as-of", SHOP_AS_OF)
    result = cli(*args, input="n\n")
    assert result.exit_code == 0
    assert f"Send {len(CONSENTING - HELD)} messages through outbox now?" in result.stdout
    assert "Nothing sent." in result.stderr
    assert ledger(db_path) == {}
    result = cli(*args, input="y\n")
    assert result.exit_code == 0
    assert "sent" in set(ledger(db_path).values())


def test_send_through_smtp_with_a_bad_mailbox_exits_3(cli, shop, db_path):
    bad = sorted(CONSENTING - HELD)[0]
    with SmtpServer(Behaviour(reject_rcpt={bad: "550 5.1.1 unknown user"})) as server:
        config = use_smtp(shop, server.port)
        result = cli("send", "hello", "--yes", "--config", str(config), "--as-of", SHOP_AS_OF)
    assert result.exit_code == 3
    assert f"{bad}: RCPT: 550 5.1.1 unknown user" in result.stderr
    assert sorted(server.recipients()) == sorted(CONSENTING - HELD - {bad})
    assert ledger(db_path)[bad] == "failed"
    listed = cli("sends", "--state", "failed", "-f", "csv")
    rows = rows_of(listed.stdout)
    assert list(rows[0])[:6] == ["campaign", "step", "customer_id", "email", "state", "attempts"]
    assert {"error", "sent_at", "key", "message_id", "reply"} <= set(rows[0])
    assert [(r["email"], r["error"]) for r in rows] == [(bad, "RCPT: 550 5.1.1 unknown user")]
    with Store.open(db_path) as store:
        assert store.conn.execute(
            "SELECT source, reason FROM suppressions WHERE email = ?", (bad,)
        ).fetchone() == ("bounce", "mailbox does not exist (RCPT: 550 5.1.1 unknown user)")
    plan = cli("plan", "hello", "--config", str(config), "--as-of", SHOP_AS_OF, "-f", "csv")
    reasons = {r["email"]: r["reason"] for r in rows_of(plan.stdout)}
    assert reasons[bad] == "already failed (this occurrence)"


def test_sends_resolve_settles_ambiguous_by_hand(cli, shop, db_path):
    lost = sorted(CONSENTING - HELD)[1]
    with SmtpServer(Behaviour(drop_after_data={lost})) as server:
        config = use_smtp(shop, server.port)
        result = cli("send", "hello", "--yes", "--config", str(config), "--as-of", SHOP_AS_OF)
        assert result.exit_code == 3
        assert ledger(db_path)[lost] == "ambiguous"
        listed = rows_of(cli("sends", "--state", "ambiguous", "-f", "csv").stdout)
        assert [r["email"] for r in listed] == [lost]
        key = listed[0]["key"]
        done = cli("sends", "resolve", key, "--as", "retry")
        assert done.exit_code == 0
        assert done.stdout.strip() == "Resolved 1 send(s) as to retry on the next send."
        server.behaviour.drop_after_data.clear()
        again = cli("send", "hello", "--yes", "--config", str(config), "--as-of", SHOP_AS_OF)
        assert again.exit_code == 0
    assert Counter(server.recipients())[lost] == 2  # sent again only because we said so
    assert ledger(db_path)[lost] == "sent"
    refused = cli("sends", "resolve", key, "--as", "sent")
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"Error: send '{key}' is sent, not ambiguous")
    missing = cli("sends", "resolve", "nope", "--as", "sent")
    assert missing.exit_code == 1
    assert "no send with key 'nope'" in missing.stderr


def test_a_second_send_is_kept_out_by_the_lock(cli, shop, db_path):
    with send_lock(db_path):
        result = cli("send", "--yes", "--config", str(shop), "--as-of", SHOP_AS_OF)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"Error: another 'retain send' is already running on {db_path} (pid {os.getpid()}"
    )
    assert ledger(db_path) == {}


def test_rate_limit_holds_across_two_runs(cli, shop, db_path):
    with SmtpServer() as server:
        config = use_smtp(shop, server.port, "  per_day: 5\n")
        first = cli(
            "send", "hello", "--yes", "-c", str(config), "--as-of", SHOP_AS_OF, "-f", "json"
        )
        second = cli(
            "send", "hello", "--yes", "-c", str(config), "--as-of", SHOP_AS_OF, "-f", "json"
        )
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert (one["sent"], one["deferred"]) == (5, len(CONSENTING - HELD) - 5)
    assert one["stopped"].startswith("daily limit of 5 messages reached")
    assert (two["sent"], two["deferred"]) == (0, len(CONSENTING - HELD) - 5)
    assert len(server.recipients()) == 5


def test_unsubscribe_takes_effect_for_every_campaign(cli, shop, db_path):
    result = cli("unsubscribe", "C00@Example.org", "--reason", "asked by phone")
    assert result.exit_code == 0
    assert result.stdout.strip() == "Unsubscribed c00@example.org: no campaign will write to it."
    again = cli("unsubscribe", "c00@example.org")
    assert again.stdout.strip() == "c00@example.org was already unsubscribed."
    plan = cli("plan", "--config", str(shop), "--as-of", SHOP_AS_OF, "-f", "csv")
    c00 = [r for r in rows_of(plan.stdout) if r["email"] == "c00@example.org"]
    assert {r["campaign"] for r in c00} == {"hello", "thanks"}
    assert {r["reason"] for r in c00} == {"opted out"}
    bad = cli("unsubscribe", "not an address")
    assert bad.exit_code == 2
    assert bad.stderr.strip() == "Error: 'not an address' is not an e-mail address"


def test_cron_prints_a_ready_line_with_absolute_paths(cli, tmp_path):
    result = cli("cron", "--at", "06:30", "--config", "campaigns.yaml", "--db", "shop.db")
    assert result.exit_code == 0
    note, *stale, line = result.stdout.strip().splitlines()
    assert (
        note
        == f"# note: {tmp_path / 'campaigns.yaml'} does not exist yet; 'retain init' writes one"
    )
    # no --import-dir: the run works from the last import; no campaign file: no word on a
    # mailbox (it cannot be known yet); the digest is mailed after the send
    assert stale == [*STALE_NOTE, DIGEST_NOTE]
    assert line.startswith(f"30 6 * * * cd {tmp_path} && ")
    retain = Path(sys.executable).with_name("retain")
    base = f"{retain} --db {tmp_path / 'shop.db'}"
    config, log = tmp_path / "campaigns.yaml", tmp_path / "retain-send.log"
    assert f"&& {base} send --config {config} --yes >> {log} 2>&1; " in line
    assert line.endswith(f"; {base} digest --config {config} --email >> {log} 2>&1")
    assert " inbox " not in line
    bad = cli("cron", "--at", "25:00")
    assert bad.exit_code == 2
    assert "--at '25:00' is not a time; write HH:MM" in bad.stderr


def test_cron_says_where_the_smtp_password_must_come_from(cli, shop, monkeypatch):
    use_smtp(shop, 2525)
    text = shop.read_text().replace("  timeout: 5\n", "  timeout: 5\n  username: me@x.example\n")
    shop.write_text(text)
    monkeypatch.setenv("RETAIN_SMTP_PASSWORD", "s3cret-value")
    result = cli("cron", "--config", str(shop))
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("# cron does not see your shell's RETAIN_SMTP_PASSWORD")
    assert "keyring set retain me@x.example" in lines[1]
    assert lines[-1].startswith("0 9 * * * ")
    assert "s3cret-value" not in result.output


def test_killed_mid_batch_then_rerun_sends_everyone_exactly_once(shop, db_path):
    """SIGKILL a real `retain send` process in the middle of a batch, run it again."""
    due = CONSENTING - HELD
    with SmtpServer(Behaviour(delay=0.2)) as server:
        config = use_smtp(shop, server.port, "  batch_size: 4\n")
        command = [sys.executable, "-m", "retain_cli", "--db", str(db_path), "send", "hello"]
        command += ["--yes", "--config", str(config), "--as-of", SHOP_AS_OF]
        before = kill_after(command, server, 6)
        assert 6 <= before < len(due)
        server.behaviour.delay = 0.0
        again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode == 3  # the one in flight is ambiguous: the owner must look
    received = Counter(server.recipients())
    states = ledger(db_path)
    sent = {e for e, s in states.items() if s == "sent"}
    ambiguous = {e for e, s in states.items() if s == "ambiguous"}
    assert set(states.values()) <= {"sent", "ambiguous", "held_out"}  # none lost or pending
    assert sent | ambiguous == due
    assert len(ambiguous) == 1
    assert all(count == 1 for count in received.values())  # nobody got two
    assert set(received) - ambiguous == sent  # every sent one arrived
    # Killed while waiting for the server's reply, the ambiguous one did arrive. (Had the
    # kill fallen in the instant between its claim and its DATA, it would not have: the
    # ledger cannot tell the two apart, which is why ambiguous sends are settled by hand.)
    assert all(received[e] <= 1 for e in ambiguous)


def test_missing_password_fails_before_anything_is_claimed(cli, shop, db_path, monkeypatch):
    monkeypatch.setenv("SHOP_PW_UNSET", "")
    with SmtpServer(auth=True) as server:
        config = use_smtp(shop, server.port)
        text = config.read_text().replace(
            "  timeout: 5\n", "  timeout: 5\n  username: shop@example.com\n"
        )
        config.write_text(
            text.replace("  timeout: 5\n", "  timeout: 5\n  password_env: SHOP_PW_UNSET\n")
        )
        result = cli("send", "hello", "--yes", "--config", str(config), "--as-of", SHOP_AS_OF)
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: no SMTP password for shop@example.com: set the environment variable "
        "SHOP_PW_UNSET (transport.password_env)"
    )
    assert server.recipients() == []
    assert ledger(db_path) == {}  # the password is looked up before anything is recorded


def test_refused_login_through_the_cli_keeps_the_password_secret(cli, shop, monkeypatch):
    monkeypatch.setenv("RETAIN_SMTP_PASSWORD", "hunter2-very-secret")
    with SmtpServer(Behaviour(refuse_login=True), auth=True) as server:
        config = use_smtp(shop, server.port)
        config.write_text(
            config.read_text().replace("  timeout: 5\n", "  timeout: 5\n  username: shop\n")
        )
        result = cli("send", "hello", "--yes", "--config", str(config), "--as-of", SHOP_AS_OF)
    assert result.exit_code == 1
    assert "hunter2" not in result.output
    assert result.stderr.startswith(
        f"Error: SMTP login to 127.0.0.1:{server.port} as shop was refused"
    )


def test_smtp_transport_without_a_host_says_what_to_add(cli, shop):
    result = cli("send", "--yes", "--transport", "smtp", "--config", str(shop))
    assert result.exit_code == 1
    assert "transport.host is not set" in result.stderr
    assert "or use --transport outbox" in result.stderr


def test_server_down_exits_3_and_keeps_the_messages_planned(cli, shop, db_path):
    config = use_smtp(shop, SmtpServer().port)  # nothing listens there
    result = cli("send", "hello", "--yes", "--config", str(config), "--as-of", SHOP_AS_OF)
    assert result.exit_code == 3
    assert "cannot connect to SMTP server 127.0.0.1" in result.stdout
    assert set(ledger(db_path).values()) == {"planned", "held_out"}


def test_happy_path_through_smtp_every_message_once_with_headers(cli, shop, db_path):
    due = CONSENTING - HELD
    with SmtpServer() as server:
        config = use_smtp(shop, server.port, "  batch_size: 3\n")
        result = cli("send", "--yes", "--config", str(config), "--as-of", SHOP_AS_OF, "-f", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["sent"] == len(due) + 5 + 1  # hello, thanks (first orders), birthday
    received = Counter(server.recipients())
    thanks = {f"c{i:02d}@example.org" for i in range(5)}
    expected = Counter([*due, *thanks, "c05@example.org"])  # one per campaign and customer
    assert received == expected
    hello = [r.message for r in server.received if r.message["X-Retain-Campaign"] == "hello"]
    assert sorted(m["To"].split("<")[-1].rstrip(">") for m in hello) == sorted(due)
    first = hello[0]
    assert first["List-Unsubscribe"].startswith("<mailto:unsubscribe@kornblume-backstube.de?")
    assert first["List-Unsubscribe-Post"] is None  # mailto: only (RFC 8058 needs https:)
    assert first["Message-ID"].endswith("@kornblume-backstube.de>")
    assert first["From"] == "Kornblume Bakery <hello@kornblume-backstube.de>"
    with Store.open(db_path) as store:
        ids = dict(store.conn.execute("SELECT message_id, state FROM sends WHERE state = 'sent'"))
    assert {m["Message-ID"] for m in hello} <= set(ids)


def test_temporary_failures_are_retried_as_configured(cli, shop, db_path):
    behaviour = Behaviour(data_replies=["451 4.3.0 try later", "451 4.3.0 try later"])
    args = ["send", "hello", "--yes", "--as-of", SHOP_AS_OF, "--backoff", "0", "-f", "json"]
    with SmtpServer(behaviour) as server:
        config = use_smtp(shop, server.port)
        once = cli(*args, "--config", str(config), "--retries", "0", "--limit", "1")
        assert once.exit_code == 0, once.output
        assert json.loads(once.stdout)["sent"] == 0  # deferred: tried once, 451
        again = cli(*args, "--config", str(config), "--retries", "1")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["sent"] == len(CONSENTING - HELD)
    with Store.open(db_path) as store:
        attempts = store.conn.execute("SELECT max(attempts) FROM sends").fetchone()[0]
    assert attempts == 3  # 451 (first run), 451, then accepted (second run)


def test_sends_filter_that_matches_nothing_says_so(cli, db_path):
    Store.open(db_path).close()
    result = cli("sends", "--campaign", "nosuch", "--state", "failed")
    assert result.exit_code == 0
    assert "No sends match --campaign 'nosuch' and --state 'failed'." in result.stdout
    assert "The send ledger is empty" in cli("sends").stdout
