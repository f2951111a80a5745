"""The program holdout: ``retain config set program_holdout``, its recorded draw, and
``retain report program`` on data whose answers are known.

Reference intervals (written in, as in test_report.py): statsmodels
confint_proportions_2indep(20, 40, 8, 40, method="newcomb") = (0.09099, 0.47587); scipy
ttest_ind(equal_var=False) on twenty 10.0s and twenty 0.0s against eight 10.0s and
thirty-two 0.0s: (0.95719, 5.04281) (and a tenth of it for ones and zeros).
"""

from __future__ import annotations

import json

import pytest
from test_html import Checks

from retain_cli.campaigns.program import program_score
from retain_cli.store import Store

START = "2025-03-01T00:00:00Z"


def _members(store) -> dict[int, tuple[int, str]]:
    rows = store.conn.execute(
        "SELECT customer_ref, held_out, joined_at FROM program_holdout_members"
    ).fetchall()
    return {ref: (held, joined) for ref, held, joined in rows}


def _start(store, others: list[int], held: list[int]) -> int:
    """A 50% program holdout begun at START: ``held`` held out, ``others`` not."""
    with store.transaction():
        holdout = store.program_start(0.5, "salt", START)
        draws = [(r, False) for r in others] + [(r, True) for r in held]
        store.program_record(holdout, draws, START)
    return holdout


def _expected_held(store, share: float) -> set[int]:
    (salt,) = store.conn.execute("SELECT salt FROM program_holdouts").fetchone()
    rows = store.conn.execute("SELECT id, customer_id FROM customers").fetchall()
    return {ref for ref, cid in rows if program_score(salt, cid) < share}


def test_setting_the_share_draws_every_customer_and_records_the_draw(cli, shop, store, monkeypatch):
    shop.customers("c", 200)
    monkeypatch.setenv("RETAIN_NOW", "2025-03-01T00:00:00Z")
    result = cli("config", "set", "program_holdout", "10%")
    assert result.exit_code == 0, result.output
    held = _expected_held(store, 0.10)
    assert 5 < len(held) < 40
    assert " ".join(result.output.split()) == (
        f"program_holdout = 10%: {len(held)} of 200 customers are held out of every marketing "
        "campaign from now on (recorded; customers who arrive later are drawn by 'retain "
        "send'). Compare them with everyone else with 'retain report program'."
    )
    share, started, ended = store.conn.execute(
        "SELECT share, started_at, ended_at FROM program_holdouts"
    ).fetchone()
    assert (share, started, ended) == (0.1, START, None)
    members = _members(store)
    assert len(members) == 200
    assert {ref for ref, (h, _) in members.items() if h} == held
    assert {joined for _, joined in members.values()} == {START}
    shown = json.loads(cli("config", "show", "--format", "json").stdout)
    assert {r["setting"]: r["value"] for r in shown}["program_holdout"] == "10% (since 2025-03-01)"


def test_the_share_cannot_change_while_it_runs_and_unset_ends_it(cli, shop, store, monkeypatch):
    shop.customers("c", 50)
    monkeypatch.setenv("RETAIN_NOW", "2025-03-01T00:00:00Z")
    assert cli("config", "set", "program_holdout", "5%").exit_code == 0
    before = _members(store)
    held = sum(h for h, _ in before.values())
    again = cli("config", "set", "program_holdout", "0.05")
    assert again.exit_code == 0
    assert again.output.strip() == "program_holdout = 5% (unchanged, since 2025-03-01)"
    changed = cli("config", "set", "program_holdout", "10%")
    assert changed.exit_code == 2
    assert " ".join(changed.output.split()) == (
        f"Error: program_holdout is 5% since 2025-03-01 ({held} of 50 customers held out); "
        "changing the share would move customers in or out of the holdout, and 'retain report "
        "program' would compare groups that are no longer random. Keep it, or end it with "
        "'retain config unset program_holdout' and then set 10%: a new group is drawn, and the "
        "report compares from that day"
    )
    assert _members(store) == before
    zero = cli("config", "set", "program_holdout", "0%")
    assert zero.exit_code == 2 and "'retain config unset program_holdout'" in zero.output
    assert cli("config", "set", "program_holdout", "60%").exit_code == 2
    monkeypatch.setenv("RETAIN_NOW", "2025-04-01T00:00:00Z")
    ended = cli("config", "unset", "program_holdout")
    assert ended.exit_code == 0
    assert " ".join(ended.output.split()) == (
        f"program_holdout ended: the {held} customers it held out get marketing campaigns "
        "again from now. The record of the 5% holdout since 2025-03-01 stays for 'retain "
        "report program'."
    )
    assert store.conn.execute("SELECT ended_at FROM program_holdouts").fetchone() == (
        "2025-04-01T00:00:00Z",
    )
    assert _members(store) == before  # the record stays
    assert cli("config", "unset", "program_holdout").output.strip() == (
        "program_holdout was not set"
    )
    # a new share starts a new draw, with a new salt
    assert cli("config", "set", "program_holdout", "10%").exit_code == 0
    assert store.conn.execute("SELECT count(*) FROM program_holdouts").fetchone() == (2,)


def test_the_campaign_file_points_at_the_setting(cli, config):
    text = config.read_text()
    config.write_text("program_holdout: 5%\n" + text)
    result = cli("campaigns", "check")
    assert result.exit_code != 0
    assert "key 'program_holdout': the program holdout is a shop setting kept in the " in (
        " ".join(result.output.split())
    )
    assert "run 'retain config set program_holdout 5%'" in " ".join(result.output.split())


# --- retain report program ---------------------------------------------------------------


@pytest.fixture
def program(shop, store):
    """A 50% program holdout begun on 1 March 2025: 40 customers held out, 40 not, every one
    with an order in February; in March-May 20 of the others and 8 of the held out order once
    for 10.00 (and one of the others orders a second time on the same day as the first: a
    cancelled order, so not counted)."""
    others = shop.customers("p", 40)
    held = shop.customers("h", 40)
    holdout = _start(store, others, held)
    for ref in others + held:
        shop.order(ref, "2025-02-10T10:00:00Z", 2500)
    for ref in others[:20] + held[:8]:
        shop.order(ref, "2025-04-05T10:00:00Z", 1000)
    shop.order(others[0], "2025-04-05T11:00:00Z", 1000, cancelled_at="2025-04-05T12:00:00Z")
    late = shop.customers("late", 10)  # drawn after the period began: not compared
    with store.transaction():
        store.program_record(holdout, [(r, r % 2 == 0) for r in late], "2025-04-01T00:00:00Z")
    for ref in late:
        shop.order(ref, "2025-04-05T10:00:00Z", 99900)
    return others, held


def test_report_program_compares_with_intervals_and_verdicts(cli, program):
    result = cli(
        "report", "program", "--to", "2025-05-31", "--as-of", "2025-06-30", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    rows = {row["figure"]: row for row in json.loads(result.stdout)}
    assert list(rows) == ["retention", "repeat_rate", "orders_per_customer", "revenue_per_customer"]
    retention = rows["retention"]
    assert (retention["status"], retention["from"], retention["to"]) == (
        "finished",
        START,
        "2025-06-01T00:00:00Z",
    )
    assert (retention["days"], retention["days_passed"]) == (92.0, 92.0)
    assert (retention["program_customers"], retention["held_out_customers"]) == (40, 40)
    assert (retention["program_value"], retention["held_out_value"]) == (0.5, 0.2)
    assert (retention["difference"], retention["low"], retention["high"]) == (0.3, 0.091, 0.4759)
    assert (retention["verdict"], retention["interval"]) == ("better", "newcombe")
    assert rows["repeat_rate"]["difference"] == 0.3
    assert (rows["repeat_rate"]["low"], rows["repeat_rate"]["high"]) == (0.091, 0.4759)
    orders = rows["orders_per_customer"]
    assert (orders["program_value"], orders["held_out_value"]) == (0.5, 0.2)
    assert (orders["low"], orders["high"]) == (0.096, 0.504)
    revenue = rows["revenue_per_customer"]
    assert (revenue["currency"], revenue["program_value"], revenue["held_out_value"]) == (
        "EUR",
        5.0,
        2.0,
    )
    assert (revenue["difference"], revenue["low"], revenue["high"]) == (3.0, 0.96, 5.04)
    assert (revenue["verdict"], revenue["interval"]) == ("better", "welch")
    assert (revenue["realised_share"], revenue["sample_ratio_mismatch"]) == (0.5, False)
    table = cli("report", "program", "--to", "2025-05-31", "--as-of", "2025-06-30", "-f", "csv")
    lines = table.stdout.splitlines()
    assert lines[0].split(",")[:4] == ["figure", "unit", "status", "from"]
    assert lines[4].startswith("revenue_per_customer,money,finished,2025-03-01T00:00:00Z,")
    assert ",5.0,2.0,3.0,0.96,5.04,welch,better," in lines[4]


def test_report_program_for_people(cli, program, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("report", "program", "--to", "2025-05-31", "--as-of", "2025-06-30")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == ("Program holdout (50%): 2025-03-01 to 2025-05-31 (92 days, finished)")
    assert max(len(line) for line in lines) <= 80
    text = " ".join(result.output.split())
    assert "retention 50.0% 20.0% +30.0 pp (+9.1 to +47.6)" in text
    assert "revenue/customer €5.00 €2.00 +€3.00 (+€0.96 to +€5.04)" in text
    assert (
        "Retention: better with the marketing than without it (the 95% interval leaves out zero)."
        in text
    )
    assert (
        "Split: 40 of 80 customers held out (50.0%; the setting is 50%, p = 1): as expected."
        in text
    )


def test_report_program_so_far_gives_no_verdict(cli, program):
    result = cli(
        "report", "program", "--from", "2025-03-01", "--to", "2025-12-31", "--as-of",
        "2025-06-30", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["status"] for r in rows} == {"so far"}
    assert {r["verdict"] for r in rows} == {None}
    assert rows[0]["no_verdict"] == "the period has not ended"
    assert rows[0]["days_passed"] == 122.0
    table = cli("report", "program", "--to", "2025-12-31", "--as-of", "2025-06-30")
    assert table.output.splitlines()[0] == (
        "Program holdout (50%): 2025-03-01 to 2025-12-31 (so far: 122 of 306 days have passed)"
    )
    assert "No verdict yet: the period has not ended" in table.output


def test_report_program_small_groups_are_inconclusive_with_the_size_needed(cli, shop, store):
    others = shop.customers("p", 12)
    held = shop.customers("h", 12)
    _start(store, others, held)
    for ref in others[:6] + held[:3]:
        shop.order(ref, "2025-04-05T10:00:00Z", 1000)
    result = cli("report", "program", "--as-of", "2025-06-30", "--format", "json")
    rows = {row["figure"]: row for row in json.loads(result.stdout)}
    assert rows["revenue_per_customer"]["verdict"] == "inconclusive"
    assert rows["revenue_per_customer"]["no_verdict"] == "fewer than 30 customers in a group"
    assert rows["revenue_per_customer"]["detectable"] is not None
    assert rows["revenue_per_customer"]["customers_needed"] > 24
    assert rows["retention"]["program_value"] is None  # nobody was active before
    table = " ".join(cli("report", "program", "--as-of", "2025-06-30").output.split())
    assert (
        "Revenue/customer: inconclusive (fewer than 30 customers in a group). At this size" in table
    )


def test_report_program_errors(cli, shop, store):
    result = cli("report", "program")
    assert result.exit_code == 2
    assert " ".join(result.output.split()) == (
        "Error: no program holdout yet: nobody is held out of every campaign to compare with. "
        "Start one with 'retain config set program_holdout 5%' and look again once some weeks "
        "have passed"
    )
    with store.transaction():
        store.program_start(0.05, "salt", START)
    early = cli("report", "program", "--from", "2025-02-01")
    assert early.exit_code == 2
    assert " ".join(early.output.split()) == (
        "Error: --from 2025-02-01 is before the program holdout began (2025-03-01): nobody was "
        "held out then; use a later day"
    )
    bad = cli("report", "program", "--to", "31.05.2025")
    assert bad.exit_code == 2 and "--to '31.05.2025' is not a date; use YYYY-MM-DD" in bad.output
    window = cli("report", "program", "--window", "30d")
    assert window.exit_code == 2 and "--window does not apply to it" in window.output
    stray = cli("report", "--from", "2025-03-01")
    assert (
        stray.exit_code == 2 and "--from and --to are for 'retain report program'" in stray.output
    )


def test_html_report_has_the_program_section_equal_to_the_json(cli, program, tmp_path):
    page = tmp_path / "report.html"
    assert cli("report", "--html", str(page), "--as-of", "2025-06-30").exit_code == 0
    html = page.read_text(encoding="utf-8")
    assert '<h2 id="program">Program holdout</h2>' in html
    assert "Program holdout (50%): 2025-03-01 to 2025-06-30 (122 days, finished)" in html
    rows = json.loads(cli("report", "program", "--as-of", "2025-06-30", "-f", "json").stdout)
    by_figure = {r["figure"]: r for r in rows}
    cells = Checks("data-program")
    cells.feed(html)
    assert len(cells.found) == 4 * len(rows)
    for check, value, text in cells.found:
        figure, column = check.split("|")
        assert value == by_figure[figure][column], check
        if column == "verdict":
            assert text == value
    shown = {check: text for check, _, text in cells.found}
    assert shown["revenue_per_customer|program_value"] == "€5.00"
    assert shown["retention|difference"] == "+30.0 pp (+9.1 to +47.6)"


def test_html_report_without_a_program_holdout_says_how_to_start_one(cli, shop, tmp_path):
    shop.customers("c", 3)
    page = tmp_path / "report.html"
    assert cli("report", "--html", str(page)).exit_code == 0
    html = page.read_text(encoding="utf-8")
    assert "<p>no program holdout yet: nobody is held out of every campaign" in html


def test_the_demo_has_a_program_holdout_to_report_on(cli, tmp_path, monkeypatch):
    made = cli("demo", "shop", "--customers", "300", "--today", "2026-11-23")
    assert made.exit_code == 0, made.output
    monkeypatch.chdir(tmp_path / "shop")
    monkeypatch.setenv("RETAIN_DB", str(tmp_path / "shop" / "retain.db"))
    monkeypatch.setenv("RETAIN_CONFIG", str(tmp_path / "shop" / "campaigns.yaml"))
    with Store.open(tmp_path / "shop" / "retain.db") as store:
        share, started = store.conn.execute(
            "SELECT share, started_at FROM program_holdouts"
        ).fetchone()
        drawn, held = store.program_counts(1)
        customers = store.customer_count()
        # nobody the draw held out was sent the win-back history
        sent_to_held = store.conn.execute(
            "SELECT count(*) FROM sends s JOIN program_holdout_members m "
            "ON m.customer_ref = s.customer_ref AND m.held_out = 1"
        ).fetchone()[0]
    assert (share, started) == (0.1, "2026-05-25T09:00:00Z")  # 26 weeks before
    assert drawn == customers and 0 < held < drawn
    assert sent_to_held == 0
    result = cli("report", "program", "--as-of", "2026-11-23", "-f", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["status"] for r in rows} == {"finished"}
    assert rows[0]["held_out_customers"] == held
    assert all(r["verdict"] in ("better", "worse", "inconclusive") for r in rows)
    assert all(r["low"] is not None for r in rows)
    # the demo again: the same holdout, not a second one
    monkeypatch.chdir(tmp_path)
    assert cli("demo", "shop", "--customers", "300", "--today", "2026-11-23").exit_code == 0
    with Store.open(tmp_path / "shop" / "retain.db") as store:
        assert store.conn.execute("SELECT count(*) FROM program_holdouts").fetchone() == (1,)


def test_erasure_keeps_the_draw_and_a_merge_keeps_the_remaining_customer(
    cli, shop, store, monkeypatch
):
    refs = shop.customers("c", 4)
    monkeypatch.setenv("RETAIN_NOW", "2025-03-01T00:00:00Z")
    with store.transaction():
        holdout = store.program_start(0.05, "salt", START)
        store.program_record(holdout, [(refs[0], True), (refs[1], False)], START)
        store.program_record(holdout, [(refs[2], True), (refs[3], False)], START)
    erased = cli("customers", "erase", "c000@example.org", "--yes")
    assert erased.exit_code == 0, erased.output
    assert _members(store)[refs[0]] == (1, START)  # erased, still where the draw put them
    merged = cli("customers", "merge", "c002@example.org", "c003@example.org")
    assert merged.exit_code == 0, merged.output
    members = _members(store)
    assert len(members) == 3 and (refs[2] in members) != (refs[3] in members)
