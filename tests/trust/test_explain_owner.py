"""``retain explain CUSTOMER`` names what the owner's hand holds back on top of the plan: a
pause (``retain pause``), the approval queue (``approval: required``: not queued yet, waiting,
rejected, approved) and a ``human_only`` tag, each checked against the database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from trust_shop import add_people, copy_campaigns, small_shop

from retain_cli.store import Store

NOW = "2025-06-20T10:00"


@pytest.fixture
def shop(tmp_path: Path, store: Store) -> Path:
    add_people(store, small_shop())
    return copy_campaigns(tmp_path)


def _explain(cli, who: str, config: Path) -> dict[str, Any]:
    result = cli("explain", who, "--config", str(config), "--now", NOW, "--format", "json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def _decisions(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["campaign"]: d for d in data["campaigns"]}


def _approval_for(config: Path, campaign: str) -> None:
    text = config.read_text(encoding="utf-8")
    line = f"  - name: {campaign}\n"
    assert line in text
    config.write_text(text.replace(line, f"{line}    approval: required\n", 1), encoding="utf-8")


def test_explain_names_a_pause_of_the_campaign_then_of_every_campaign(
    cli, shop, store, monkeypatch
):
    monkeypatch.setenv("COLUMNS", "80")
    before = _decisions(_explain(cli, "ada@example.com", shop))
    assert before["hello"]["blocked_by"] == [] and before["birthday"]["blocked"] == []

    result = cli("pause", "hello", "--config", str(shop), "--reason", "new recipes")
    assert result.exit_code == 0, result.output
    (paused_at,) = store.conn.execute("SELECT paused_at FROM send_pauses").fetchone()
    data = _explain(cli, "ada@example.com", shop)
    decisions = _decisions(data)
    # the plan's own decision stays (explain and plan agree); the pause is added to it
    assert decisions["hello"]["status"] == "deferred"
    assert decisions["hello"]["blocked_by"] == ["pause"]
    assert decisions["hello"]["blocked"] == [
        f"campaign hello paused since {paused_at}: new recipes ('retain resume' to send again)"
    ]
    assert decisions["birthday"]["status"] == "due"
    assert decisions["birthday"]["blocked_by"] == []
    assert decisions["thank-you"]["blocked_by"] == []  # not due: nothing to hold back
    assert data["notes"] == []

    assert cli("pause", "--all", "--reason", "oven broken").exit_code == 0
    (every_at,) = store.conn.execute(
        "SELECT paused_at FROM send_pauses WHERE scope = '*'"
    ).fetchone()
    every = f"every campaign paused since {every_at}: oven broken ('retain resume' to send again)"
    data = _explain(cli, "ada@example.com", shop)
    decisions = _decisions(data)
    assert decisions["birthday"]["blocked"] == [every]
    assert decisions["hello"]["blocked"] == [every]
    assert data["notes"] == [f"nothing is sent: {every}"]
    table = cli("explain", "ada@example.com", "--config", str(shop), "--now", NOW)
    assert table.exit_code == 0, table.output
    assert "│ due now; blocked: every campaign paused │" in table.output
    assert "nothing is sent: every campaign paused since" in table.output
    assert max(len(line) for line in table.output.splitlines()) <= 80

    assert cli("resume", "--all").exit_code == 0
    after = _decisions(_explain(cli, "ada@example.com", shop))
    assert after["birthday"]["blocked_by"] == [] and after["hello"]["blocked_by"] == []


def test_explain_follows_a_message_through_the_approval_queue(cli, shop, store):
    _approval_for(shop, "birthday")
    decisions = _decisions(_explain(cli, "ada@example.com", shop))
    assert decisions["birthday"]["status"] == "due"
    assert decisions["birthday"]["blocked_by"] == ["approval"]
    assert decisions["birthday"]["blocked"] == [
        "approval: required, so 'retain send' puts it in the approval queue and it goes once "
        "you approve it ('retain queue approve')"
    ]
    assert decisions["hello"]["blocked_by"] == []  # hello needs no approval

    sent = cli("send", "--yes", "--config", str(shop), "--now", NOW, "-f", "json")
    assert sent.exit_code in (0, 3), sent.output
    assert json.loads(sent.stdout)["waiting for approval"] == 1
    queue_id, queued_at, key = store.conn.execute(
        "SELECT id, queued_at, send_key FROM approval_queue WHERE customer_ref = 1"
    ).fetchone()
    decisions = _decisions(_explain(cli, "ada@example.com", shop))
    assert decisions["birthday"]["status"] == "left_out"
    assert decisions["birthday"]["reason"] == "already queued (this occurrence)"
    assert decisions["birthday"]["key"] == key
    assert decisions["birthday"]["blocked"] == [
        f"waits for your approval in the approval queue since {queued_at} "
        f"('retain queue approve {queue_id}')"
    ]

    result = cli("queue", "reject", str(queue_id), "--note", "we send a card instead")
    assert result.exit_code == 0, result.output
    (decided_at,) = store.conn.execute(
        "SELECT decided_at FROM approval_queue WHERE id = ?", (queue_id,)
    ).fetchone()
    decisions = _decisions(_explain(cli, "ada@example.com", shop))
    assert decisions["birthday"]["reason"] == "already skipped (this occurrence)"
    assert decisions["birthday"]["blocked"] == [
        f"rejected in the approval queue on {decided_at}: we send a card instead"
    ]


def test_explain_says_an_approved_message_goes_as_approved(cli, shop, store):
    _approval_for(shop, "hello")
    sent = cli("send", "--yes", "--config", str(shop), "--now", NOW, "-f", "json")
    assert sent.exit_code in (0, 3), sent.output
    queue_id, key = store.conn.execute(
        "SELECT id, send_key FROM approval_queue WHERE customer_ref = 2"
    ).fetchone()
    assert cli("queue", "approve", str(queue_id)).exit_code == 0
    (decided_at,) = store.conn.execute(
        "SELECT decided_at FROM approval_queue WHERE id = ?", (queue_id,)
    ).fetchone()
    decisions = _decisions(_explain(cli, "bob@example.com", shop))
    assert decisions["hello"]["key"] == key
    # the thank-you went out in that run (hello waited in the queue): the cap holds it now
    assert decisions["hello"]["status"] == "deferred"
    assert decisions["hello"]["reason"].startswith("frequency cap (16h between messages; last")
    assert decisions["hello"]["blocked_by"] == []
    assert decisions["hello"]["note"] == (
        f"approved in the approval queue on {decided_at}: it goes as approved"
    )


def test_explain_names_a_human_only_tag(cli, shop):
    result = cli("customers", "tag", "ada@example.com", "human_only", "--note", "calls us")
    assert result.exit_code == 0, result.output
    data = _explain(cli, "ada@example.com", shop)
    hold = "human_only (tagged in retain: you write to them yourself)"
    assert data["consent"]["kept_out_of_campaigns"] == hold
    decisions = _decisions(data)
    assert (decisions["birthday"]["status"], decisions["birthday"]["reason"]) == (
        "left_out",
        hold,
    )
    table = cli("explain", "ada@example.com", "--config", str(shop), "--now", NOW)
    assert f"kept out: {hold}" in " ".join(table.output.split())
    assert _explain(cli, "bob@example.com", shop)["consent"]["kept_out_of_campaigns"] is None
