"""Baselines and goals through the CLI: retain baseline save, retain goals set, retain report
goals; the rows kept in the database and the track each goal is judged on."""

from __future__ import annotations

import json

import pytest

from retain_cli.analytics.metrics import METRIC_NAMES
from retain_cli.measure.goals import MISSED, OFF_TRACK, ON_TRACK, REACHED, goal_status


@pytest.fixture
def history(orders):
    orders.add("a@example.org", "2025-01-10", 10.0)
    orders.add("b@example.org", "2025-01-15", 10.0)
    orders.add("c@example.org", "2025-02-01", 10.0)
    orders.add("a@example.org", "2025-03-10", 20.0)
    orders.add("b@example.org", "2025-05-01", 15.0)
    orders.add("c@example.org", "2025-05-02", 15.0)
    return orders


def test_baseline_save_keeps_every_figure(cli, history, store):
    result = cli("baseline", "save", "spring", "--period", "30d", "--as-of", "2025-03-31")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        f"Saved baseline spring: {len(METRIC_NAMES)} figures for 30 days to 2025-03-31."
    )
    saved = store.baseline_get("spring")
    assert saved is not None
    assert (saved["as_of"], saved["period"], saved["currency"]) == (
        "2025-03-31T23:59:59Z",
        "30d",
        "EUR",
    )
    assert saved["metrics"]["revenue"] == 20.0
    assert saved["metrics"]["repeat_purchase_rate"] == 0.3333
    again = cli("baseline", "save", "spring", "--as-of", "2025-03-31")
    assert again.stdout.startswith("Replaced baseline spring")
    listed = json.loads(cli("baseline", "list", "-f", "json").stdout)
    assert [b["name"] for b in listed] == ["spring"]
    bad = cli("baseline", "save", "two words")
    assert bad.exit_code == 2
    assert bad.stderr.strip() == (
        "Error: baseline name 'two words': use letters, digits, '-', '_' or '.' "
        "(e.g. before-winter)"
    )


def test_goals_set_and_report(cli, history, store, monkeypatch):
    set_rate = cli(
        "goals", "set", "repeat_purchase_rate", "+10pp", "--by", "2025-12-31", "--as-of",
        "2025-03-31",
    )  # fmt: skip
    assert set_rate.exit_code == 0, set_rate.output
    assert " ".join(set_rate.stdout.split()) == (
        "Goal set: repeat_purchase_rate from 33.3% (2025-03-31) to 43.3% by 2025-12-31 "
        "(+10pp). Track it with 'retain report goals'."
    )
    cli("baseline", "save", "spring", "--as-of", "2025-03-31")
    set_revenue = cli(
        "goals", "set", "revenue", "+50%", "--by", "2025-12-31", "--baseline", "spring"
    )
    assert set_revenue.exit_code == 0, set_revenue.output
    goals = {g["metric"]: g for g in store.goal_list()}
    assert goals["revenue"]["start_value"] == 20.0 and goals["revenue"]["target"] == 30.0
    assert goals["revenue"]["baseline"] == "spring"
    assert goals["repeat_purchase_rate"]["target"] == pytest.approx(0.4333)
    report = json.loads(cli("report", "goals", "--as-of", "2025-06-30", "-f", "json").stdout)
    rows = {r["metric"]: r for r in report}
    assert rows["repeat_purchase_rate"]["now"] == 1.0
    assert rows["repeat_purchase_rate"]["status"] == "reached"
    assert rows["revenue"]["now"] == 0.0  # nothing in the 30 days to 2025-06-30
    assert rows["revenue"]["time_gone"] == round(91 / 275, 4)
    assert rows["revenue"]["status"] == "off track"
    monkeypatch.setenv("COLUMNS", "80")
    table = cli("report", "goals", "--as-of", "2025-06-30").stdout
    assert "Goals as of 2025-06-30" in table
    assert "€20.00" in table and "€30.00" in table and "off track" in table
    assert max(len(line) for line in table.splitlines()) <= 80
    removed = cli("goals", "remove", "revenue")
    assert removed.stdout.strip() == "Removed the goal on revenue."
    assert [g["metric"] for g in store.goal_list()] == ["repeat_purchase_rate"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["retention_rte", "+5pp"],
            2,
            "Error: 'retention_rte' is not a figure of 'retain metrics'; did you mean "
            "'retention_rate'? figures: ",
        ),
        (
            ["retention_rate", "+5%"],
            2,
            "Error: retention_rate is a rate: write the change in percentage points (+5pp), so "
            "it cannot be mistaken for a relative change",
        ),
        (["revenue", "+5pp"], 2, "Error: revenue is not a rate, so +pp does not apply;"),
        (["revenue", "lots"], 2, "Error: change 'lots' is not a change; write +5pp"),
        (["revenue", "+10%", "--by", "2025-01-01"], 2, "Error: by 2025-01-01 is not after"),
        (
            ["revenue", "+10%", "--by", "soon"],
            2,
            "Error: --by 'soon' is not a date; use YYYY-MM-DD",
        ),
        (["revenue", "+10%", "--baseline", "nope"], 1, "Error: no baseline 'nope'; saved"),
    ],
)
def test_goal_errors(cli, history, store, args, code, message):
    if "--by" not in args:
        args = [*args, "--by", "2025-12-31"]
    result = cli("goals", "set", *args, "--as-of", "2025-03-31")
    assert result.exit_code == code
    assert result.stderr.startswith(message), result.stderr
    assert store.goal_list() == []


def test_a_lower_is_better_goal(cli, history, store):
    result = cli(
        "goals", "set", "average_order_value", "--by", "2025-12-31", "--as-of", "2025-03-31",
        "--", "-20%",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [goal] = store.goal_list()
    assert (goal["start_value"], goal["target"]) == (20.0, 16.0)


def test_goal_status_follows_the_straight_line():
    assert goal_status(0.30, 0.40, 0.40, 0.5) == REACHED
    assert goal_status(0.30, 0.40, 0.36, 0.5) == ON_TRACK  # 60% of the way, half the time
    assert goal_status(0.30, 0.40, 0.34, 0.5) == OFF_TRACK
    assert goal_status(0.30, 0.40, 0.39, 1.0) == MISSED
    assert goal_status(0.20, 0.10, 0.14, 0.5) == ON_TRACK  # going down: churn
    assert goal_status(0.20, 0.10, 0.22, 0.5) == OFF_TRACK
    assert goal_status(0.20, 0.10, None, 0.5) == OFF_TRACK


def test_goals_report_without_goals(cli, history):
    result = cli("report", "goals")
    assert result.stdout.strip() == (
        "No goals yet; set one with 'retain goals set retention_rate +5pp --by DATE'."
    )


GOALS_FILE = """\
goals:
  - {metric: repeat_purchase_rate, change: +10pp, by: 2025-12-31}
  - metric: revenue
    change: +50%
    by: 2025-12-31
    baseline: spring
  - {metric: orders, change: 2, by: 2025-12-31, period: 90d}
"""


def test_goals_load_sets_every_goal_of_a_file(cli, history, store, tmp_path):
    cli("baseline", "save", "spring", "--as-of", "2025-03-31")
    path = tmp_path / "goals.yaml"
    path.write_text(GOALS_FILE)
    result = cli("goals", "load", str(path), "--as-of", "2025-03-31")
    assert result.exit_code == 0, result.output
    assert " ".join(result.stdout.split()) == (
        f"Set 3 goal(s) from {path}: repeat_purchase_rate +10pp by 2025-12-31, revenue +50% "
        "by 2025-12-31, orders +2 by 2025-12-31. Track them with 'retain report goals'."
    )
    goals = {g["metric"]: g for g in store.goal_list()}
    assert goals["revenue"]["target"] == 30.0 and goals["revenue"]["baseline"] == "spring"
    assert goals["orders"]["period"] == "90d" and goals["orders"]["start_value"] == 4.0
    assert goals["orders"]["target"] == 6.0


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "by: 2025-12-31, period",
            "by: soon, period",
            "goal 'orders': key 'by': 'soon' is not a date",
        ),
        (
            "period: 90d",
            "perod: 90d",
            "goal 'orders': key 'perod': unknown key; did you mean 'period'?",
        ),
        ("period: 90d", "period: week", "goal 'orders': key 'period': must be one of 30d, 90d"),
        ("baseline: spring", "baseline: autumn", "goal 'revenue': no baseline 'autumn'; saved"),
        (
            "change: +10pp",
            "change: +10%",
            "goal 'repeat_purchase_rate': repeat_purchase_rate is a rate",
        ),
        ("metric: orders,", "metric: revenue,", "goal 'revenue': a metric has one goal"),
        ("goals:\n", "gols:\n", "must hold a list under goals:"),
        ("  - metric: revenue\n", "  - metric: [revenue\n", "line "),
    ],
)
def test_a_bad_goals_file_sets_nothing(cli, history, store, tmp_path, old, new, message):
    cli("baseline", "save", "spring", "--as-of", "2025-03-31")
    path = tmp_path / "goals.yaml"
    assert old in GOALS_FILE
    path.write_text(GOALS_FILE.replace(old, new))
    result = cli("goals", "load", str(path), "--as-of", "2025-03-31")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {path}: ")
    assert message in result.stderr, result.stderr
    assert store.goal_list() == []
