"""``retain inbox`` against a real IMAP server (Dovecot on 127.0.0.1): each kind of message,
marked and never deleted; the same message twice; a run killed half-way; bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from shop import SHOP, configure, inbox_rows, send_hello, suppressions

from retain_cli.demo import mail
from retain_cli.store import Store

FLAG = "$RetainProcessed"


@pytest.fixture
def shop(campaign_shop: Path, imap, cli, db_path: Path):
    configure(campaign_shop, port=imap.port, user=imap.user)
    return campaign_shop, send_hello(cli, campaign_shop, db_path)


def the_five(sent) -> list[bytes]:
    """A DSN bounce, an auto-reply, an unsubscribe request, a survey-style answer and a free
    reply in the thread of a sent campaign message."""
    ada, bob, nora = sent["ada@example.com"], sent["bob@example.com"], sent["nora@example.com"]
    return [
        mail.dsn_bounce(to=ada.verp, failed="ada@example.com", original_id=ada.message_id),
        mail.auto_reply(
            sender="bob@example.com",
            name="Bob",
            to=SHOP,
            subject="Hello friend",
            in_reply_to=bob.message_id,
        ),
        mail.reply(
            sender="nora@example.com",
            name="Nora",
            to=SHOP,
            subject="Hello Nora",
            text="Bitte abmelden!",
            in_reply_to=nora.message_id,
            quoted="Hello Nora",
        ),
        mail.reply(
            sender="bob@example.com",
            name="Bob",
            to=SHOP,
            subject="Hello friend",
            text="9 - great bread",
            in_reply_to=bob.message_id,
            seed="survey",
        ),
        mail.reply(
            sender="bob@example.com",
            name="Bob Baker",
            to=SHOP,
            subject="Hello friend",
            text="Thanks! Do you have the rye loaf on Saturdays?\nBob",
            in_reply_to=bob.message_id,
            quoted="Hello friend",
            html=True,
        ),
    ]


def test_each_kind_of_message_is_classified_recorded_and_marked(shop, imap, cli, db_path):
    config, sent = shop
    imap.append(*the_five(sent))
    result = cli("inbox", "--config", str(config), "-f", "json")
    assert result.exit_code == 0, result.output
    import json

    out = json.loads(result.stdout)
    assert out["summary"] == {
        "read": 5,
        "already processed": 0,
        "unsubscribe requests": 1,
        "hard bounces": 1,
        "soft bounces": 0,
        "auto-replies (ignored)": 1,
        "survey answers": 0,
        "replies": 2,
        "linked to a campaign": 4,
        "newly suppressed": 2,
        "source": f"imap://{imap.user}@127.0.0.1/INBOX",
    }
    assert out["suppressed"] == ["ada@example.com", "nora@example.com"]
    assert out["problems"] == [] and out["notes"] == []
    rows = inbox_rows(db_path)
    assert [
        (r["classification"], r["action"], r["email"], r["customer_id"], r["send_key"])
        for r in rows
    ] == [
        ("hard_bounce", "suppressed", "ada@example.com", "C1", sent["ada@example.com"].send_key),
        ("auto_reply", "ignored", "bob@example.com", "C2", None),
        ("unsubscribe", "suppressed", "nora@example.com", "C5", sent["nora@example.com"].send_key),
        ("reply", "recorded", "bob@example.com", "C2", sent["bob@example.com"].send_key),
        ("reply", "recorded", "bob@example.com", "C2", sent["bob@example.com"].send_key),
    ]
    assert rows[0]["reason"].startswith(
        "hard bounce: 5.1.1 (smtp; 550 5.1.1 <ada@example.com>: Recipient address rejected: "
        "User unknown) of hello:1:C1:1 (VERP token "
    )
    assert rows[2]["reason"] == (
        "unsubscribe request from nora@example.com: the first line says 'abmelden'"
    )
    assert rows[4]["excerpt"] == "Thanks! Do you have the rye loaf on Saturdays?\nBob"
    assert all(r["message_id"] for r in rows)
    assert suppressions(db_path) == {
        "sue@example.com": ("cli", "asked"),
        "ada@example.com": ("inbox", rows[0]["reason"]),
        "nora@example.com": ("inbox", rows[2]["reason"]),
    }
    # every message is still there, marked processed, and still unread for the owner
    flags = imap.flags()
    assert len(flags) == 5
    assert all(FLAG in f and "\\Seen" not in f and "\\Deleted" not in f for f in flags.values())
    # the next run finds nothing new
    again = cli("inbox", "--config", str(config), "-f", "json")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["summary"]["read"] == 0


def test_a_survey_answer_over_imap_is_recorded_with_its_score(campaign_shop, imap, cli, db_path):
    """With hello a survey (survey: nps), Bob's "9 - great bread" in its thread is an answer:
    NPS 9 with the comment, linked to his message; his other reply stays a reply."""
    text = campaign_shop.read_text().replace(
        "  - name: hello\n    audience: all\n",
        "  - name: hello\n    audience: all\n    survey: nps\n",
    )
    campaign_shop.write_text(text)
    configure(campaign_shop, port=imap.port, user=imap.user)
    sent = send_hello(cli, campaign_shop, db_path)
    imap.append(*the_five(sent))
    result = cli("inbox", "--config", str(campaign_shop), "-f", "json")
    assert result.exit_code == 0, result.output
    import json

    summary = json.loads(result.stdout)["summary"]
    assert (summary["survey answers"], summary["replies"]) == (1, 1)
    with Store.open(db_path) as store:
        answers = store.conn.execute(
            "SELECT email, send_key, kind, score, comment FROM survey_responses"
        ).fetchall()
    assert answers == [
        ("bob@example.com", sent["bob@example.com"].send_key, "nps", 9, "great bread")
    ]
    assert all(FLAG in f for f in imap.flags().values())


def test_the_same_message_twice_changes_nothing(shop, imap, cli, db_path):
    config, sent = shop
    messages = the_five(sent)
    imap.append(*messages)
    assert cli("inbox", "--config", str(config)).exit_code == 0
    before = (inbox_rows(db_path), suppressions(db_path))
    imap.append(*messages)  # the same messages again (a second copy in the folder)
    result = cli("inbox", "--config", str(config), "-f", "json")
    assert result.exit_code == 0
    import json

    summary = json.loads(result.stdout)["summary"]
    assert (summary["read"], summary["already processed"]) == (5, 5)
    assert (inbox_rows(db_path), suppressions(db_path)) == before
    assert len(imap.flags()) == 10 and all(FLAG in f for f in imap.flags().values())


def test_a_run_killed_between_batches_loses_nothing_and_counts_nothing_twice(
    shop, imap, db_path, monkeypatch
):
    from retain_cli.mailbox.process import run_inbox

    config, sent = shop
    imap.append(*the_five(sent))
    real = Store.inbox_record
    calls = {"n": 0}

    def dies_on_the_second_batch(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # Ctrl-C (or kill) in the middle of the second batch
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Store, "inbox_record", dies_on_the_second_batch)
    with Store.open(db_path) as store, pytest.raises(KeyboardInterrupt):
        run_inbox(store, config, batch_size=2, record_size=2)
    assert len(inbox_rows(db_path)) == 2  # the first batch, whole
    flagged = sorted(uid for uid, f in imap.flags().items() if FLAG in f)
    assert flagged == [1, 2]
    monkeypatch.setattr(Store, "inbox_record", real)
    with Store.open(db_path) as store:
        result = run_inbox(store, config, batch_size=2, record_size=2)
    assert (result.read, result.already) == (3, 0)
    rows = inbox_rows(db_path)
    assert len(rows) == 5 and len({r["message_id"] for r in rows}) == 5
    assert all(FLAG in f for f in imap.flags().values())


def test_stopped_early_with_batches_still_coming_it_stops_at_once(shop, imap, db_path, monkeypatch):
    """The fetching thread may be waiting to hand over the next batch when the run stops
    (Ctrl-C while recording): the run ends at once, with what was recorded marked."""
    import time

    from retain_cli.mailbox.process import run_inbox

    config, sent = shop
    imap.append(*the_five(sent), *the_five(sent)[:3])  # 8 messages, 5 distinct
    real = Store.inbox_record
    calls = {"n": 0}

    def dies_on_the_second_record(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Store, "inbox_record", dies_on_the_second_record)
    started = time.monotonic()
    with Store.open(db_path) as store, pytest.raises(KeyboardInterrupt):
        run_inbox(store, config, batch_size=1, record_size=1)
    assert time.monotonic() - started < 10
    assert len(inbox_rows(db_path)) == 1
    assert sorted(uid for uid, f in imap.flags().items() if FLAG in f) == [1]


def test_killed_after_recording_before_marking_is_only_marked_next_time(
    shop, imap, db_path, monkeypatch
):
    from retain_cli.mailbox.process import run_inbox
    from retain_cli.mailbox.source import ImapSource

    config, sent = shop
    imap.append(*the_five(sent))
    monkeypatch.setattr(ImapSource, "mark", lambda self, refs: None)  # killed before marking
    with Store.open(db_path) as store:
        run_inbox(store, config)
    assert not any(FLAG in f for f in imap.flags().values())
    monkeypatch.undo()
    import os

    os.environ["RETAIN_IMAP_PASSWORD"] = imap.password
    before = (inbox_rows(db_path), suppressions(db_path))
    with Store.open(db_path) as store:
        result = run_inbox(store, config)
    assert (result.read, result.already, result.suppressed) == (5, 5, [])
    assert (inbox_rows(db_path), suppressions(db_path)) == before
    assert all(FLAG in f for f in imap.flags().values())


def test_soft_bounces_are_counted_and_suppress_after_the_limit(shop, imap, cli, db_path):
    config, sent = shop
    bob = sent["bob@example.com"]
    full = [
        mail.dsn_bounce(
            to=bob.verp,
            failed="bob@example.com",
            status="4.2.2",
            diagnostic="452 4.2.2 Mailbox full",
            original_id=bob.message_id,
            seed=str(i),
        )
        for i in range(3)
    ]
    imap.append(*full[:2])
    assert cli("inbox", "--config", str(config)).exit_code == 0
    assert "bob@example.com" not in suppressions(db_path)
    assert [r["action"] for r in inbox_rows(db_path)] == ["counted", "counted"]
    imap.append(full[2])
    result = cli("inbox", "--config", str(config))
    assert result.exit_code == 0
    source, reason = suppressions(db_path)["bob@example.com"]
    assert source == "inbox"
    assert reason.startswith(
        "3 soft bounces, the last: soft bounce: 4.2.2 (smtp; 452 4.2.2 "
        "Mailbox full) of hello:1:C2:1"
    )
    assert [r["action"] for r in inbox_rows(db_path)] == ["counted", "counted", "suppressed"]
    explained = cli("inbox", "--explain", "BOB@example.com")
    assert explained.exit_code == 0
    assert "bob@example.com (customer C2) is suppressed since " in explained.stdout
    assert explained.stdout.count("soft_bounce, counted") == 2
    assert "soft_bounce, suppressed" in explained.stdout


def test_bad_input_is_reported_and_nothing_is_lost(shop, imap, cli, db_path):
    config, _sent = shop
    imap.append(
        b"this is not an e-mail\r\n",
        b"Subject: no sender\r\nMessage-ID: <nosender@example.net>\r\n\r\nhello\r\n",
        mail.dsn_bounce(
            to="hello+bounce-0000000000000000@kornblume-backstube.de",
            failed="who@example.org",
        ),
        mail.reply(
            sender="stranger@example.net",
            name="S",
            to=SHOP,
            subject="Bread?",
            text="Do you deliver to Potsdam?",
        ),
    )
    result = cli("inbox", "--config", str(config))
    assert result.exit_code == 3, result.output
    out = " ".join(result.stdout.split())
    assert "Could not be used (left in the mailbox):" in out
    assert "UID 1: malformed: no header block (is it an e-mail at all?)" in out
    assert "UID 2 <nosender@example.net>: malformed: no sender address in From:" in out
    assert (
        "UID 3 <" in out
        and ": wrong token: bounce to "
        "hello+bounce-0000000000000000@kornblume-backstube.de matches no sent message"
        in out
    )
    assert "Not a customer (recorded):" in out
    assert "reply from stranger@example.net, not a customer" in out
    rows = inbox_rows(db_path)
    assert [r["classification"] for r in rows] == [
        "malformed",
        "malformed",
        "unmatched_bounce",
        "reply",
    ]
    assert rows[2]["reason"] == (
        "bounce to hello+bounce-0000000000000000@kornblume-backstube.de: no sent message has the "
        "token 0000000000000000 (the report names who@example.org)"
    )
    assert rows[3]["excerpt"] == "Do you deliver to Potsdam?"
    assert set(suppressions(db_path)) == {"sue@example.com"}
    assert len(imap.flags()) == 4  # all still in the mailbox


def test_processed_folder_moves_and_never_deletes(campaign_shop, imap, cli, db_path):
    configure(campaign_shop, port=imap.port, user=imap.user, extra="  processed_folder: Retain\n")
    sent = send_hello(cli, campaign_shop, db_path)
    imap.append(*the_five(sent))
    result = cli("inbox", "--config", str(campaign_shop))
    assert result.exit_code == 0, result.output
    assert imap.flags("INBOX") == {}
    moved = imap.flags("Retain")
    assert len(moved) == 5 and all(FLAG in f and "\\Seen" not in f for f in moved.values())


def test_a_refused_login_names_the_fix_and_never_the_password(shop, imap, cli, monkeypatch):
    config, _ = shop
    monkeypatch.setenv("RETAIN_IMAP_PASSWORD", "wrong-password-123")
    result = cli("inbox", "--config", str(config))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: IMAP login to 127.0.0.1:{imap.port} as {imap.user} was refused; check "
        "mailbox.username and the password in $RETAIN_IMAP_PASSWORD or the keyring\n"
    )
    assert "wrong-password-123" not in result.output
    monkeypatch.delenv("RETAIN_IMAP_PASSWORD")
    monkeypatch.setattr("retain_cli.secrets._keyring_password", lambda *a: None)
    result = cli("inbox", "--config", str(config))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: no IMAP password for {imap.user}: set the environment variable "
        "RETAIN_IMAP_PASSWORD (mailbox.password_env), or store it in the system keyring with "
        f"'keyring set retain-imap {imap.user}'\n"
    )


def test_a_missing_folder_is_named(campaign_shop, imap, cli):
    configure(campaign_shop, port=imap.port, user=imap.user, extra="  folder: Replies\n")
    result = cli("inbox", "--config", str(campaign_shop))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: the mailbox 127.0.0.1:{imap.port} has no folder 'Replies'; check mailbox.folder\n"
    )
