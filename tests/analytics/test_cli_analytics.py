"""The analytics commands through the CLI: metrics, explain, cohorts, segments (check, moves)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from retain_cli.analytics.definitions import DEFINITIONS
from retain_cli.analytics.metrics import METRIC_NAMES


@pytest.fixture
def shop(orders):
    """Three customers over three months, one cancelled and one refunded order."""
    orders.add("ann@example.com", "2025-01-05", 20)
    orders.add("ann@example.com", "2025-02-10", 30)
    orders.add("ann@example.com", "2025-03-15", 50)
    orders.add("bob@example.com", "2025-02-01", 40, refunded=15)
    orders.add("bob@example.com", "2025-03-20", 999, cancelled=True)
    orders.add("cat@example.com", "2025-03-02", 10)
    orders.customer("dan@example.com")  # no orders
    return orders


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# --- metrics --------------------------------------------------------------------------------


def test_metrics_csv(cli, shop):
    result = cli("metrics", "--period", "month", "--as-of", "2025-03-31", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "metric,value"
    values = {r["metric"]: r["value"] for r in rows_of(result.stdout)}
    assert list(values) == list(METRIC_NAMES)
    assert values["customers"] == "3"
    assert values["active_customers"] == "2"
    assert values["new_customers"] == "1"
    assert values["orders"] == "2"
    assert values["revenue"] == "60.0"
    assert values["repeat_purchase_rate"] == str(round(1 / 3, 4))


def test_metrics_compare_json(cli, shop):
    result = cli(
        "metrics", "--period", "month", "--as-of", "2025-03-31", "--compare", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["period"] == {
        "start": "2025-03-01",
        "end": "2025-03-31T23:59:59+00:00",
        "label": "Mar 2025 (2025-03-01 to 2025-03-31)",
    }
    assert data["previous_period"]["label"] == "Feb 2025 (2025-02-01 to 2025-02-28)"
    assert data["currency"] == "EUR"
    revenue = next(m for m in data["metrics"] if m["metric"] == "revenue")
    assert revenue == {
        "metric": "revenue",
        "value": 60.0,
        "previous": 55.0,  # ann 30 + bob 40 - 15 refunded
        "change": 5.0,
        "change_pct": round(5 / 55, 4),
    }


def test_metrics_table_for_people(cli, shop):
    result = cli("metrics", "--period", "month", "--as-of", "2025-03-31", "--compare")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Metrics, Mar 2025 (2025-03-01 to 2025-03-31)" in out
    assert "previous: Feb 2025 (2025-02-01 to 2025-02-28)\ncurrency: EUR\n" in out
    line = next(x for x in out.splitlines() if "repeat_purchase_rate" in x)
    assert "33.3%" in line and "pp" in line
    assert "60.00 EUR" in out


def test_metrics_usage_errors(cli, shop, tmp_path):
    result = cli("metrics", "--period", "week")
    assert result.exit_code == 2
    assert "Invalid value for '--period'" in result.stderr
    result = cli("metrics", "--as-of", "yesterday")
    assert result.exit_code == 2
    assert result.stderr == "Error: --as-of 'yesterday' is not a date; use YYYY-MM-DD\n"


def test_metrics_without_database(cli, tmp_path):
    result = cli("metrics", "--db", str(tmp_path / "none.db"))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: no database at {tmp_path / 'none.db'}")
    assert not (tmp_path / "none.db").exists()


# --- explain --------------------------------------------------------------------------------


def test_every_metric_and_column_has_a_definition():
    from retain_cli.analytics.predict import PREDICT_COLUMNS
    from retain_cli.measure.report import COLUMNS as REPORT_COLUMNS

    assert set(METRIC_NAMES) <= set(DEFINITIONS)
    assert set(PREDICT_COLUMNS) - {"customer_id", "email"} <= set(DEFINITIONS)
    assert set(REPORT_COLUMNS) - {"campaign"} <= set(DEFINITIONS)
    assert {"order", "as_of", "period", "refunds", "rfm", "lifecycle", "cohorts"} <= set(
        DEFINITIONS
    )


def test_explain_one_and_all(cli):
    result = cli("explain", "retention_rate")
    assert result.exit_code == 0
    assert result.stdout.startswith("retention_rate\n  Customers of S (customer_base_start)")
    result = cli("explain", "--format", "csv")
    assert result.exit_code == 0
    names = [r["name"] for r in rows_of(result.stdout)]
    assert names == list(DEFINITIONS)
    for name, shown in (("P-Alive", "p_alive"), ("t", "T"), ("conversion_difference", None)):
        result = cli("explain", name)
        assert result.exit_code == 0, name
        assert result.stdout.splitlines()[0] == (shown or name)
        assert "A column of 'retain" in result.stdout


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("churn", "did you mean churn_rate or churn_risk?"),
        ("clv", "did you mean historic_clv or predicted_clv?"),
        (
            "difference",
            "did you mean conversion_difference, revenue_per_customer_difference, "
            "versus_conversion_difference or versus_revenue_per_customer_difference?",
        ),
        ("retension", "did you mean retention_rate?"),
        ("repeat rate", "did you mean repeat_purchase_rate?"),
    ],
)
def test_explain_a_near_miss_suggests_the_close_names(cli, name, hint):
    result = cli("explain", name)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: no definition for {name!r}; {hint} 'retain explain' with no name lists all "
        f"{len(DEFINITIONS)}\n"
    )


def test_explain_an_unknown_name(cli):
    result = cli("explain", "ltv")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: no definition for 'ltv'; 'retain explain' with no name lists all "
        f"{len(DEFINITIONS)}\n"
    )


# --- cohorts --------------------------------------------------------------------------------


def test_cohorts_csv_and_json(cli, shop):
    result = cli("cohorts", "--as-of", "2025-03-31", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "cohort,size,0,1,2,incomplete_from\n2025-01,1,1.0,1.0,1.0,\n2025-02,1,1.0,0.0,,\n"
        "2025-03,1,1.0,,,\n"
    )
    result = cli("cohorts", "--as-of", "2025-03-31", "--value", "revenue", "--format", "json")
    assert json.loads(result.stdout)[1] == {
        "cohort": "2025-02",
        "size": 1,
        "0": 25.0,
        "1": 0.0,
        "2": None,
        "incomplete_from": None,
    }


def test_cohorts_table_and_last(cli, shop):
    result = cli("cohorts", "--as-of", "2025-03-31", "--by", "quarter")
    assert result.exit_code == 0
    assert "Cohorts by first-order quarter" in result.stdout
    assert "2025-Q1" in result.stdout and "100%" in result.stdout
    result = cli("cohorts", "--as-of", "2025-03-31", "--last", "1", "--format", "csv")
    assert result.stdout == "cohort,size,0,incomplete_from\n2025-03,1,1.0,\n"


def test_an_empty_shop(cli, store):
    result = cli("cohorts")
    assert result.exit_code == 0
    assert "No orders yet" in result.stdout
    result = cli("segments", "moves", "--from", "2025-01-01", "--to", "2025-02-01")
    assert result.exit_code == 0
    assert "No customers yet" in result.stdout
    result = cli("segments", "--scheme", "lifecycle", "-f", "csv")
    assert result.stdout.splitlines()[1] == "lifecycle,new,0,,0.0,"


# --- segments -------------------------------------------------------------------------------


def test_segments_csv_columns_and_it_keeps_nothing(cli, shop):
    result = cli("segments", "--scheme", "lifecycle", "--as-of", "2025-03-31", "-f", "csv")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "scheme,segment,customers,share,revenue,avg_orders"
    rows = {r["segment"]: r for r in rows_of(result.stdout)}
    assert list(rows) == ["new", "active", "at_risk", "lapsing", "lost", "prospect"]
    assert rows["prospect"] == {
        "scheme": "lifecycle",
        "segment": "prospect",
        "customers": "1",
        "share": "0.25",
        "revenue": "0.0",
        "avg_orders": "0.0",
    }
    # looking never records: only the send path keeps the snapshots triggers compare
    assert shop.store.segment_snapshot_days("lifecycle") == []
    assert shop.store.conn.execute("SELECT count(*) FROM segment_snapshot_sets").fetchone() == (0,)


def test_segments_table_shows_the_rules(cli, shop):
    result = cli("segments", "--scheme", "lifecycle", "--as-of", "2025-03-31")
    assert result.exit_code == 0
    assert "lifecycle segments as of 2025-03-31 (4 customers)" in result.stdout
    assert "typical gap G = 30 days" in result.stdout
    assert "In campaigns and --segment: lifecycle:NAME (rfm has at_risk and lost too)" in (
        result.stdout
    )
    result = cli("segments", "--as-of", "2025-03-31")
    assert "rfm segments as of 2025-03-31" in result.stdout
    assert "champions" in result.stdout
    assert "In campaigns and --segment: rfm:NAME" in result.stdout


def test_custom_segments_through_the_cli(cli, shop, tmp_path):
    path = tmp_path / "segments.yaml"
    path.write_text(
        "segments:\n"
        "  - name: regulars\n    where: orders >= 2\n"
        "  - name: one_timers\n    where: orders = 1\n"
    )
    result = cli("segments", "--scheme", "custom", "--as-of", "2025-03-31", "-f", "csv")
    assert result.exit_code == 0, result.output
    assert rows_of(result.stdout) == [
        {
            "scheme": "custom",
            "segment": "regulars",
            "customers": "1",
            "share": "0.25",
            "revenue": "100.0",
            "avg_orders": "3.0",
        },
        {
            "scheme": "custom",
            "segment": "one_timers",
            "customers": "2",
            "share": "0.5",
            "revenue": "35.0",
            "avg_orders": "1.0",
        },
        {
            "scheme": "custom",
            "segment": "(none)",
            "customers": "1",
            "share": "0.25",
            "revenue": "0.0",
            "avg_orders": "0.0",
        },
    ]


def test_bad_custom_rule_fails_with_file_segment_and_column(cli, shop, tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("segments:\n  - name: big\n    where: total_spent >= lots\n")
    result = cli("segments", "--scheme", "custom", "--segments", str(path))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {path}, segment 'big': invalid rule at column 16: expected a known field, "
        "found unknown field 'lots' (fields: customer_id, email, orders, total_spent, "
        "avg_order_value, first_order_at, last_order_at, days_since_last_order, "
        "days_since_first_order, accepts_marketing, birthday)\n"
        "  total_spent >= lots\n"
        "                 ^\n"
    )
    assert shop.store.segment_snapshot_days("custom") == []


def test_segments_check_exit_codes(cli, shop, tmp_path):
    clean = tmp_path / "clean.yaml"
    clean.write_text("segments:\n  - name: buyers\n    where: orders >= 1\n")
    result = cli("segments", "check", "--segments", str(clean), "--as-of", "2025-03-31")
    assert result.exit_code == 0, result.output
    assert "in no custom segment" in result.stdout  # dan has no orders: info only
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "segments:\n  - name: never\n    where: orders > 3 and orders < 2\n"
        "  - name: any\n    where: orders >= 0\n"
    )
    result = cli("segments", "check", "--segments", str(bad), "-f", "csv")
    assert result.exit_code == 3
    assert rows_of(result.stdout)[0] == {
        "level": "warning",
        "segment": "never",
        "finding": "can never match: the conditions on 'orders' contradict each other",
    }
    broken = tmp_path / "broken.yaml"
    broken.write_text("segments:\n  - name: oops\n    where: orders >\n")
    result = cli("segments", "check", "--segments", str(broken), "-f", "csv")
    assert result.exit_code == 1
    assert rows_of(result.stdout)[0]["level"] == "error"
    result = cli("segments", "check", "--scheme", "rfm")
    assert result.exit_code == 0
    assert "all 125 (R, F, M) cells belong to exactly one segment" in result.stdout


def test_segments_check_without_database_checks_the_rules(cli, tmp_path):
    path = tmp_path / "segments.yaml"
    path.write_text("segments:\n  - name: never\n    where: orders in []\n")
    result = cli("segments", "check")
    assert result.exit_code == 3
    assert "'orders' in [] matches nothing" in result.stdout
    assert not (tmp_path / "retain.db").exists()


def test_segments_moves(cli, shop):
    result = cli(
        "segments",
        "moves",
        "--from",
        "2025-02-15",
        "--to",
        "2025-03-31",
        "--scheme",
        "lifecycle",
        "-f",
        "csv",
    )
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    assert list(rows[0]) == ["from_segment", "to_segment", "customers"]
    assert sum(int(r["customers"]) for r in rows) == 4
    assert {"from_segment": "prospect", "to_segment": "new", "customers": "1"} in rows  # cat
    assert shop.store.segment_snapshot_days("lifecycle") == []  # moves only reads
    result = cli("segments", "moves", "--from", "2025-02-15", "--to", "2025-03-31")
    assert "rfm: from 2025-02-15 (rows) to 2025-03-31 (columns)" in result.stdout  # default
    result = cli("segments", "moves", "--from", "2025-03-31", "--to", "2025-02-15")
    assert result.exit_code == 2
    assert result.stderr == "Error: --to 2025-02-15 is before --from 2025-03-31; swap them\n"


def test_segments_help_lists_subcommands(cli):
    result = cli("segments", "--help")
    assert result.exit_code == 0
    assert "check" in result.stdout and "moves" in result.stdout
    assert "retain segments --scheme lifecycle --as-of 2025-09-30" in result.stdout


# --- from a real export, through the importer -----------------------------------------------

BAKERY = Path(__file__).parent / "data" / "analytics" / "bakery_orders.csv"


@pytest.fixture
def bakery(cli):
    result = cli("import", "orders", str(BAKERY))
    assert result.exit_code == 0, result.output
    return cli


def test_metrics_of_an_imported_export(bakery):
    result = bakery("metrics", "--period", "month", "--as-of", "2025-03-31", "-f", "json")
    assert result.exit_code == 0, result.output
    values = {m["metric"]: m["value"] for m in json.loads(result.stdout)["metrics"]}
    # dan's only order was cancelled, eve's refunded in full: neither is a customer
    assert values["customers"] == 5
    assert values["orders"] == 5  # eve's fully refunded order is no order
    assert values["revenue"] == 171.75  # 27.25 + 9.50 + 14 + 22 + 99
    assert values["average_order_value"] == round(171.75 / 5, 2)  # not / 6
    assert (values["new_customers"], values["returning_customers"]) == (2, 2)
    assert values["median_days_between_orders"] == 28.0  # ann 28, 28, 28; bob 34; cat 34


def test_customers_list_by_segment(bakery):
    result = bakery(
        "customers", "list", "--segment", "active", "--as-of", "2025-03-31", "-f", "csv"
    )
    assert result.exit_code == 0, result.output
    assert [r["email"] for r in rows_of(result.stdout)] == ["ann@example.com", "cat@example.com"]
    result = bakery("customers", "list", "--segment", "lifecycle:at risk", "--as-of", "2025-03-31")
    assert result.exit_code == 0
    assert "Segment lifecycle:at_risk as of 2025-03-31: 1 customer" in result.stdout
    assert "bob@example.com" in result.stdout and "ann@example.com" not in result.stdout
    result = bakery("customers", "list", "--segment", "vips")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: unknown segment 'vips'; segments are rfm: ")
