"""The nightly loop that ``retain cron`` prints, run as cron would run it (``sh -c``) against
a real mailbox (Dovecot on 127.0.0.1): the mailbox is read before the send, so a customer who
wrote to unsubscribe during the day is not mailed that night; the digest is mailed after the
send; when the mailbox cannot be read the send is skipped and the digest still comes."""

from __future__ import annotations

import os
import subprocess
from email import message_from_bytes
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from shop import SHOP, configure, suppressions

from retain_cli.campaigns.config import load_config
from retain_cli.campaigns.cron import INBOX_NOTE
from retain_cli.demo import mail
from retain_cli.mailbox.config import NO_MAILBOX_NOTE
from retain_cli.store import Store
from retain_cli.timeutil import from_iso

REPO = Path(__file__).parents[2]


@pytest.fixture
def nightly(campaign_shop: Path, imap, cli, db_path: Path):
    configure(campaign_shop, port=imap.port, user=imap.user)
    # during the day Nora writes in: she wants no mail from the shop
    imap.append(
        mail.reply(
            sender="nora@example.com",
            name="Nora",
            to=SHOP,
            subject="Newsletter",
            text="Bitte abmelden",
        )
    )
    result = cli("cron", "--at", "10:00", "-c", str(campaign_shop), "--db", str(db_path))
    assert result.exit_code == 0, result.output
    return campaign_shop, result.stdout.splitlines()


def run_line(line: str) -> subprocess.CompletedProcess[str]:
    command = line.split(" * * * ", 1)[1]  # what cron runs at 10:00
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True)


def hello_recipients(db: Path) -> list[str]:
    with Store.open(db) as store:
        rows = store.conn.execute(
            "SELECT email FROM sends WHERE campaign = 'hello' AND state = 'sent' ORDER BY email"
        ).fetchall()
    return [r[0] for r in rows]


def digests(outbox: Path) -> list[str]:
    """The addresses of the digests in the outbox."""
    return [to for to, _ in digest_mails(outbox)]


def digest_mails(outbox: Path) -> list[tuple[str, str]]:
    """(To, text as one line) of each digest in the outbox."""
    found = []
    for path in sorted(outbox.rglob("*.eml")):
        message = message_from_bytes(path.read_bytes())
        if str(message["Subject"]).startswith("retain: your day"):
            body = message.get_payload(decode=True).decode()
            found.append((str(message["To"]), " ".join(body.split())))
    return found


def test_the_printed_line_reads_the_mailbox_then_sends_then_mails_the_digest(
    nightly, db_path, imap
):
    config, lines = nightly
    at = lines.index(INBOX_NOTE[0])
    assert lines[at : at + 2] == list(INBOX_NOTE)
    assert (
        "# cron does not see your shell's RETAIN_IMAP_PASSWORD: store the IMAP password in the "
        "system" in lines
    )
    assert f"# keyring once ('keyring set retain-imap {imap.user}'), or set" in " ".join(lines)
    line = lines[-1]
    assert line.index(" inbox --config ") < line.index(" send --config ")
    assert line.index(" send --config ") < line.index(" digest --config ")

    run = run_line(line)
    assert run.returncode == 0, (db_path.parent / "retain-send.log").read_text()
    # Nora's request was read first: suppressed, and the night's hello skipped her
    assert suppressions(db_path)["nora@example.com"][0] == "inbox"
    assert hello_recipients(db_path) == ["ada@example.com", "bob@example.com"]
    # the digest went to the shop's reply-to address, after the send
    assert digests(config.parent / "outbox") == ["hello@kornblume-backstube.de"]
    log = (db_path.parent / "retain-send.log").read_text()
    assert log.index("unsubscribe requests") < log.index("Send summary")
    assert "Digest for hello@kornblume-backstube.de written to the outbox" in log
    ((_, text),) = digest_mails(config.parent / "outbox")
    assert "unsubscribe requests: 1" in text
    with Store.open(db_path) as store:
        (finished,) = store.conn.execute("SELECT finished_at FROM inbox_runs").fetchone()
    shown = from_iso(finished).astimezone(ZoneInfo(load_config(config).timezone))
    assert f"last read: {shown:%Y-%m-%d %H:%M} (1 message)" in text
    assert "last run failed" not in text


def test_when_the_mailbox_cannot_be_read_the_send_waits_and_the_digest_says_why(
    nightly, db_path, imap, monkeypatch
):
    config, lines = nightly
    monkeypatch.setenv("RETAIN_IMAP_PASSWORD", "wrong")
    run = run_line(lines[-1])
    assert run.returncode == 0  # the digest, the line's last command, went out
    log = (db_path.parent / "retain-send.log").read_text()
    assert "Error: IMAP login to 127.0.0.1:" in log
    assert hello_recipients(db_path) == []  # nobody mailed while Nora's request is unread
    assert "nora@example.com" not in suppressions(db_path)
    ((_, text),) = digest_mails(config.parent / "outbox")
    # the digest says why nothing was sent
    assert "last read: never" in text
    assert (
        f": IMAP login to 127.0.0.1:{imap.port} as {imap.user} was refused; check "
        "mailbox.username and the password in $RETAIN_IMAP_PASSWORD or the keyring (the "
        "nightly line from 'retain cron' does not send while the mailbox cannot be read)"
    ) in text
    assert "wrong" not in text  # never the password
    with Store.open(db_path) as store:
        runs = store.conn.execute("SELECT read, error IS NOT NULL FROM inbox_runs").fetchall()
    assert runs == [(0, 1)]


def test_without_a_mailbox_the_line_sends_and_says_the_mailbox_is_not_read(
    campaign_shop, cli, db_path
):
    result = cli("cron", "-c", str(campaign_shop), "--db", str(db_path), "--no-digest")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    at = lines.index(NO_MAILBOX_NOTE[0])
    assert lines[at : at + 2] == list(NO_MAILBOX_NOTE)
    assert " inbox " not in lines[-1] and " digest " not in lines[-1]
    run = run_line(lines[-1])
    assert run.returncode == 0, (db_path.parent / "retain-send.log").read_text()
    assert hello_recipients(db_path) == ["ada@example.com", "bob@example.com", "nora@example.com"]


def test_a_percent_sign_in_a_path_is_escaped_for_cron(cli, campaign_shop, tmp_path):
    folder = tmp_path / "50%off"
    folder.mkdir()
    result = cli("cron", "-c", str(campaign_shop), "--db", str(folder / "shop.db"))
    assert result.exit_code == 0, result.output
    line = result.stdout.splitlines()[-1]
    assert f"cd {tmp_path}/50\\%off && " in line
    assert "50%" not in line.replace("\\%", "")


def test_the_example_mailbox_server_is_not_read_at_night(cli, campaign_shop, db_path):
    """The example campaign file's mailbox (imap.example.com) would fail every night and
    hold every send back: the line leaves the mailbox out and says why."""
    configure(campaign_shop)
    text = campaign_shop.read_text() + (
        "mailbox:\n  host: imap.example.com\n  username: hello@rosies.example\n"
    )
    campaign_shop.write_text(text)
    result = cli("cron", "-c", str(campaign_shop), "--db", str(db_path))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert (
        "# mailbox.host is still the example's imap.example.com, so replies, unsubscribe" in lines
    )
    assert " inbox " not in lines[-1] and " send --config " in lines[-1]
    assert not [line for line in lines if "IMAP_PASSWORD" in line]
