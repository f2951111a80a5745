"""retain tasks (made by rules: replies, failed and ambiguous sends; show, done, snooze) and
retain digest, through the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path

from retain_cli.demo import mail
from retain_cli.store import Store

SHOP = "hello@kornblume-backstube.de"
WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
NOW = "2026-03-02T18:00"  # the shop's time zone is UTC in the test campaign file


def sent_ids(db: Path) -> dict[str, str]:
    with Store.open(db) as store:
        rows = store.conn.execute("SELECT email, message_id FROM sends WHERE state = 'sent'")
        return dict(rows.fetchall())


def shop_with_reply(cli, campaign_shop: Path, db_path: Path, maildir) -> None:
    """hello sent to ada, bob and nora; ada replies in its thread, the mill writes too."""
    assert cli("send", "hello", "--yes", "--config", str(campaign_shop)).exit_code == 0
    ada = sent_ids(db_path)["ada@example.com"]
    box = maildir(
        [
            mail.reply(
                sender="ada@example.com",
                name="Ada",
                to=SHOP,
                subject="Hello Ada",
                text="Do you still bake the seeded rye on Saturdays?",
                in_reply_to=ada,
                quoted="Hi Ada,",
                when=WHEN,
            ),
            mail.reply(
                sender="orders@mill.example",
                name="The Mill",
                to=SHOP,
                subject="Delivery",
                text="Your flour comes on Tuesday.",
                when=WHEN,
            ),
        ],
    )
    result = cli("inbox", "--from-maildir", str(box), "--config", str(campaign_shop))
    assert result.exit_code == 0, result.output


def tasks_json(cli, config: Path, *args: str) -> list[dict]:
    result = cli("tasks", "--now", NOW, "--config", str(config), "-f", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_customer_reply_becomes_a_task_with_context(cli, campaign_shop, db_path, maildir):
    shop_with_reply(cli, campaign_shop, db_path, maildir)
    tasks = tasks_json(cli, campaign_shop)
    assert [(t["kind"], t["title"], t["due_at"], t["customer_id"]) for t in tasks] == [
        ("reply", "Answer ada@example.com's reply to hello", "2026-03-03T09:30:00Z", "C1")
    ]
    assert tasks[0]["detail"] == (
        "Subject: Re: Hello Ada\nDo you still bake the seeded rye on Saturdays?"
    )
    assert tasks_json(cli, campaign_shop) == tasks  # made once

    shown = cli("tasks", "show", str(tasks[0]["id"]), "--now", NOW, "--config", str(campaign_shop))
    assert shown.exit_code == 0, shown.output
    text = shown.output
    assert "Answer ada@example.com's reply to hello" in text
    assert "in 16h" in text
    assert "Do you still bake the seeded rye on Saturdays?" in text
    assert "Answer them yourself, from your mailbox" in text
    for fact in (
        "Ada Lovelace",
        "rfm: ",
        "lifecycle: ",
        "2× Rye loaf, 1× Cinnamon buns",
        "#1002",
    ):
        assert fact in text, fact
    detail = json.loads(
        cli(
            "tasks",
            "show",
            str(tasks[0]["id"]),
            "--now",
            NOW,
            "-f",
            "json",
            "--config",
            str(campaign_shop),
        ).stdout
    )
    assert detail["customer"]["orders"] == 2  # the cancelled order does not count
    assert detail["customer"]["total_spent"] == 55.0  # 25.00 + 40.00 - 10.00 refunded
    assert [o["order_id"] for o in detail["last_orders"]] == ["#1002", "#1001"]
    assert detail["wrote"][0]["excerpt"] == "Do you still bake the seeded rye on Saturdays?"

    done = cli(
        "tasks",
        "done",
        str(tasks[0]["id"]),
        "--note",
        "answered: yes, every Saturday",
        "--now",
        NOW,
        "--config",
        str(campaign_shop),
    )
    assert done.exit_code == 0, done.output
    assert tasks_json(cli, campaign_shop) == []
    with Store.open(db_path) as store:
        handled = store.conn.execute(
            "SELECT handled_at FROM inbox_messages WHERE from_email = 'ada@example.com'"
        ).fetchone()[0]
        note = store.conn.execute("SELECT note, done_at FROM tasks").fetchone()
    assert handled == "2026-03-02T18:00:00Z"
    assert note == ("answered: yes, every Saturday", "2026-03-02T18:00:00Z")
    again = cli("tasks", "done", str(tasks[0]["id"]), "--config", str(campaign_shop))
    assert again.exit_code == 2
    assert "Error: task 1 was done already (at 2026-03-02T18:00:00Z)" in again.output


def test_failed_and_ambiguous_sends_become_tasks(cli, campaign_shop, db_path):
    assert cli("send", "hello", "--yes", "--config", str(campaign_shop)).exit_code == 0
    with Store.open(db_path) as store:
        store.conn.execute(
            "UPDATE sends SET state = 'failed', error = '550 5.1.1 user unknown', "
            "updated_at = '2026-03-02T08:00:00Z' WHERE email = 'bob@example.com'"
        )
        store.conn.execute(
            "UPDATE sends SET state = 'ambiguous', error = 'no reply to DATA', "
            "updated_at = '2026-03-02T08:00:00Z' WHERE email = 'nora@example.com'"
        )
    tasks = tasks_json(cli, campaign_shop)
    assert [(t["kind"], t["title"], t["detail"]) for t in tasks] == [
        (
            "send_failed",
            "Message to bob@example.com failed",
            "hello step 1: 550 5.1.1 user unknown",
        ),
        (
            "send_ambiguous",
            "Message to nora@example.com may not have arrived",
            "hello step 1: no reply to DATA",
        ),
    ]
    assert "retain sends resolve 'hello:1:C5:1' --as sent" in tasks[1]["action"]
    assert {t["due_at"] for t in tasks} == {"2026-03-03T18:00:00Z"}


def test_snooze_hides_a_task_until_then(cli, campaign_shop, db_path, maildir):
    shop_with_reply(cli, campaign_shop, db_path, maildir)
    task = tasks_json(cli, campaign_shop)[0]
    result = cli(
        "tasks",
        "snooze",
        str(task["id"]),
        "--for",
        "2d",
        "--now",
        NOW,
        "--config",
        str(campaign_shop),
    )
    assert result.exit_code == 0, result.output
    assert "snoozed until 2026-03-04T18:00:00Z" in result.output
    assert tasks_json(cli, campaign_shop) == []
    assert [t["state"] for t in tasks_json(cli, campaign_shop, "--all")] == ["snoozed"]
    later = cli("tasks", "--now", "2026-03-05T08:00", "--config", str(campaign_shop), "-f", "json")
    assert [t["id"] for t in json.loads(later.stdout)] == [task["id"]]
    bad = cli("tasks", "snooze", str(task["id"]), "--for", "soon", "--config", str(campaign_shop))
    assert bad.exit_code == 2
    assert "Error: --for 'soon' is neither a time (3d, 12h, 1w) nor a day (YYYY-MM-DD)" in (
        bad.output
    )
    missing = cli("tasks", "show", "99", "--config", str(campaign_shop))
    assert missing.exit_code == 1
    assert "Error: no task 99; 'retain tasks' lists the open ones" in missing.output


def test_digest_prints_the_day_and_mails_it(cli, campaign_shop, db_path, maildir):
    shop_with_reply(cli, campaign_shop, db_path, maildir)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M")
    result = cli("digest", "--now", now, "--config", str(campaign_shop), "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["sending"]["sent"] == 3
    assert data["mailbox"]["replies from customers"] == 1
    assert data["tasks"][0]["title"] == "Answer ada@example.com's reply to hello"
    assert data["tasks_made_now"] == {"reply": 1}
    text = cli("digest", "--now", now, "--config", str(campaign_shop)).output
    assert "  sent: 3\n" in text
    assert "  replies from customers: 1\n" in text
    assert "Answer ada@example.com's reply to hello" in text
    assert max(len(line) for line in text.splitlines()) <= 78

    result = cli("digest", "--email", "--now", now, "--config", str(campaign_shop))
    assert result.exit_code == 0, result.output
    outbox = campaign_shop.parent / "outbox" / "mail"
    assert " ".join(result.stderr.split()) == (
        f"Digest for hello@kornblume-backstube.de written to the outbox ({outbox}), not "
        "e-mailed: the campaign file's transport is outbox."
    )
    written = list(outbox.glob("*.eml"))
    assert len(written) == 1
    message = message_from_bytes(written[0].read_bytes())
    assert message["To"] == "hello@kornblume-backstube.de"
    assert message["Auto-Submitted"] == "auto-generated"
    assert "Answer ada@example.com's reply to hello" in message.get_payload(decode=True).decode()


def test_the_digest_figures_are_retain_metrics_with_the_currency(cli, campaign_shop, monkeypatch):
    """The revenue line names the shop's currency; every figure is what 'retain metrics'
    says for the same 30 days."""
    monkeypatch.setenv("RETAIN_NOW", "2025-05-20T12:00:00Z")
    figures = cli("metrics", "--period", "30d", "-f", "json")
    assert figures.exit_code == 0, figures.output
    data = json.loads(figures.stdout)
    values = {m["metric"]: m["value"] for m in data["metrics"]}
    assert values["orders"] >= 1
    text = cli("digest", "--config", str(campaign_shop)).output
    assert f"  revenue: {values['revenue']:.2f} {data['currency']}\n" in text
    assert f"  orders: {values['orders']}\n" in text
    assert f"  repeat purchase rate: {values['repeat_purchase_rate']:.1%}\n" in text
