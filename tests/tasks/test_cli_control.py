"""The owner's hand on sending, through the CLI: retain pause / resume (the kill switch send
honours), approval: required and retain queue, the human_only tag, channel: task steps."""

from __future__ import annotations

import json
from pathlib import Path

from retain_cli.store import Store


def sends(db: Path) -> dict[str, tuple[str, str | None]]:
    """email -> (state, error) of the ledger rows."""
    with Store.open(db) as store:
        rows = store.conn.execute("SELECT email, state, error FROM sends ORDER BY id").fetchall()
    return {email: (state, error) for email, state, error in rows}


def outbox(config: Path) -> list[Path]:
    return sorted((config.parent / "outbox").rglob("*.eml"))


def edit(config: Path, old: str, new: str) -> None:
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new, 1))


def test_pause_all_stops_send_until_resume(cli, campaign_shop, db_path):
    result = cli("pause", "--all", "--reason", "oven broken")
    assert result.exit_code == 0, result.output
    assert "Every campaign is paused" in result.output
    result = cli("send", "hello", "--yes", "--config", str(campaign_shop), "-f", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["sent"] == 0
    assert summary["paused"].startswith("every campaign paused since ")
    assert summary["paused"].endswith(": oven broken ('retain resume' to send again)")
    assert sends(db_path) == {}  # nothing planned while paused
    assert outbox(campaign_shop) == []

    result = cli("resume")
    assert result.exit_code == 0, result.output
    assert "Resumed every campaign." in result.output
    result = cli("send", "hello", "--yes", "--config", str(campaign_shop), "-f", "json")
    assert json.loads(result.stdout)["sent"] == 3  # ada, bob, nora (eve: no consent; sue: out)
    assert len(outbox(campaign_shop)) == 3


def test_a_paused_campaign_is_left_out_and_others_go(cli, campaign_shop, db_path):
    assert cli("pause", "series", "--config", str(campaign_shop)).exit_code == 0
    result = cli("send", "--yes", "--config", str(campaign_shop), "-f", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["paused"] == "campaign series paused ('retain resume')"
    assert summary["sent"] == 3
    with Store.open(db_path) as store:
        campaigns = {r[0] for r in store.conn.execute("SELECT campaign FROM sends")}
    assert campaigns == {"hello"}
    result = cli("pause", "nosuch", "--config", str(campaign_shop))
    assert result.exit_code == 1
    assert "no campaign 'nosuch'" in result.output


def test_pause_all_stops_a_running_send_between_batches(campaign_shop, db_path):
    """The dispatcher asks before each batch: a pause made while it sends stops it."""
    from retain_cli.campaigns.config import load_config
    from retain_cli.campaigns.send import run_send
    from retain_cli.tasks.control import pause
    from retain_cli.timeutil import utc_now

    edit(campaign_shop, "  per_day: 500\n", "  per_day: 500\n  batch_size: 1\n")
    config = load_config(campaign_shop)
    with Store.open(db_path) as store:
        calls = []

        def progress(done: int, total: int) -> None:
            calls.append(done)
            if done == 1:
                pause(store, [], everything=True, reason=None, now=utc_now(), config=None)

        result = run_send(store, config, campaigns=["hello"], progress=progress)
    assert result.sent == 1
    assert result.stopped is not None and result.stopped.startswith("every campaign paused")
    assert sorted(state for state, _ in sends(db_path).values()) == ["planned", "planned", "sent"]


def test_approval_required_queues_then_sends_what_was_approved(cli, campaign_shop, db_path):
    edit(campaign_shop, "    audience: all\n", "    audience: all\n    approval: required\n")
    dry = cli("send", "hello", "--dry-run", "--config", str(campaign_shop), "-f", "json")
    assert json.loads(dry.stdout)["would wait for approval"] == 3
    assert json.loads(dry.stdout)["would send"] == 0
    result = cli("send", "hello", "--yes", "--config", str(campaign_shop), "-f", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["sent"] == 0
    assert summary["waiting for approval"] == 3
    assert {s for s, _ in sends(db_path).values()} == {"queued"}
    assert outbox(campaign_shop) == []

    listed = json.loads(cli("queue", "list", "-f", "json").stdout)
    assert [(r["email"], r["subject"]) for r in listed] == [
        ("ada@example.com", "Hello Ada"),
        ("bob@example.com", "Hello friend"),
        ("nora@example.com", "Hello Nora"),
    ]
    shown = cli("queue", "show", str(listed[0]["id"]))
    assert shown.exit_code == 0, shown.output
    assert "To: Ada Lovelace <ada@example.com>" in shown.output
    assert "Hi Ada," in shown.output

    # the queue is not planned again, and the template changed after the approval is not used
    assert (
        json.loads(
            cli("send", "hello", "--yes", "--config", str(campaign_shop), "-f", "json").stdout
        )["sent"]
        == 0
    )
    template = campaign_shop.parent / "templates" / "hello.txt.j2"
    template.write_text("Changed after approval\n")

    result = cli("queue", "approve", str(listed[0]["id"]), str(listed[2]["id"]))
    assert result.exit_code == 0, result.output
    assert "Approved 2 messages" in result.output
    result = cli("queue", "reject", str(listed[1]["id"]), "--note", "complained yesterday")
    assert "Rejected 1 message:" in result.output
    result = cli("send", "hello", "--yes", "--config", str(campaign_shop), "-f", "json")
    assert json.loads(result.stdout)["sent"] == 2
    states = sends(db_path)
    assert states["ada@example.com"][0] == "sent"
    assert states["nora@example.com"][0] == "sent"
    assert states["bob@example.com"] == (
        "skipped",
        "rejected in the approval queue: complained yesterday",
    )
    bodies = [p.read_text() for p in outbox(campaign_shop)]
    assert len(bodies) == 2
    assert all("Changed after approval" not in b for b in bodies)
    assert any("Hi Ada," in b for b in bodies)

    again = cli("queue", "approve", str(listed[0]["id"]))
    assert again.exit_code == 2
    assert f"Error: message {listed[0]['id']} was approved already" in again.output


def test_queue_approve_needs_ids_or_all(cli, campaign_shop):
    result = cli("pause")
    assert result.exit_code == 2
    assert "Error: name the campaigns to pause, or pass --all for every campaign" in result.output
    result = cli("queue", "approve")
    assert result.exit_code == 2
    assert "Error: name the messages to approve (see 'retain queue list'), or pass --all" in (
        result.output
    )
    result = cli("queue", "show", "7")
    assert result.exit_code == 1
    assert "Error: no message 7 in the approval queue" in result.output


def test_human_only_keeps_a_customer_out_of_automated_campaigns(cli, campaign_shop, db_path):
    result = cli("customers", "tag", "ada@example.com", "human_only", "--note", "calls us")
    assert result.exit_code == 0, result.output
    assert "C1 now has the tag human_only." in result.output
    with Store.open(db_path) as store:  # a tag on the shop platform counts too
        store.conn.execute("UPDATE customers SET tags = 'VIP, Human_Only' WHERE id = 5")
    plan = json.loads(cli("plan", "hello", "--config", str(campaign_shop), "-f", "json").stdout)
    reasons = {i["email"]: i["reason"] for i in plan["items"]}
    assert reasons["ada@example.com"] == "human_only (tagged in retain: you write to them yourself)"
    assert reasons["nora@example.com"] == (
        "human_only (tagged in the shop platform: you write to them yourself)"
    )
    result = cli("send", "hello", "--yes", "--config", str(campaign_shop), "-f", "json")
    assert json.loads(result.stdout)["sent"] == 1
    assert list(sends(db_path)) == ["bob@example.com"]

    assert cli("customers", "untag", "ada@example.com").exit_code == 0
    result = cli("customers", "untag", "nora@example.com", "human_only")
    assert result.exit_code == 2
    assert "has the tag human_only from the shop platform" in result.output
    result = cli("send", "hello", "--yes", "--config", str(campaign_shop), "-f", "json")
    assert json.loads(result.stdout)["sent"] == 1
    assert list(sends(db_path)) == ["bob@example.com", "ada@example.com"]


def test_human_only_tagged_after_planning_is_skipped(cli, campaign_shop, db_path):
    result = cli("send", "hello", "--yes", "--limit", "1", "--config", str(campaign_shop))
    assert result.exit_code == 0, result.output
    waiting = [e for e, (s, _) in sends(db_path).items() if s == "planned"]
    assert len(waiting) == 2
    assert cli("customers", "tag", waiting[0]).exit_code == 0
    result = cli("send", "hello", "--yes", "--config", str(campaign_shop), "-f", "json")
    assert json.loads(result.stdout)["sent"] == 1
    assert sends(db_path)[waiting[0]] == (
        "skipped",
        "human_only (tagged in retain: you write to them yourself)",
    )


def test_channel_task_step_becomes_a_task_not_a_message(cli, campaign_shop, db_path, tmp_path):
    (campaign_shop.parent / "templates" / "call.txt.j2").write_text(
        "Call {{ customer.first_name | default('them') }}: {{ metrics.orders }} orders so far.\n"
    )
    edit(
        campaign_shop,
        "campaigns:\n",
        'campaigns:\n  - name: call-them\n    audience: {where: "orders >= 2"}\n'
        '    channel: task\n    subject: "Call {{ customer.email }}"\n'
        "    template: templates/call.txt.j2\n",
    )
    assert cli("campaigns", "check", "--config", str(campaign_shop)).exit_code == 0
    result = cli("send", "call-them", "--yes", "--config", str(campaign_shop), "-f", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["tasks for you"] == 1
    assert summary["sent"] == 0
    assert outbox(campaign_shop) == []
    assert sends(db_path) == {"ada@example.com": ("sent", None)}
    listed = json.loads(cli("tasks", "-f", "json", "--config", str(campaign_shop)).stdout)
    assert [(t["kind"], t["title"], t["action"]) for t in listed] == [
        ("campaign_step", "Call ada@example.com", "Call Ada: 2 orders so far.")
    ]
    # run again: no second task
    cli("send", "call-them", "--yes", "--config", str(campaign_shop))
    with Store.open(db_path) as store:
        assert store.conn.execute("SELECT count(*) FROM tasks").fetchone()[0] == 1


def test_bad_owner_keys_name_the_campaign_and_key(cli, campaign_shop):
    edit(campaign_shop, "    audience: all\n", "    audience: all\n    approval: maybe\n")
    result = cli("campaigns", "check", "--config", str(campaign_shop))
    assert result.exit_code == 1
    assert (
        f"Error: {campaign_shop}: campaign 'hello': key 'approval': must be required or none, "
        "not 'maybe'" in result.output.replace("\n", " ")
    )
