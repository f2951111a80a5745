"""The planner: who is due, who is held out, who is left out and why."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from smtp_servers import SHOP_AS_OF, make_shop

from retain_cli.campaigns.config import load_config
from retain_cli.campaigns.planner import holdout_score, make_plan
from retain_cli.campaigns.send import record_plan
from retain_cli.errors import NotFound, UsageError
from retain_cli.timeutil import parse_as_of

DATA = Path(__file__).parent / "data" / "sending"
AS_OF = parse_as_of(SHOP_AS_OF)


@pytest.fixture
def config(tmp_path):
    shutil.copytree(DATA, tmp_path / "shop")
    return load_config(tmp_path / "shop" / "campaigns.yaml")


@pytest.fixture
def shop(store):
    make_shop(store)
    return store


def by_status(plan, campaign):
    out: dict[str, set[str]] = {}
    for item in plan.items:
        if item.campaign == campaign:
            out.setdefault(item.status, set()).add(item.customer_id)
    return out


def reasons(plan, campaign):
    return {i.customer_id: i.reason for i in plan.items if i.campaign == campaign}


def test_audience_campaign_consent_and_holdout(shop, config):
    plan = make_plan(shop, config, campaigns=["hello"], as_of=AS_OF)
    groups = by_status(plan, "hello")
    consenting = {f"C{i:02d}" for i in range(20)}
    held = {c for c in consenting if holdout_score("hello", c) < 0.2}
    assert groups["held_out"] == held and 0 < len(held) < 20
    assert groups["due"] == consenting - held
    assert groups["left_out"] == {"N1", "S1", "X1"}
    why = reasons(plan, "hello")
    assert why["N1"] == "no consent" and why["S1"] == "opted out"
    assert why["X1"] == "no e-mail address"
    summary = plan.summary()[0]
    assert summary["due"] == 20 - len(held)
    assert sorted(summary["why_left_out"].split(", ")) == [
        "no consent 1",
        "no e-mail address 1",
        "opted out 1",
    ]


def test_holdout_is_the_same_in_every_run_and_recorded(shop, config):
    first = make_plan(shop, config, campaigns=["hello"], as_of=AS_OF)
    record_plan(shop, first, lambda: AS_OF)
    held = by_status(first, "hello")["held_out"]
    rows = shop.conn.execute(
        "SELECT c.customer_id FROM sends s JOIN customers c ON c.id = s.customer_ref "
        "WHERE s.state = 'held_out'"
    ).fetchall()
    assert {r[0] for r in rows} == held
    again = make_plan(shop, config, campaigns=["hello"], as_of=AS_OF + timedelta(days=1))
    groups = by_status(again, "hello")
    assert "held_out" not in groups  # recorded once; never mailed later either
    assert "due" in groups  # the planned ones, waiting to be sent
    assert all(r.startswith("held out") for c, r in reasons(again, "hello").items() if c in held)


def test_first_order_trigger_with_catch_up_window(shop, config):
    plan = make_plan(shop, config, campaigns=["thanks"], as_of=AS_OF)
    assert by_status(plan, "thanks") == {"due": {f"C{i:02d}" for i in range(5)}}
    occurrences = {i.occurrence for i in plan.items}
    assert occurrences == {"2025-06-07"}
    assert plan.items[0].send_key == "thanks:1:C00:2025-06-07"
    # two days early: nobody; eight days late (past the 7-day catch-up): nobody
    early = make_plan(shop, config, campaigns=["thanks"], as_of=parse_as_of("2025-06-08"))
    late = make_plan(shop, config, campaigns=["thanks"], as_of=parse_as_of("2025-06-18"))
    assert early.items == [] and late.items == []
    caught_up = make_plan(shop, config, campaigns=["thanks"], as_of=parse_as_of("2025-06-17"))
    assert len(caught_up.items) == 5


def test_second_step_waits_for_the_first_to_be_sent(shop, config):
    plan = make_plan(shop, config, campaigns=["thanks"], as_of=AS_OF)
    record_plan(shop, plan, lambda: AS_OF)
    shop.conn.execute(
        "UPDATE sends SET state = 'sent', sent_at = '2025-06-10T09:00:00Z' "
        "WHERE send_key = 'thanks:1:C00:2025-06-07'"
    )
    # step 2 is due 3 + 7 days after the first order: 2025-06-17
    later = make_plan(shop, config, campaigns=["thanks"], as_of=parse_as_of("2025-06-17"))
    due = [(i.step, i.customer_id) for i in later.items if i.status == "due"]
    assert (2, "C00") in due
    assert all(step == 1 for step, cid in due if cid != "C00")  # their step 1 is still planned


def test_birthday_on_the_day_in_the_local_timezone(shop, config):
    plan = make_plan(shop, config, campaigns=["birthday"], as_of=AS_OF)
    assert by_status(plan, "birthday") == {"due": {"C05"}}
    assert plan.items[0].occurrence == "2025-06-10"
    before = make_plan(
        shop, config, campaigns=["birthday"], as_of=datetime(2025, 6, 9, 12, tzinfo=UTC)
    )
    assert before.items == []


def test_already_sent_is_left_out_with_the_reason(shop, config):
    plan = make_plan(shop, config, campaigns=["thanks"], as_of=AS_OF)
    record_plan(shop, plan, lambda: AS_OF)
    shop.conn.execute("UPDATE sends SET state = 'sent', sent_at = '2025-06-10T09:00:00Z'")
    again = make_plan(shop, config, campaigns=["thanks"], as_of=AS_OF)
    assert by_status(again, "thanks") == {"left_out": {f"C{i:02d}" for i in range(5)}}
    assert set(reasons(again, "thanks").values()) == {"already sent (this occurrence)"}


def test_frequency_cap_defers_the_second_campaign(shop, tmp_path):
    shutil.copytree(DATA, tmp_path / "capped")
    path = tmp_path / "capped" / "campaigns.yaml"
    limits = "limits:\n  min_hours_between_messages: 16\ncampaigns:\n"
    path.write_text(path.read_text().replace("campaigns:\n", limits, 1))
    config = load_config(path)
    plan = make_plan(shop, config, campaigns=["hello", "thanks"], as_of=AS_OF)
    thanks = {i.customer_id: i for i in plan.items if i.campaign == "thanks"}
    hello_due = {i.customer_id for i in plan.items if i.campaign == "hello" and i.status == "due"}
    for cid, item in thanks.items():
        if cid in hello_due:
            assert item.status == "deferred"
            assert item.reason.startswith("frequency cap (16h between messages")
        else:
            assert item.status == "due"


def test_daily_limit_defers_the_rest(shop, tmp_path):
    shutil.copytree(DATA, tmp_path / "limited")
    path = tmp_path / "limited" / "campaigns.yaml"
    text = path.read_text().replace("  type: outbox\n", "  type: smtp\n  host: 127.0.0.1\n")
    path.write_text(text.replace("campaigns:\n", "limits:\n  per_day: 4\ncampaigns:\n", 1))
    config = load_config(path)
    plan = make_plan(shop, config, campaigns=["hello"], as_of=AS_OF)
    assert plan.count("due") == 4
    assert plan.count("deferred") == plan.count("due") + plan.count("deferred") - 4
    deferred = [i.reason for i in plan.items if i.status == "deferred"]
    assert deferred and set(deferred) == {"rate limit (per_day 4 reached; next run)"}
    # the outbox has no provider limits
    assert (
        make_plan(shop, config, campaigns=["hello"], as_of=AS_OF, transport="outbox").count(
            "deferred"
        )
        == 0
    )


def test_unknown_and_disabled_campaigns_are_refused(shop, config):
    with pytest.raises(NotFound) as caught:
        make_plan(shop, config, campaigns=["helo"], as_of=AS_OF)
    assert "did you mean 'hello'?" in str(caught.value)
    with pytest.raises(UsageError) as caught2:
        make_plan(shop, config, campaigns=["paused"], as_of=AS_OF)
    assert str(caught2.value).startswith("campaign 'paused' is disabled (enabled: false in ")
    plan = make_plan(shop, config, as_of=AS_OF)
    assert plan.campaigns == ["hello", "thanks", "birthday", "vip", "welcome"]


def test_signup_is_known_from_the_platform_or_a_later_import(shop, config):
    shop.conn.execute(
        "INSERT INTO imports (kind, source, file_name, file_hash, started_at, finished_at) "
        "VALUES ('customers', 'test', 'first.csv', 'x', '2025-01-01T00:00:00Z', "
        "'2025-01-01T00:00:05Z')"
    )
    shop.conn.execute(
        "UPDATE customers SET source_created_at = '2025-06-09T08:00:00Z' WHERE customer_id = 'C07'"
    )
    shop.conn.execute(
        "UPDATE customers SET created_at = '2025-06-10T07:00:00Z' WHERE customer_id = 'C08'"
    )
    plan = make_plan(shop, config, campaigns=["welcome"], as_of=AS_OF)
    # C07 signed up (the platform says) yesterday; C08 came in a later import today; the
    # others were in the first import: their signup is unknown, nobody is "welcomed"
    assert {(i.customer_id, i.occurrence) for i in plan.items} == {
        ("C07", "2025-06-09"),
        ("C08", "2025-06-10"),
    }


def test_entered_segment_from_snapshots(shop, config):
    refs = dict(shop.conn.execute("SELECT customer_id, id FROM customers").fetchall())
    snapshots = {
        "2025-06-01": {"C01": "loyal", "C02": "champions", "C03": "loyal"},  # the baseline
        "2025-06-09": {"C01": "champions", "C02": "champions", "C03": "loyal"},
        "2025-06-10": {"C01": "champions", "C02": "champions", "C03": "champions"},
        "2025-06-11": {"C01": "champions", "C02": "champions", "C03": "champions"},
    }
    for day, members in snapshots.items():
        shop.conn.execute(
            "INSERT INTO segment_snapshot_runs VALUES ('rfm', ?, ?, ?)", (day, day, len(members))
        )
        shop.conn.executemany(
            "INSERT INTO segment_snapshots VALUES ('rfm', ?, ?, ?)",
            [(day, refs[cid], segment) for cid, segment in members.items()],
        )
    plan = make_plan(shop, config, campaigns=["vip"], as_of=AS_OF)
    # C01 entered on 06-09 (due a day later); C02 was in from the baseline; C03 entered
    # today and is due tomorrow
    assert [(i.customer_id, i.status, i.occurrence) for i in plan.items] == [
        ("C01", "due", "2025-06-09")
    ]
    tomorrow = make_plan(shop, config, campaigns=["vip"], as_of=parse_as_of("2025-06-11"))
    assert {(i.customer_id, i.occurrence) for i in tomorrow.items} == {
        ("C01", "2025-06-09"),
        ("C03", "2025-06-10"),
    }


def test_steps_of_a_repeating_campaign_without_trigger(shop, tmp_path):
    shutil.copytree(DATA, tmp_path / "series")
    path = tmp_path / "series" / "campaigns.yaml"
    text = path.read_text().split("campaigns:\n")[0] + (
        "campaigns:\n"
        "  - name: series\n"
        "    audience: all\n"
        "    repeat: 30d\n"
        "    steps:\n"
        "      - {days: 0, subject: One, template: templates/hello.txt.j2}\n"
        "      - {days: 3, subject: Two, template: templates/follow_up.txt.j2}\n"
    )
    path.write_text(text)
    config = load_config(path)
    first = make_plan(shop, config, as_of=parse_as_of("2025-06-01"))
    assert {i.occurrence for i in first.items if i.status == "due"} == {"2025-06-01"}
    record_plan(shop, first, lambda: AS_OF)
    shop.conn.execute(
        "UPDATE sends SET state = 'sent', sent_at = '2025-06-01T09:00:00Z' "
        "WHERE customer_ref = (SELECT id FROM customers WHERE customer_id = 'C00')"
    )
    shop.conn.execute("UPDATE sends SET state = 'skipped' WHERE state = 'planned'")
    early = make_plan(shop, config, as_of=parse_as_of("2025-06-03"))
    assert [i for i in early.items if i.status == "due" and i.customer_id == "C00"] == []
    later = make_plan(shop, config, as_of=parse_as_of("2025-06-05"))
    due = [(i.step, i.occurrence) for i in later.items if i.customer_id == "C00"]
    assert (2, "2025-06-01") in due
    reasons = {i.customer_id: i.reason for i in later.items if i.step == 1}
    assert reasons["C00"].startswith("repeat not due (last 2025-06-01T09:00:00Z)")
    again = make_plan(shop, config, as_of=parse_as_of("2025-07-02"))
    assert ("C00", 1, "2025-07-02") in {
        (i.customer_id, i.step, i.occurrence) for i in again.items if i.status == "due"
    }


def test_quiet_hours_are_judged_at_the_time_of_sending_not_as_of(shop, tmp_path):
    shutil.copytree(DATA, tmp_path / "quiet")
    path = tmp_path / "quiet" / "campaigns.yaml"
    text = path.read_text().replace("  type: outbox\n", "  type: smtp\n  host: 127.0.0.1\n")
    quiet = 'limits:\n  quiet_hours: "21:00-08:00"\n  timezone: Europe/Berlin\ncampaigns:\n'
    path.write_text(text.replace("campaigns:\n", quiet, 1))
    config = load_config(path)
    noon = datetime(2025, 6, 10, 10, 0, tzinfo=UTC)  # 12:00 in Berlin
    late = datetime(2025, 6, 10, 20, 0, tzinfo=UTC)  # 22:00 in Berlin
    day = make_plan(shop, config, campaigns=["thanks"], as_of=AS_OF, now=noon)
    assert day.quiet is None and day.count("due") == 5
    night = make_plan(shop, config, campaigns=["thanks"], as_of=AS_OF, now=late)
    assert night.count("due") == 0 and night.count("deferred") == 5
    assert {i.reason for i in night.items} == {
        "quiet hours 21:00-08:00 (Europe/Berlin); nothing is sent until 08:00"
    }
    outbox = make_plan(
        shop, config, campaigns=["thanks"], as_of=AS_OF, now=late, transport="outbox"
    )
    assert outbox.count("due") == 5
