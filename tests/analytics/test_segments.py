"""Segments: RFM scoring and its grid, lifecycle thresholds, custom files, snapshots, check."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retain_cli.analytics.custom_segments import load_custom_segments
from retain_cli.analytics.features import customer_features
from retain_cli.analytics.segment_check import check_segments, rfm_grid_cells
from retain_cli.analytics.segment_snapshots import (
    entered,
    entered_on,
    membership_on,
    moves,
    snapshot,
)
from retain_cli.analytics.segments import (
    DEFAULT_GAP_DAYS,
    LIFECYCLE_SEGMENTS,
    RFM_GRID,
    RFM_SEGMENTS,
    assign,
    find_segment,
    lifecycle_thresholds,
    quintile_scores,
    rfm_segment,
    rfm_segments,
    segment_members,
    segment_names,
    segments_report,
)
from retain_cli.errors import ConfigError, UsageError
from retain_cli.timeutil import parse_as_of

# --- RFM ------------------------------------------------------------------------------------


def test_every_cell_of_the_grid_is_in_exactly_one_segment():
    seen: dict[str, int] = {}
    for r in range(1, 6):
        for f in range(1, 6):
            for m in range(1, 6):
                names = [s for s in RFM_SEGMENTS if rfm_segment(r, f, m) == s]
                assert len(names) == 1, (r, f, m)
                seen[names[0]] = seen.get(names[0], 0) + 1
    assert set(seen) == set(RFM_SEGMENTS)  # every segment can be reached
    assert sum(seen.values()) == 125
    assert all(len(v) == 1 for v in rfm_grid_cells().values())
    assert set(RFM_GRID) == {1, 2, 3, 4, 5}
    assert all(len(row) == 5 for row in RFM_GRID.values())


def test_vectorised_grid_matches_the_cell_function():
    cells = np.array([(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)])
    names = rfm_segments(cells[:, 0], cells[:, 1], cells[:, 2])
    assert list(names) == [rfm_segment(*map(int, c)) for c in cells]


def test_some_well_known_cells():
    assert rfm_segment(5, 5, 5) == "champions"
    assert rfm_segment(5, 1, 1) == "new_customers"
    assert rfm_segment(1, 1, 1) == "lost"
    assert rfm_segment(1, 5, 5) == "cant_lose"
    assert rfm_segment(3, 3, 3) == "need_attention"
    assert rfm_segment(4, 3, 2) == "potential_loyalists"  # FM = (3 + 2) / 2 rounded up = 3
    with pytest.raises(ValueError):
        rfm_segment(0, 1, 1)


def test_quintiles_with_many_distinct_values():
    scores = quintile_scores(np.arange(100))
    assert [int((scores == s).sum()) for s in range(1, 6)] == [20, 20, 20, 20, 20]
    assert scores[0] == 1 and scores[-1] == 5


def test_quintiles_with_few_distinct_values_skip_rather_than_invent():
    values = np.array([1] * 60 + [2] * 20 + [3] * 20)
    np.random.default_rng(0).shuffle(values)
    scores = quintile_scores(values)
    # one-time buyers are the lowest: F = 1, so new_customers (R5, FM1) stays reachable
    assert {int(v): int(s) for v, s in zip(values, scores, strict=True)} == {1: 1, 2: 4, 3: 5}
    assert set(quintile_scores(np.array([7, 7, 7]))) == {1}  # nothing to tell apart
    assert list(quintile_scores(np.array([1, 2]))) == [1, 3]
    assert list(quintile_scores(np.array([5, 1, 3, 2, 4]))) == [5, 1, 3, 2, 4]
    assert quintile_scores(np.array([])).size == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-5, 5), min_size=1, max_size=60), st.randoms())
def test_quintiles_are_deterministic_and_monotonic(values, rnd):
    array = np.array(values)
    scores = quintile_scores(array)
    assert scores.min() >= 1 and scores.max() <= 5
    by_value: dict[int, int] = {}
    for v, s in zip(values, scores, strict=True):
        assert by_value.setdefault(v, int(s)) == s  # equal values, equal scores
    ordered = sorted(by_value)
    assert [by_value[v] for v in ordered] == sorted(by_value[v] for v in ordered)
    shuffled = list(values)
    rnd.shuffle(shuffled)
    again = quintile_scores(np.array(shuffled))
    assert {v: int(s) for v, s in zip(shuffled, again, strict=True)} == by_value


# --- a shop with a known typical gap --------------------------------------------------------

AS_OF = "2025-06-30"


@pytest.fixture
def shop(orders):
    """30 repeat customers whose orders are 10 days apart (G = 10), and a few others."""
    end = date(2025, 6, 30)
    for i in range(30):
        last = end - timedelta(days=i * 2)  # last orders 0..58 days ago
        orders.add(f"r{i:02d}@example.com", (last - timedelta(days=10)).isoformat(), 10 + i)
        orders.add(f"r{i:02d}@example.com", last.isoformat(), 10 + i)
    orders.add("new@example.com", (end - timedelta(days=3)).isoformat(), 50)
    orders.add("old@example.com", "2024-01-01", 500)
    orders.add("late@example.com", "2025-07-05", 80)  # after as-of
    orders.customer("nobody@example.com", accepts_marketing=0)  # no orders
    return orders


def test_lifecycle_thresholds_follow_the_shop(shop):
    from retain_cli.analytics.metrics import load_orders

    thresholds = lifecycle_thresholds(load_orders(shop.store).upto(parse_as_of(AS_OF)))
    assert (thresholds.gap, thresholds.repeat_gaps, thresholds.measured) == (10, 30, 10.0)
    assert (thresholds.at_risk, thresholds.lapsing, thresholds.lost) == (10, 20, 40)
    assert "typical gap G = 10 days (median of 30 gaps" in thresholds.describe()


def test_lifecycle_falls_back_with_too_few_repeat_orders(orders):
    from retain_cli.analytics.metrics import load_orders

    orders.add("a@example.com", "2025-01-01", 1)
    orders.add("a@example.com", "2025-01-03", 1)
    thresholds = lifecycle_thresholds(load_orders(orders.store))
    assert (thresholds.gap, thresholds.repeat_gaps) == (DEFAULT_GAP_DAYS, 1)
    assert "fewer than 20 repeat gaps, so the default of 30 days" in thresholds.describe()


def test_lifecycle_assignment(shop):
    series = assign(shop.store, "lifecycle", parse_as_of(AS_OF))
    refs = shop.refs
    assert series.index.name == "customer_ref" and series.index.is_monotonic_increasing
    assert series[refs["new@example.com"]] == "new"
    assert series[refs["r00@example.com"]] == "new"  # first order 10 days ago = G
    assert series[refs["r01@example.com"]] == "active"  # first 12 days ago, last 2
    assert series[refs["r05@example.com"]] == "active"  # 10 days ago = G
    assert series[refs["r06@example.com"]] == "at_risk"  # 12 days
    assert series[refs["r10@example.com"]] == "at_risk"  # 20 days = 2G
    assert series[refs["r11@example.com"]] == "lapsing"  # 22 days
    assert series[refs["r20@example.com"]] == "lapsing"  # 40 days = 4G
    assert series[refs["r21@example.com"]] == "lost"  # 42 days
    assert series[refs["old@example.com"]] == "lost"
    assert series[refs["late@example.com"]] == "prospect"  # no order by as-of
    assert series[refs["nobody@example.com"]] == "prospect"
    assert set(series) <= {*LIFECYCLE_SEGMENTS, "prospect"}
    assert len(series) == len(refs)


def test_rfm_assignment_covers_everyone_deterministically(shop):
    as_of = parse_as_of(AS_OF)
    first = assign(shop.store, "rfm", as_of)
    assert first.equals(assign(shop.store, "rfm", as_of))
    assert len(first) == len(shop.refs)
    assert set(first) <= {*RFM_SEGMENTS, "prospect"}
    refs = shop.refs
    assert first[refs["nobody@example.com"]] == "prospect"
    # 30 of 32 buyers ordered twice: 2 orders is no better than the lowest, F = 1 for all.
    # r00 ordered last (R = 5) and spent least (M = 1): the new_customers cell
    assert first[refs["r00@example.com"]] == rfm_segment(5, 1, 1) == "new_customers"
    # old: the oldest last order (R = 1) and the biggest spend (M = 5): FM = 3
    assert first[refs["old@example.com"]] == rfm_segment(1, 1, 5) == "at_risk"


def test_customer_features(shop):
    unknown = shop.customer("unknown@example.com", accepts_marketing=None)
    frame = customer_features(shop.store, parse_as_of(AS_OF))
    assert pd.isna(frame.loc[unknown, "accepts_marketing"])
    assert frame.index.name == "customer_ref"
    assert list(frame.columns) == [
        "customer_id",
        "email",
        "orders",
        "total_spent",
        "avg_order_value",
        "first_order_at",
        "last_order_at",
        "days_since_last_order",
        "days_since_first_order",
        "accepts_marketing",
        "birthday",
    ]
    refs = shop.refs
    r3 = frame.loc[refs["r03@example.com"]]
    assert (r3["orders"], r3["total_spent"], r3["avg_order_value"]) == (2, 26.0, 13.0)
    assert (r3["days_since_last_order"], r3["days_since_first_order"]) == (6.0, 16.0)
    assert r3["last_order_at"] == pd.Timestamp("2025-06-24T12:00:00Z")
    late = frame.loc[refs["late@example.com"]]  # its only order is after as-of
    assert late["orders"] == 0 and late["total_spent"] == 0.0
    assert pd.isna(late["last_order_at"]) and pd.isna(late["days_since_last_order"])
    assert frame.loc[refs["nobody@example.com"], "accepts_marketing"] == False  # noqa: E712
    assert frame.loc[refs["new@example.com"], "accepts_marketing"] == True  # noqa: E712
    assert str(frame["accepts_marketing"].dtype) == "boolean"


# --- the segments table and snapshots -------------------------------------------------------


def test_segments_report_rows_and_snapshot(shop):
    report = segments_report(shop.store, "lifecycle", parse_as_of(AS_OF))
    rows = {r["segment"]: r for r in report.rows}
    assert [r["segment"] for r in report.rows] == [*LIFECYCLE_SEGMENTS, "prospect"]
    assert list(report.rows[0]) == ["segment", "customers", "share", "revenue", "avg_orders"]
    total = len(shop.refs)
    assert sum(r["customers"] for r in report.rows) == total
    assert rows["new"] == {  # new@ (one order of 50) and r00 (first order 10 days ago)
        "segment": "new",
        "customers": 2,
        "share": round(2 / total, 4),
        "revenue": 70.0,
        "avg_orders": 1.5,
    }
    assert rows["prospect"]["avg_orders"] == 0.0 and rows["prospect"]["revenue"] == 0.0
    assert report.saved == 0  # the report only reads
    assert shop.store.segment_snapshot_days("lifecycle") == []
    report = segments_report(shop.store, "lifecycle", parse_as_of(AS_OF), save=True)
    assert report.saved == total
    stored = membership_on(shop.store, "lifecycle", date(2025, 6, 30))
    assert stored == assign(shop.store, "lifecycle", parse_as_of(AS_OF)).to_dict()
    groups = dict(shop.store.segment_snapshot("lifecycle", AS_OF))
    assert json.loads(groups["new"]) == sorted(
        [shop.refs["r00@example.com"], shop.refs["new@example.com"]]
    )
    # the same day again replaces, it does not add
    segments_report(shop.store, "lifecycle", parse_as_of(AS_OF), save=True)
    count = "SELECT count(*) FROM segment_snapshots WHERE scheme = 'lifecycle'"
    assert shop.store.conn.execute(count).fetchone()[0] == total
    assert shop.store.segment_snapshot_days("lifecycle") == [AS_OF]


def test_moves_and_entered_between_two_days(shop):
    store, refs = shop.store, shop.refs
    start, end = date(2025, 6, 20), date(2025, 6, 30)
    result = moves(store, "lifecycle", start, end)
    assert store.segment_snapshot_days("lifecycle") == []  # moves only reads
    total = sum(result.counts.values())
    assert total == len(refs)
    new_ref = refs["new@example.com"]
    before = membership_on(store, "lifecycle", start)
    after = membership_on(store, "lifecycle", end)
    assert (before[new_ref], after[new_ref]) == ("prospect", "new")
    assert result.counts[("prospect", "new")] == 1
    rows = result.rows()
    assert rows[0].keys() == {"from_segment", "to_segment", "customers"}
    assert sum(r["customers"] for r in rows) == total
    went = entered(store, "lifecycle", "at_risk", start, end)
    assert store.segment_snapshot_days("lifecycle") == []
    assert went == {
        ref for ref, s in after.items() if s == "at_risk" and before.get(ref) != "at_risk"
    }
    assert refs["r06@example.com"] in went  # last order 12 days before the 30th
    with pytest.raises(UsageError, match="--to 2025-06-20 is before --from 2025-06-30"):
        moves(store, "lifecycle", end, start)


def test_entered_on_reports_the_day_of_the_transition(shop):
    store, refs = shop.store, shop.refs
    for day in ("2025-06-20", "2025-06-25", "2025-06-30"):
        snapshot(store, "lifecycle", date.fromisoformat(day))
    days = entered_on(store, "lifecycle:at_risk", parse_as_of("2025-06-30"))
    # r06: last order 2025-06-18, G = 10 -> active on the 25th? 7 days: active; 30th: at_risk
    assert days[refs["r06@example.com"]] == date(2025, 6, 30)
    assert refs["r00@example.com"] not in days


def test_segment_members(shop):
    members = segment_members(shop.store, "new", parse_as_of(AS_OF))
    assert segment_members(shop.store, "lifecycle:new", parse_as_of(AS_OF)) == members
    assert members == [shop.refs["r00@example.com"], shop.refs["new@example.com"]]


# --- custom segments ------------------------------------------------------------------------

GOOD = """\
segments:
  - name: big_spenders
    where: "total_spent >= 40"
    description: spent a lot
  - name: repeat
    where: "orders >= 2"
  - name: never
    where: "orders > 5 and orders < 3"
"""


def write(tmp_path: Path, text: str, name: str = "segments.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_custom_segments_first_match_wins(shop, tmp_path):
    path = write(tmp_path, GOOD)
    series = assign(shop.store, "custom", parse_as_of(AS_OF), segments_file=path)
    refs = shop.refs
    assert series[refs["r29@example.com"]] == "big_spenders"  # 39 twice: 78, and repeat
    assert series[refs["r00@example.com"]] == "repeat"  # 10 + 10 = 20
    assert refs["nobody@example.com"] not in series.index
    report = segments_report(shop.store, "custom", parse_as_of(AS_OF), segments_file=path)
    assert [r["segment"] for r in report.rows] == ["big_spenders", "repeat", "never", "(none)"]
    assert sum(r["customers"] for r in report.rows) == len(refs)


def test_default_segments_file_is_in_the_current_folder(shop, tmp_path, monkeypatch):
    write(tmp_path, GOOD)
    assert [s.name for s in load_custom_segments()] == ["big_spenders", "repeat", "never"]
    other = write(tmp_path, GOOD.replace("big_spenders", "vip"), "other.yaml")
    monkeypatch.setenv("RETAIN_SEGMENTS", str(other))
    assert load_custom_segments()[0].name == "vip"


@pytest.mark.parametrize(
    "text,message",
    [
        ("segments: []\nextra: 1\n", "unknown top-level key 'extra'; only 'segments'"),
        ("- name: x\n", "expected a top-level key 'segments' with a list of segments"),
        (
            "segments:\n  - name: x\n    where: orders > 1\n    colour: red\n",
            "segment 'x': unknown key 'colour'; keys are name, where, description",
        ),
        (
            "segments:\n  - name: Big Spenders\n    where: orders > 1\n",
            "segment 'Big Spenders': key 'name': use lower-case letters, digits and '_'",
        ),
        ("segments:\n  - where: orders > 1\n", "segment 1: key 'name': use lower-case"),
        (
            "segments:\n  - name: a\n    where: orders > 1\n  - name: a\n    where: orders > 2\n",
            "segment 'a': key 'name': 'a' is defined twice",
        ),
        ("segments:\n  - name: a\n", "segment 'a': key 'where': expected a rule"),
        (
            "segments:\n  - name: a\n    where: orders >\n",
            "segment 'a': invalid rule at column 9: expected a field, number",
        ),
        ("segments: [\n", "not valid YAML"),
    ],
)
def test_invalid_segment_files_name_file_segment_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_custom_segments(path)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


def test_missing_segments_file_says_how_to_fix(tmp_path):
    with pytest.raises(ConfigError, match=r"no segments file at .*missing\.yaml; create one"):
        load_custom_segments(tmp_path / "missing.yaml")


# --- names ----------------------------------------------------------------------------------


def test_find_segment(tmp_path):
    path = write(tmp_path, GOOD)
    assert find_segment("lifecycle:at_risk") == ("lifecycle", "at_risk")
    assert find_segment("Lifecycle:At Risk") == ("lifecycle", "at_risk")
    assert find_segment("rfm:at_risk") == ("rfm", "at_risk")
    assert find_segment("can't lose") == ("rfm", "cant_lose")
    assert find_segment("champions") == ("rfm", "champions")
    assert find_segment("lapsing") == ("lifecycle", "lapsing")
    assert find_segment("prospect") == ("lifecycle", "prospect")
    assert find_segment("big_spenders", path) == ("custom", "big_spenders")
    assert find_segment("custom:repeat", path) == ("custom", "repeat")
    assert "custom:repeat" in segment_names(path) and "repeat" in segment_names(path)
    assert "at_risk" not in segment_names(path) and "rfm:at_risk" in segment_names(path)
    for bare in ("at_risk", "lost", "At Risk"):
        with pytest.raises(UsageError) as caught:
            find_segment(bare)
        key = bare.lower().replace(" ", "_")
        assert str(caught.value) == (
            f"segment {bare!r} is in both the rfm and the lifecycle scheme, with different "
            f"customers; write rfm:{key} (by RFM score, as 'retain segments' shows it) or "
            f"lifecycle:{key} (by days since the last order against the shop's typical gap)"
        )
    with pytest.raises(UsageError) as caught:
        find_segment("vips", path)
    assert str(caught.value).startswith(
        "unknown segment 'vips'; segments are rfm: champions, loyal"
    )
    assert "custom: big_spenders, repeat, never" in str(caught.value)
    with pytest.raises(UsageError, match="unknown scheme 'abc' in 'abc:x'"):
        find_segment("abc:x")


def test_a_custom_segment_may_not_take_a_built_in_name(tmp_path):
    path = write(tmp_path, GOOD.replace("name: repeat", "name: lost"))
    with pytest.raises(ConfigError) as caught:
        load_custom_segments(path)
    assert str(caught.value) == (
        f"{path}, segment 'lost': key 'name': 'lost' is a built-in segment (rfm:lost and "
        "lifecycle:lost); choose another name"
    )


# --- check ----------------------------------------------------------------------------------


def test_check_custom_segments(shop, tmp_path):
    path = write(
        tmp_path,
        GOOD
        + '  - name: broken\n    where: "orders >> 1"\n'
        + '  - name: nobody\n    where: "total_spent > 100000"\n',
    )
    findings = check_segments(shop.store, "custom", parse_as_of(AS_OF), segments_file=path)
    rows = [(f.level, f.segment, f.finding) for f in findings]
    assert rows[0][:2] == ("error", "broken")
    assert "invalid rule at column 9" in rows[0][2]
    assert (
        "warning",
        "never",
        "can never match: the conditions on 'orders' contradict each other",
    ) in rows
    assert ("warning", "nobody", "matches no customer on the current data") in rows
    overlap = [r for r in rows if r[1] == "big_spenders, repeat"]
    assert overlap and overlap[0][0] == "warning"
    assert "customers match both; they go to 'big_spenders'" in overlap[0][2]
    uncovered = [r for r in rows if r[1] == "(none)"]
    assert uncovered[0][0] == "info" and "customers are in no custom segment" in uncovered[0][2]


def test_check_rfm_grid():
    findings = check_segments(None, "rfm", parse_as_of(AS_OF))
    assert findings[0].finding == "all 125 (R, F, M) cells belong to exactly one segment"
    assert all(f.level == "info" for f in findings)
    assert sum(int(f.finding.split()[0]) for f in findings[1:]) == 125


def test_snapshot_rows_can_be_written_one_customer_at_a_time(store):
    """segment_snapshots is a per-customer view over compact sets, and accepts inserts."""
    store.conn.execute(
        "INSERT INTO segment_snapshot_runs VALUES ('rfm', '2025-01-01', '2025-01-01', 3)"
    )
    store.conn.executemany(
        "INSERT INTO segment_snapshots VALUES ('rfm', '2025-01-01', ?, ?)",
        [(1, "loyal"), (2, "champions"), (3, "loyal")],
    )
    assert membership_on(store, "rfm", date(2025, 1, 1)) == {
        1: "loyal",
        3: "loyal",
        2: "champions",
    }
    sets = store.conn.execute(
        "SELECT segment, customers, members FROM segment_snapshot_sets ORDER BY segment"
    ).fetchall()
    assert sets == [("champions", 1, "[2]"), ("loyal", 2, "[1,3]")]
