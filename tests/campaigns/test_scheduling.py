"""Scheduling as a nightly cron runs it (issue 11): quiet hours, daily limits and caps in the
shop's days, repeats, queued messages checked again, precedence, stop_when, --now."""

from __future__ import annotations

import csv
import io
import json
from email import message_from_bytes

import pytest
from scheduling_shop import customers, ledger, order, sent, write_config

from retain_cli.store import Store

HELLO = """\
  - name: hello
    audience: all
    subject: "Hello"
    template: templates/hello.txt.j2
"""
SIX = [(f"p{i}@example.org", f"P{i}", None) for i in range(6)]


def rows_of(stdout: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(stdout)))


# --- quiet hours: send says so, and exits 3 -------------------------------------------------


def test_send_exits_3_when_quiet_hours_hold_due_messages_back(cli, db_path, tmp_path):
    customers(db_path, SIX)
    config = write_config(
        tmp_path, '  quiet_hours: "21:00-08:00"\n  timezone: Europe/Berlin\n', HELLO
    )
    args = ("send", "--yes", "--config", str(config), "-f", "json")
    night = cli(*args, "--now", "2025-10-27T06:30")  # 06:30 in Berlin: inside
    assert night.exit_code == 3, night.output
    assert json.loads(night.stdout)["deferred"] == 6
    assert " ".join(night.stderr.split()) == (
        "Held back: 6 due messages wait for a later run: quiet hours 21:00-08:00 "
        "(Europe/Berlin); nothing is sent until 08:00. This run started inside them: move "
        "the cron line out of the quiet hours ('retain cron --at HH:MM' checks the time in "
        "every season)."
    )
    assert {state for (state,) in ledger(db_path, "state")} == {"planned"}
    rehearsal = cli(*args, "--dry-run", "--now", "2025-10-27T06:30")
    assert rehearsal.exit_code == 3
    assert "Held back: 6 due messages" in rehearsal.stderr
    morning = cli(*args, "--now", "2025-10-27T08:15")
    assert morning.exit_code == 0, morning.output
    assert json.loads(morning.stdout)["sent"] == 6
    assert morning.stderr == ""


# --- limits in the shop's days ---------------------------------------------------------------


def test_a_daily_limit_is_a_calendar_day_not_a_rolling_window(cli, db_path, tmp_path):
    customers(db_path, SIX)
    config = write_config(tmp_path, "  per_day: 3\n  timezone: Europe/Berlin\n", HELLO)
    nights = ["2025-10-13T06:30:00", "2025-10-14T06:30:00", "2025-10-15T06:30:00"]
    counts = []
    for night in nights:
        result = cli("send", "--yes", "-c", str(config), "--now", night, "-f", "json")
        counts.append((json.loads(result.stdout)["sent"], result.exit_code))
    # day 2 used to send nothing: yesterday's sends, stamped 06:30:00, were still inside a
    # 24-hour window counted with >=
    assert counts == [(3, 3), (3, 0), (0, 0)]
    assert sent(db_path, "2025-10-14T04:30:00Z") == [
        ("hello", 1, f"p{i}@example.org") for i in (3, 4, 5)
    ]


def test_a_frequency_cap_of_24_hours_is_one_message_a_day(cli, db_path, tmp_path):
    customers(db_path, SIX[:1])
    two = HELLO + HELLO.replace("name: hello", "name: again")
    config = write_config(
        tmp_path, "  min_hours_between_messages: 24\n  timezone: Europe/Berlin\n", two
    )
    first = cli("send", "--yes", "-c", str(config), "--now", "2025-10-13T06:30:40")
    assert first.exit_code == 0
    plan = cli("plan", "-c", str(config), "--now", "2025-10-13T18:00", "-f", "csv")
    assert [(r["campaign"], r["status"], r["reason"]) for r in rows_of(plan.stdout)] == [
        (
            "again",
            "deferred",
            "frequency cap (24h between messages: one a day; last sent 2025-10-13T04:30:40Z)",
        ),
        ("hello", "left_out", "already sent (this occurrence)"),
    ]
    # the next night starts a few seconds earlier than yesterday's message went out
    second = cli("send", "--yes", "-c", str(config), "--now", "2025-10-14T06:30:05")
    assert second.exit_code == 0
    assert sent(db_path, "2025-10-14T04:30:05Z") == [("again", 1, "p0@example.org")]


def test_repeat_counts_days_in_the_shop_time_zone(cli, db_path, tmp_path):
    customers(db_path, SIX[:1])
    campaign = HELLO + "    repeat: 3d\n"
    config = write_config(tmp_path, "  timezone: Pacific/Auckland\n", campaign)
    went = []
    for day in range(1, 11):
        # cron starts a few seconds later every night
        night = f"2025-06-{day:02d}T06:30:{day * 3:02d}"
        result = cli("send", "--yes", "-c", str(config), "--now", night, "-f", "json")
        if json.loads(result.stdout)["sent"]:
            went.append(day)
    assert went == [1, 4, 7, 10]


# --- queued messages are checked again ------------------------------------------------------


def test_a_queued_message_is_skipped_when_the_customer_left_the_audience(cli, db_path, tmp_path):
    customers(db_path, SIX[:2])
    order(db_path, "p0@example.org", "2025-05-01T10:00:00Z")
    order(db_path, "p1@example.org", "2025-05-02T10:00:00Z")
    win_back = """\
  - name: win-back
    audience: {where: "days_since_last_order > 60"}
    subject: "We miss you"
    template: templates/hello.txt.j2
"""
    config = write_config(tmp_path, "  per_day: 1\n", win_back)
    first = cli("send", "--yes", "-c", str(config), "--now", "2025-07-15T09:00Z")
    assert first.exit_code == 3  # one held back by the daily limit
    assert sent(db_path) == [("win-back", 1, "p0@example.org")]
    order(db_path, "p1@example.org", "2025-07-15T15:00:00Z")  # p1 came back the same day
    plan = cli("plan", "-c", str(config), "--now", "2025-07-16T09:00Z", "-f", "csv")
    reason = "no longer in the audience (all where days_since_last_order > 60)"
    assert [(r["email"], r["status"], r["reason"]) for r in rows_of(plan.stdout)] == [
        ("p1@example.org", "skipped", reason),
        ("p0@example.org", "left_out", "already sent (this occurrence)"),
    ]
    table = cli("plan", "-c", str(config), "--now", "2025-07-16T09:00Z")
    assert "no longer in the audience 1" in table.stdout
    second = cli("send", "--yes", "-c", str(config), "--now", "2025-07-16T09:00Z", "-f", "json")
    assert second.exit_code == 0
    assert json.loads(second.stdout)["skipped"] == 1
    assert sent(db_path) == [("win-back", 1, "p0@example.org")]
    assert ledger(db_path, "email", "state", "error")[1] == ("p1@example.org", "skipped", reason)


def test_a_birthday_held_back_past_its_freshness_is_skipped(cli, db_path, tmp_path):
    customers(db_path, [("ada@example.org", "Ada", "1990-10-26")])
    birthday = """\
  - name: birthday
    trigger: {after: birthday}
    subject: "Happy birthday"
    template: templates/hello.txt.j2
"""
    config = write_config(
        tmp_path, '  quiet_hours: "21:00-07:00"\n  timezone: Europe/Berlin\n', birthday
    )
    # a cron at 05:30 UTC: 07:30 in summer time, 06:30 once the clocks go back on 26 October
    for day in (26, 27, 28):
        night = cli("send", "--yes", "-c", str(config), "--now", f"2025-10-{day}T05:30Z")
        assert night.exit_code == 3
    fourth = cli("send", "--yes", "-c", str(config), "--now", "2025-10-29T06:30Z", "-f", "json")
    assert fourth.exit_code == 0, fourth.output
    assert json.loads(fourth.stdout)["skipped"] == 1
    assert ledger(db_path, "send_key", "state", "error") == [
        (
            "birthday:1:ada@example.org:2025-10-26",
            "skipped",
            "too late (due 2025-10-26; fresh for 2 days)",
        )
    ]


def test_a_queued_message_goes_to_the_current_address(cli, db_path, tmp_path):
    customers(db_path, SIX[:2])
    config = write_config(tmp_path, "  per_day: 1\n", HELLO)
    first = cli("send", "--yes", "-c", str(config), "--now", "2025-07-15T09:00Z")
    assert first.exit_code == 3
    update = tmp_path / "customers.csv"
    update.write_text("customer id,email,first name\np1@example.org,p1@new.example,P1\n")
    imported = cli("import", "customers", str(update))
    assert imported.exit_code == 0, imported.output
    plan = cli("plan", "-c", str(config), "--now", "2025-07-16T09:00Z", "-f", "csv")
    first = rows_of(plan.stdout)[0]
    assert (first["email"], first["status"]) == ("p1@new.example", "due")
    second = cli("send", "--yes", "-c", str(config), "--now", "2025-07-16T09:00Z")
    assert second.exit_code == 0
    assert sent(db_path) == [("hello", 1, "p0@example.org"), ("hello", 1, "p1@new.example")]
    files = list((tmp_path / "shop" / "outbox" / "hello").glob("*.eml"))
    to = sorted(message_from_bytes(f.read_bytes())["To"] for f in files)
    assert to == ["P0 <p0@example.org>", "P1 <p1@new.example>"]


# --- precedence and trigger days ------------------------------------------------------------

THANKS_AND_BIRTHDAY = """\
  - name: thank-you
    trigger: {after: first_order, days: 3}
    subject: "Thank you"
    template: templates/thanks.txt.j2
  - name: birthday
    trigger: {after: birthday}
    subject: "Happy birthday"
    template: templates/hello.txt.j2
"""


def test_a_birthday_goes_before_a_thank_you_when_the_cap_allows_one(cli, db_path, tmp_path):
    customers(db_path, [("ada@example.org", "Ada", "1990-06-10")])
    order(db_path, "ada@example.org", "2025-06-07T10:00:00Z")
    limits = "  min_hours_between_messages: 24\n  timezone: Europe/Berlin\n"
    config = write_config(tmp_path, limits, THANKS_AND_BIRTHDAY)
    plan = cli("plan", "-c", str(config), "--now", "2025-06-10T09:00", "-f", "csv")
    assert [(r["campaign"], r["status"], r["reason"]) for r in rows_of(plan.stdout)] == [
        ("birthday", "due", ""),
        (
            "thank-you",
            "deferred",
            "frequency cap (24h between messages: one a day; birthday goes first)",
        ),
    ]
    for day in ("10", "11"):
        assert (
            cli("send", "--yes", "-c", str(config), "--now", f"2025-06-{day}T09:00").exit_code == 0
        )
    assert sent(db_path, "2025-06-10T07:00:00Z") == [("birthday", 1, "ada@example.org")]
    assert sent(db_path, "2025-06-11T07:00:00Z") == [("thank-you", 1, "ada@example.org")]


def test_the_priority_key_orders_messages_under_the_daily_limit(cli, db_path, tmp_path):
    customers(db_path, [("ada@example.org", "Ada", "1990-06-10")])
    order(db_path, "ada@example.org", "2025-06-07T10:00:00Z")
    first = THANKS_AND_BIRTHDAY.replace("days: 3}\n", "days: 3}\n    priority: 20\n")
    config = write_config(tmp_path, "  per_day: 1\n", first)
    plan = cli("plan", "-c", str(config), "--now", "2025-06-10T09:00Z", "-f", "csv")
    assert [(r["campaign"], r["status"]) for r in rows_of(plan.stdout)] == [
        ("thank-you", "due"),
        ("birthday", "deferred"),
    ]
    bad = write_config(tmp_path, "", first.replace("priority: 20", "priority: high"))
    result = cli("plan", "-c", str(bad))
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: {bad}: campaign 'thank-you': key 'priority': write a whole number such as "
        "10 (higher goes first)"
    )


def test_order_triggers_count_days_in_the_shop_time_zone(cli, db_path, tmp_path):
    customers(db_path, [("kiri@example.org", "Kiri", None), ("mere@example.org", "Mere", None)])
    # both ordered on 7 June in Auckland: at 08:00 (still 6 June in UTC) and at 20:00
    order(db_path, "kiri@example.org", "2025-06-06T20:00:00Z")
    order(db_path, "mere@example.org", "2025-06-07T08:00:00Z")
    config = write_config(tmp_path, "  timezone: Pacific/Auckland\n", THANKS_AND_BIRTHDAY)
    early = cli("plan", "thank-you", "-c", str(config), "--now", "2025-06-09T09:00", "-f", "csv")
    assert rows_of(early.stdout) == []
    plan = cli("plan", "thank-you", "-c", str(config), "--now", "2025-06-10T09:00", "-f", "csv")
    assert [(r["email"], r["status"], r["key"]) for r in rows_of(plan.stdout)] == [
        ("kiri@example.org", "due", "thank-you:1:kiri@example.org:2025-06-07"),
        ("mere@example.org", "due", "thank-you:1:mere@example.org:2025-06-07"),
    ]
    # a thank-you an older version sent under the UTC day is not sent again
    with Store.open(db_path) as store:
        store.ledger_record(
            [
                {
                    "send_key": "thank-you:1:kiri@example.org:2025-06-06",
                    "campaign": "thank-you",
                    "step": 1,
                    "customer_ref": 1,
                    "occurrence": "2025-06-06",
                    "email": "kiri@example.org",
                    "state": "planned",
                }
            ],
            "2025-06-09T20:00:00Z",
        )
        store.conn.execute("UPDATE sends SET state = 'sent', sent_at = planned_at")
    plan = cli("plan", "thank-you", "-c", str(config), "--now", "2025-06-10T09:00", "-f", "csv")
    assert [(r["email"], r["status"], r["reason"]) for r in rows_of(plan.stdout)] == [
        ("mere@example.org", "due", ""),
        ("kiri@example.org", "left_out", "already sent (this occurrence)"),
    ]


# --- series stop ------------------------------------------------------------------------------

WELCOME = """\
  - name: welcome
    audience: all
    steps:
      - {days: 0, subject: "Welcome", template: templates/hello.txt.j2}
      - {days: 4, subject: "What our regulars love", template: templates/follow_up.txt.j2}
"""


def test_a_series_stops_when_the_customer_ordered_after_step_1(cli, db_path, tmp_path):
    customers(db_path, SIX[:2])
    config = write_config(tmp_path, "  timezone: Europe/Berlin\n", WELCOME)
    assert cli("send", "--yes", "-c", str(config), "--now", "2025-06-01T09:00").exit_code == 0
    order(db_path, "p1@example.org", "2025-06-03T10:00:00Z")
    plan = cli("plan", "-c", str(config), "--now", "2025-06-05T09:00", "-f", "csv")
    steps = [(r["email"], r["step"], r["status"], r["reason"]) for r in rows_of(plan.stdout)]
    assert ("p0@example.org", "2", "due", "") in steps
    assert (
        "p1@example.org",
        "2",
        "left_out",
        "stopped (ordered on 2025-06-03, after step 1 went out)",
    ) in steps
    assert cli("send", "--yes", "-c", str(config), "--now", "2025-06-05T09:00").exit_code == 0
    assert sent(db_path, "2025-06-05T07:00:00Z") == [("welcome", 2, "p0@example.org")]
    never = WELCOME.replace("follow_up.txt.j2}", "follow_up.txt.j2, stop_when: never}")
    config = write_config(tmp_path, "  timezone: Europe/Berlin\n", never)
    assert cli("send", "--yes", "-c", str(config), "--now", "2025-06-06T09:00").exit_code == 0
    assert sent(db_path, "2025-06-06T07:00:00Z") == [("welcome", 2, "p1@example.org")]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "hello.txt.j2}",
            "hello.txt.j2, stop_when: ordered}",
            "key 'steps[1].stop_when': applies to later steps (what happened since step 1 "
            "went out); move it to step 2 or later",
        ),
        (
            "follow_up.txt.j2}",
            "follow_up.txt.j2, stop_when: replied}",
            "key 'steps[2].stop_when': retain does not read replies (it has no mailbox to "
            "read them from); use ordered or entered segment NAME",
        ),
        (
            "follow_up.txt.j2}",
            "follow_up.txt.j2, stop_when: [ordered, left]}",
            "key 'steps[2].stop_when': 'left' is not a stop condition; write ordered, "
            "entered segment NAME, or never",
        ),
    ],
)
def test_stop_when_mistakes_name_the_key(cli, db_path, tmp_path, old, new, message):
    config = write_config(tmp_path, "", WELCOME.replace(old, new))
    result = cli("campaigns", "list", "-c", str(config))
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: {config}: campaign 'welcome': {message}"


def test_fresh_for_needs_days_on_a_triggered_campaign(cli, tmp_path):
    text = THANKS_AND_BIRTHDAY.replace("days: 3}\n", "days: 3}\n    fresh_for: never\n")
    config = write_config(tmp_path, "", text)
    result = cli("campaigns", "list", "-c", str(config))
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: {config}: campaign 'thank-you': key 'fresh_for': a campaign with a trigger "
        "needs a limit (it is also how far back a new install looks for events); write a "
        "number of days such as 7d"
    )


def test_a_series_stops_when_the_customer_entered_a_segment(cli, db_path, tmp_path):
    customers(db_path, SIX[:2])
    series = WELCOME.replace(
        "follow_up.txt.j2}", "follow_up.txt.j2, stop_when: entered segment new}"
    )
    config = write_config(tmp_path, "", series)
    assert cli("send", "--yes", "-c", str(config), "--now", "2025-06-01T09:00Z").exit_code == 0
    order(db_path, "p1@example.org", "2025-06-03T10:00:00Z")  # p1 becomes a new customer
    plan = cli("plan", "-c", str(config), "--now", "2025-06-05T09:00Z", "-f", "csv")
    steps = {(r["email"], r["step"]): (r["status"], r["reason"]) for r in rows_of(plan.stdout)}
    assert steps[("p0@example.org", "2")] == ("due", "")
    assert steps[("p1@example.org", "2")] == (
        "left_out",
        "stopped (entered segment new on 2025-06-05, after step 1)",
    )
    typo = write_config(tmp_path, "", series.replace("segment new}", "segment nwe}"))
    bad = cli("plan", "-c", str(typo), "--now", "2025-06-05T09:00Z")
    assert bad.exit_code == 1
    assert bad.stderr.startswith(f"Error: {typo}: campaign 'welcome': key 'steps[2].stop_when': ")
    check = cli("campaigns", "check", "-c", str(typo))
    assert check.exit_code == 1
    assert "unknown segment 'nwe'" in check.stdout
