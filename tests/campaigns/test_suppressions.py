"""retain suppressions list / remove: a wrong opt-out lifted by hand, and recorded."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from smtp_servers import SHOP_AS_OF, Behaviour, SmtpServer, sending_shop, use_smtp_server

from retain_cli.campaigns.planner import holdout_score
from retain_cli.store import Store

DUE = sorted(
    e
    for e in (f"c{i:02d}@example.org" for i in range(20))
    if holdout_score("hello", e.split("@")[0].upper()) >= 0.2
)


@pytest.fixture
def shop(db_path: Path, tmp_path: Path) -> Path:
    """s1@example.org opted out by hand (source cli, reason 'asked')."""
    return sending_shop(db_path, tmp_path)


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def flat(text: str) -> str:
    return " ".join(text.split())


def test_a_wrong_bounce_is_lifted_recorded_and_the_customer_mailed_again(cli, shop, db_path):
    bad = DUE[0]
    refusal = f"550 5.1.1 <{bad}>: Recipient address rejected: User unknown"
    with SmtpServer(Behaviour(reject_rcpt={bad: refusal})) as server:
        config = use_smtp_server(shop, server.port)
        args = ("send", "hello", "--yes", "--config", str(config), "--as-of", SHOP_AS_OF)
        assert cli(*args).exit_code == 3
    listed = csv_rows(cli("suppressions", "list", "--source", "bounce", "-f", "csv").stdout)
    assert [(r["email"], r["source"], r["reason"]) for r in listed] == [
        (bad, "bounce", f"mailbox does not exist (RCPT: {refusal})")
    ]
    since = listed[0]["created_at"]

    result = cli("suppressions", "remove", bad.upper(), "--note", "the mailbox exists: typo")
    assert result.exit_code == 0, result.output
    key = f"hello:1:{bad.split('@')[0].upper()}:1"
    assert flat(result.stdout) == flat(
        f"Removed the suppression of {bad} (source: bounce, since {since}: mailbox does not "
        f"exist (RCPT: {refusal})); campaigns may write to it again. Recorded with your note. "
        f"Its failed sends stay failed ('{key}'); send one again with 'retain sends resolve "
        "KEY --as retry'."
    )
    with Store.open(db_path) as store:
        assert store.conn.execute(
            "SELECT count(*) FROM suppressions WHERE email = ?", (bad,)
        ).fetchone() == (0,)
        log = store.conn.execute(
            "SELECT email, action, source, suppressed_at, note FROM suppression_log"
        ).fetchall()
    assert log == [(bad, "removed", "bounce", since, "the mailbox exists: typo")]
    removed = csv_rows(cli("suppressions", "list", "--removed", "-f", "csv").stdout)
    assert [(r["email"], r["note"], r["source"]) for r in removed] == [
        (bad, "the mailbox exists: typo", "bounce")
    ]

    assert cli("sends", "resolve", key, "--as", "retry").exit_code == 0
    with SmtpServer() as healthy:
        config.write_text(
            config.read_text().replace(f"port: {server.port}", f"port: {healthy.port}")
        )
        again = cli(*args)
    assert again.exit_code == 0, again.output
    assert healthy.recipients() == [bad]


def test_an_opt_out_the_customer_asked_for_needs_force(cli, shop, db_path):
    result = cli("suppressions", "remove", "s1@example.org", "--note", "wrong")
    assert result.exit_code == 2
    assert flat(result.stderr) == (
        "Error: s1@example.org opted out (asked; source: cli, since 2025-01-01T00:00:00Z); "
        "only the customer can take that back: add --force if they asked to get mail again"
    )
    with Store.open(db_path) as store:
        assert store.is_suppressed("s1@example.org")
    forced = cli("suppressions", "remove", "s1@example.org", "--note", "asked by phone", "--force")
    assert forced.exit_code == 0, forced.output
    with Store.open(db_path) as store:
        assert not store.is_suppressed("s1@example.org")
        assert store.conn.execute("SELECT note FROM suppression_log").fetchall() == [
            ("asked by phone",)
        ]


def test_removing_what_is_not_suppressed_or_without_a_note_is_an_error(cli, shop):
    result = cli("suppressions", "remove", "c01@example.org", "--note", "x")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: c01@example.org is not suppressed; 'retain suppressions list' shows who is\n"
    )
    empty = cli("suppressions", "remove", "s1@example.org", "--note", "  ", "--force")
    assert empty.exit_code == 2
    assert empty.stderr == (
        "Error: --note is empty; say why the suppression was wrong (it is kept)\n"
    )


def test_the_list_at_80_columns(cli, shop, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("suppressions", "list")
    assert result.exit_code == 0
    assert "s1@example.org" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert cli("suppressions", "list", "--source", "bounce").stdout == (
        "No address is suppressed by 'bounce'.\n"
    )
    assert cli("suppressions", "list", "--removed").stdout == "No opt-out has been lifted.\n"
