"""Every figure matches its written definition ('retain explain'), checked through the CLI
against an independent pandas implementation (pandas_reference.py) on the CDNOW log and the
demo shop; and the definitions that used to mislead a shop owner."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pandas_reference as ref
import pytest
from typer.testing import CliRunner

from retain_cli.cli.main import app

CDNOW = Path(__file__).parent / "data" / "cdnow" / "cdnow_orders.csv"


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def cdnow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("cdnow") / "cdnow.db"
    result = CliRunner().invoke(
        app, ["--db", str(db), "import", "orders", str(CDNOW), "--currency", "USD"]
    )
    assert result.exit_code == 0, result.output
    return db


@pytest.fixture
def cdnow(cdnow_db: Path, db_path: Path) -> Path:
    shutil.copy(cdnow_db, db_path)
    return db_path


def metrics_json(cli, *args: str) -> dict:
    result = cli("metrics", *args, "--compare", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def assert_like_reference(data: dict, orders: pd.DataFrame, as_of: str, kind: str) -> None:
    current = ref.period(ref.end_of_day(as_of), kind)
    before = ref.previous(current, kind)
    assert data["period"]["start"] == str((current.start + pd.Timedelta(seconds=1)).date())
    assert data["previous_period"]["start"] == str((before.start + pd.Timedelta(seconds=1)).date())
    assert data["previous_period"]["label"].endswith(
        f"to {before.end.date()}" + ")" * (kind in ref.MONTHS)
    )
    now, then = ref.metrics(orders, current), ref.metrics(orders, before)
    for row in data["metrics"]:
        name = row["metric"]
        assert row["value"] == pytest.approx(now[name], abs=0.006), (name, as_of, kind)
        assert row["previous"] == pytest.approx(then[name], abs=0.006), (name, "previous")


@pytest.mark.parametrize(
    ("kind", "as_of"),
    [
        ("quarter", "1997-09-30"),  # a full quarter, against the full quarter before
        ("quarter", "1998-05-10"),
        ("month", "1998-03-31"),
        ("year", "1998-06-30"),
        ("30d", "1997-04-15"),
        ("90d", "1998-01-01"),
    ],
)
def test_metrics_match_the_reference_on_cdnow(cli, cdnow, kind, as_of):
    orders = ref.countable(ref.cdnow_orders(CDNOW))
    assert_like_reference(
        metrics_json(cli, "--period", kind, "--as-of", as_of), orders, as_of, kind
    )


@pytest.mark.parametrize(
    ("kind", "as_of", "revenue"),
    [
        ("quarter", "2026-11-23", "gross"),
        ("quarter", "2026-11-23", "net"),
        ("month", "2026-06-30", "gross"),
        ("year", "2026-02-28", "net"),
    ],
)
def test_metrics_match_the_reference_on_the_demo(cli, demo, kind, as_of, revenue):
    orders = ref.countable(ref.shopify_orders(demo / "exports" / "orders_export_1.csv"), revenue)
    data = metrics_json(cli, "--period", kind, "--as-of", as_of, "--revenue", revenue)
    assert data["revenue"] == revenue
    assert_like_reference(data, orders, as_of, kind)


def test_compare_is_the_previous_calendar_period_cut_at_the_same_offset(cli, cdnow):
    """A full Q1 (90 days) used to be compared with 1 October-29 December (90 days)."""
    data = metrics_json(cli, "--period", "quarter", "--as-of", "1998-03-31")
    assert data["period"]["label"] == "Q1 1998 (1998-01-01 to 1998-03-31)"
    assert data["previous_period"]["label"] == "Q4 1997 (1997-10-01 to 1997-12-31)"
    data = metrics_json(cli, "--period", "quarter", "--as-of", "1998-05-10")
    assert data["previous_period"]["label"] == "Q1 1998 (1998-01-01 to 1998-02-10)"
    table = cli("metrics", "--period", "month", "--as-of", "1998-02-28", "--compare")
    assert "previous: Jan 1998 (1998-01-01 to 1998-01-31)" in table.stdout


def test_a_fully_refunded_order_is_no_order(cli, orders):
    orders.add("ann@example.com", "2025-03-05", 20)
    orders.add("bob@example.com", "2025-03-06", 10, refunded=10)  # bob gave it all back
    orders.add("cat@example.com", "2025-03-07", 40, refunded=10)  # a partial refund
    data = metrics_json(cli, "--period", "month", "--as-of", "2025-03-31")
    values = {m["metric"]: m["value"] for m in data["metrics"]}
    assert values["orders"] == 2  # it was 3, with bob's at 0
    assert values["average_order_value"] == 25.0  # (20 + 30) / 2, not / 3
    assert values["customers"] == 2 and values["new_customers"] == 2
    assert data["revenue"] == "gross"
    table = cli("metrics", "--period", "month", "--as-of", "2025-03-31")
    assert "revenue gross: order totals with tax and shipping, less refunds" in table.stdout


def test_net_revenue_leaves_out_tax_and_shipping(cli, store):
    store.db["customers"].insert(
        {"id": 1, "customer_id": "a", "email": "a@example.com", "source": "test",
         "created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z"}
    )  # fmt: skip
    store.db["orders"].insert(
        {"order_key": "t:1", "source": "t", "order_id": "1", "customer_ref": 1,
         "ordered_at": "2025-03-05T10:00:00Z", "currency": "EUR", "total_minor": 11900,
         "tax_minor": 1900, "shipping_minor": 500, "refunded_minor": 1000}
    )  # fmt: skip
    gross = metrics_json(cli, "--period", "month", "--as-of", "2025-03-31")
    net = metrics_json(cli, "--period", "month", "--as-of", "2025-03-31", "--revenue", "net")
    revenue = {d["revenue"]: d["metrics"][5]["value"] for d in (gross, net)}
    assert gross["metrics"][5]["metric"] == "revenue"
    assert revenue == {"gross": 109.0, "net": 85.0}  # 119 - 10; 119 - 19 - 5 - 10


def test_retention_follows_the_customers_of_the_base_only(cli, orders):
    """A lapsed customer coming back used to count in retention: 200% here."""
    orders.add("ann@example.com", "2024-10-01", 20)  # the base at the start: ann only
    orders.add("ann@example.com", "2025-03-10", 20)
    orders.add("cat@example.com", "2023-01-10", 30)  # lapsed for two years
    orders.add("cat@example.com", "2025-03-12", 30)  # comes back
    orders.add("new@example.com", "2025-03-20", 10)
    data = metrics_json(cli, "--period", "month", "--as-of", "2025-03-31")
    values = {m["metric"]: m["value"] for m in data["metrics"]}
    assert (values["customer_base_start"], values["customer_base_end"]) == (1, 3)
    assert values["retention_rate"] == 1.0  # (E - N) / S was 2.0
    assert values["churn_rate"] == 0.0
    assert values["reactivated_customers"] == 1
    table = cli("metrics", "--period", "month", "--as-of", "2025-03-31").stdout
    lines = [line.strip("│ ") for line in table.splitlines()]
    assert any(line.startswith("retention_rate") and "100.0%" in line for line in lines)
    assert any(line.startswith("reactivated_customers") and line.endswith("1") for line in lines)


def test_the_table_says_what_each_figure_covers(cli, orders):
    orders.add("ann@example.com", "2024-01-10", 20)
    orders.add("ann@example.com", "2024-01-10", 5)  # same day: one order day
    orders.add("ann@example.com", "2025-03-10", 20)
    table = cli("metrics", "--period", "month", "--as-of", "2025-03-31").stdout
    names = [line.split("│")[1].strip() for line in table.splitlines() if line.count("│") > 2]
    period_at, base_at, all_at = (
        names.index(h)
        for h in ("in the period:", "customer base (365 days):", "all history to the end:")
    )
    assert period_at < names.index("returning_customer_rate") < base_at
    assert all_at < names.index("repeat_purchase_rate")
    values = {
        m["metric"]: m["value"] for m in metrics_json(cli, "--as-of", "2025-03-31")["metrics"]
    }
    assert values["returning_customer_rate"] == 1.0  # ann ordered before
    assert values["repeat_purchase_rate"] == 1.0  # two order days (three orders)


def test_lifecycle_gap_rounds_half_up_like_rfm(cli, cdnow):
    """At 1997-09-21 the median gap of CDNOW is 26.5 days: G used to be 26 (half to even)."""
    gap, counts = ref.lifecycle(
        ref.countable(ref.cdnow_orders(CDNOW)), ref.end_of_day("1997-09-21")
    )
    assert gap == 27
    result = cli("segments", "--scheme", "lifecycle", "--as-of", "1997-09-21", "-f", "csv")
    got = {r["segment"]: int(r["customers"]) for r in rows_of(result.stdout)}
    assert {k: got[k] for k in counts} == counts
    table = cli("segments", "--scheme", "lifecycle", "--as-of", "1997-09-21")
    assert "typical gap G = 27 days (median of 2378 gaps between repeat orders: 26.5" in (
        " ".join(table.stdout.split())
    )


def test_lifecycle_matches_the_reference_on_the_demo(cli, demo):
    orders = ref.countable(ref.shopify_orders(demo / "exports" / "orders_export_1.csv"))
    gap, counts = ref.lifecycle(orders, ref.end_of_day("2026-11-23"))
    result = cli("segments", "--scheme", "lifecycle", "--as-of", "2026-11-23", "-f", "csv")
    got = {r["segment"]: int(r["customers"]) for r in rows_of(result.stdout)}
    assert {k: got[k] for k in counts} == counts
    assert (
        f"typical gap G = {gap} days"
        in cli("segments", "--scheme", "lifecycle", "--as-of", "2026-11-23").stdout
    )


def test_cohorts_match_the_reference_and_mark_the_unfinished_month(cli, cdnow):
    as_of = "1997-03-20"
    want = ref.cohorts(ref.countable(ref.cdnow_orders(CDNOW)), ref.end_of_day(as_of))
    result = cli("cohorts", "--as-of", as_of, "--format", "csv")
    rows = rows_of(result.stdout)
    assert [r["cohort"] for r in rows] == ["1997-01", "1997-02", "1997-03"]
    for row, (_, shares) in zip(rows, want.iterrows(), strict=True):
        for k, share in shares.items():
            if row[str(k)]:
                assert float(row[str(k)]) == pytest.approx(share, abs=1e-4)
    # March is not over on the 20th: each cohort's March cell is marked
    assert [r["incomplete_from"] for r in rows] == ["2", "1", "0"]
    table = cli("cohorts", "--as-of", as_of).stdout
    assert "* 1997-03 is not over: counted up to 1997-03-20" in table
    march = [line for line in table.splitlines() if line.startswith("│ 1997-0")]
    assert [line.count("*") for line in march] == [1, 1, 1]
    assert "%*" in march[0].split("│")[5]  # 1997-01, offset 2 (March)
    done = cli("cohorts", "--as-of", "1997-03-31", "--format", "csv")
    assert {r["incomplete_from"] for r in rows_of(done.stdout)} == {""}
    assert "not over" not in cli("cohorts", "--as-of", "1997-03-31").stdout


def existed(demo: Path, as_of: pd.Timestamp) -> tuple[int, int]:
    """(customers who existed at as_of, of them without a countable order by then), from
    the demo's export files: 'retain explain customer'."""
    exports = demo / "exports"
    raw = ref.shopify_orders(exports / "orders_export_1.csv")
    first_any = raw.groupby("customer")["at"].min()
    kept = ref.countable(raw)
    buyers = set(kept[kept["at"] <= as_of]["customer"])
    people = pd.read_csv(exports / "customers_export.csv", dtype=str)["Email"].str.lower()
    signups = pd.read_csv(exports / "newsletter_signups.csv", dtype=str)
    signed = dict(
        zip(signups["Email"].str.lower(), pd.to_datetime(signups["Signup Date"]), strict=True)
    )
    everyone = set(people) | set(first_any.index) | set(signed)
    alive = set()
    for person in everyone:
        known = [d for d in (first_any.get(person), signed.get(person)) if d is not None]
        if not known or min(known) <= as_of:
            alive.add(person)
    return len(alive), len(alive - buyers)


@pytest.mark.parametrize("few", [5_000, 0])
def test_at_a_past_as_of_customers_who_did_not_exist_yet_do_not_count(cli, demo, monkeypatch, few):
    """At 2025-06-30 the demo used to show 443 of 510 customers as prospects. Either way of
    finding them: the customers without an order asked about one by one (few), or every
    customer imported after as-of read first (many)."""
    monkeypatch.setattr("retain_cli.analytics.features.FEW_DOUBTFUL", few)
    as_of = "2025-06-30"
    total, prospects = existed(demo, ref.end_of_day(as_of))
    for scheme in ("rfm", "lifecycle"):
        result = cli("segments", "--scheme", scheme, "--as-of", as_of, "-f", "csv")
        got = {r["segment"]: int(r["customers"]) for r in rows_of(result.stdout)}
        assert sum(got.values()) == total
        assert got["prospect"] == prospects
    assert total < 150 and prospects < 60
    listed = cli("customers", "list", "--as-of", as_of, "--format", "csv")
    assert len(rows_of(listed.stdout)) == total
    today = cli("segments", "--as-of", "2026-11-23", "-f", "csv")
    assert sum(int(r["customers"]) for r in rows_of(today.stdout)) == 510
