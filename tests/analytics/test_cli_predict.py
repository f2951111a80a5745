"""``retain predict``, ``predict fit`` and ``predict check`` through the CLI, on real files."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retain_cli.analytics.predict import PREDICT_COLUMNS
from retain_cli.cli.main import app
from retain_cli.store.predict import PredictStore

DATA = Path(__file__).parent / "data"
CDNOW = DATA / "cdnow" / "cdnow_orders.csv"
SMALL = DATA / "predict" / "small_shop_orders.csv"


@pytest.fixture(scope="module")
def cdnow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CDNOW sample imported once through ``retain import orders`` (read-only afterwards)."""
    db = tmp_path_factory.mktemp("cdnow") / "cdnow.db"
    result = CliRunner().invoke(
        app,
        ["--db", str(db), "import", "orders", str(CDNOW), "--currency", "USD", "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["inserted"], summary["rejected"], summary["customers_created"]) == (
        6919,
        0,
        2357,
    )
    return db


@pytest.fixture
def cdnow(cdnow_db: Path, db_path: Path) -> Path:
    """This test's own copy of the CDNOW database, at the default (RETAIN_DB) path."""
    shutil.copy(cdnow_db, db_path)
    return db_path


@pytest.fixture
def small_shop(cli) -> None:
    result = cli("import", "orders", str(SMALL))
    assert result.exit_code == 0, result.output


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(text.splitlines()))


# --- the oracle: published parameters ------------------------------------------------------


def test_cdnow_fit_reproduces_the_published_parameters(cli, cdnow):
    result = cli(
        "predict", "fit", "--as-of", "1997-09-30", "--time-unit", "week", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    fit = json.loads(result.stdout)
    bg, gg = fit["bgnbd"], fit["gamma_gamma"]
    # Fader, Hardie & Lee (2005), CDNOW sample, 39-week calibration period
    assert (round(bg["r"], 3), round(bg["alpha"], 3)) == (0.243, 4.414)
    assert (round(bg["a"], 3), round(bg["b"], 3)) == (0.793, 2.426)
    assert round(fit["log_likelihood"], 1) == -9582.4
    # Fader & Hardie (2013), spend per repeat purchase of the same customers
    assert (round(gg["p"], 2), round(gg["q"], 2), round(gg["v"], 2)) == (6.25, 3.74, 15.44)
    assert fit["customers"] == 2357
    assert fit["repeat_customers"] == 946
    assert (fit["time_unit"], fit["as_of"]) == ("week", "1997-09-30")
    assert (fit["method"], fit["problems"]) == ("model", [])


def test_cdnow_fit_in_days_is_the_same_model(cli, cdnow):
    result = cli("predict", "fit", "--as-of", "1997-09-30", "--format", "json")
    assert result.exit_code == 0
    fit = json.loads(result.stdout)
    assert fit["time_unit"] == "day"
    assert fit["bgnbd"]["r"] == pytest.approx(0.2426, abs=1e-4)
    assert fit["bgnbd"]["alpha"] == pytest.approx(4.4136 * 7, rel=1e-4)
    assert fit["bgnbd"]["a"] == pytest.approx(0.7929, abs=1e-4)
    assert fit["bgnbd"]["b"] == pytest.approx(2.4259, abs=1e-4)
    # alpha is a time scale (weeks -> days: x 7); the rest, and Gamma-Gamma, do not change
    assert fit["gamma_gamma"] == {"p": 6.2496, "q": 3.7442, "v": 15.4435}


def test_cdnow_fit_table_for_people(cli, cdnow):
    result = cli("predict", "fit", "--as-of", "1997-09-30", "--time-unit", "week")
    assert result.exit_code == 0
    for text in ("Fitted models", "bgnbd.r", "0.243", "gamma_gamma.v", "15.44", "problems"):
        assert text in result.stdout


# --- predictions ---------------------------------------------------------------------------


def test_cdnow_predict_csv(cli, cdnow):
    result = cli(
        "predict", "--as-of", "1997-09-30", "--time-unit", "week", "--horizon", "273",
        "--format", "csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.splitlines()[0] == ",".join(PREDICT_COLUMNS)
    rows = _csv(result.stdout)
    assert len(rows) == 2357
    assert len({r["customer_id"] for r in rows}) == 2357
    clv = [float(r["predicted_clv"]) for r in rows]
    assert clv == sorted(clv, reverse=True)
    assert {r["method"] for r in rows if r["frequency"] != "0"} == {"model"}
    assert {r["method"] for r in rows if r["frequency"] == "0"} == {"model+rules"}
    assert {r["churn_risk"] for r in rows} == {"low", "medium", "high"}
    # customer 1 of the papers' data: x = 2, t_x = 30.43, T = 38.86, zbar = 22.35
    one = next(r for r in rows if r["email"] == "c00001@cdnow.example")
    assert (one["frequency"], one["recency"], one["T"]) == ("2", "30.43", "38.86")
    assert float(one["monetary_value"]) == pytest.approx((29.73 + 14.96) / 2, abs=0.005)
    r, alpha, a, b = 0.24259, 4.41360, 0.79292, 2.42591
    t_x, T = 213 / 7, 272 / 7
    p_alive = 1 / (1 + a / (b + 1) * ((alpha + T) / (alpha + t_x)) ** (r + 2))
    assert float(one["p_alive"]) == pytest.approx(p_alive, abs=1e-4)
    for row in rows:
        assert 0 <= float(row["recency"]) <= float(row["T"])
        assert 0 <= float(row["p_alive"]) <= 1
        assert float(row["expected_orders"]) >= 0


def band(p_alive: str) -> str:
    value = float(p_alive)
    return "low" if value >= 0.7 else "medium" if value >= 0.3 else "high"


def test_p_alive_and_churn_risk_always_agree(cli, cdnow):
    """BG/NBD gives a one-time buyer p_alive 1.0; it used to stand beside churn_risk high
    (from the rules). Now a one-time buyer's p_alive is the rules score the band comes from,
    and the method column and a note under the table say so."""
    result = cli("predict", "--as-of", "1997-09-30", "--format", "csv")
    rows = _csv(result.stdout)
    assert all(r["churn_risk"] == band(r["p_alive"]) for r in rows)
    once = [r for r in rows if r["frequency"] == "0"]
    assert len(once) == 1411  # CDNOW's one-time buyers by the end of the calibration
    assert {r["method"] for r in once} == {"model+rules"}
    # silent since their first quarter: all high, and p_alive says so (it said 1.0)
    assert {r["churn_risk"] for r in once} == {"high"}
    assert max(float(r["p_alive"]) for r in once) < 0.3
    table = cli("predict", "--as-of", "1997-09-30", "--risk", "high")
    assert table.exit_code == 0, table.output
    assert "model+rules: a one-time buyer. BG/NBD would say p_alive 1.0" in table.stdout


def test_predict_sort_and_risk(cli, cdnow):
    every = _csv(cli("predict", "--as-of", "1997-09-30", "--format", "csv").stdout)
    high = cli("predict", "--as-of", "1997-09-30", "--risk", "high", "--format", "csv")
    assert high.exit_code == 0, high.output
    rows = _csv(high.stdout)
    assert {r["churn_risk"] for r in rows} == {"high"}
    assert [r["customer_id"] for r in rows] == [
        r["customer_id"] for r in every if r["churn_risk"] == "high"
    ]  # the same order: highest predicted_clv first
    by_p = _csv(cli("predict", "--as-of", "1997-09-30", "--sort", "p_alive", "-f", "csv").stdout)
    p_alive = [float(r["p_alive"]) for r in by_p]
    assert p_alive == sorted(p_alive) and len(by_p) == len(every)
    risky = _csv(
        cli("predict", "--as-of", "1997-09-30", "--sort", "churn_risk", "-f", "csv").stdout
    )
    order = [r["churn_risk"] for r in risky]
    assert order == sorted(order, key=["high", "medium", "low"].index)
    top = json.loads(
        cli(
            "predict", "--as-of", "1997-09-30", "--sort", "frequency", "--risk", "low",
            "--limit", "2", "-f", "json",
        ).stdout
    )  # fmt: skip
    assert [r["frequency"] for r in top] == sorted(
        (int(r["frequency"]) for r in every if r["churn_risk"] == "low"), reverse=True
    )[:2]
    bad = cli("predict", "--sort", "clv")
    assert bad.exit_code == 2
    assert "'clv' is not one of" in bad.stderr
    none = cli("predict", "--as-of", "1997-01-02", "--risk", "high")
    assert none.exit_code == 0
    assert none.stdout.strip() == "No customer at high risk."


def test_cdnow_predict_json_with_limit(cli, cdnow):
    result = cli("predict", "--as-of", "1997-09-30", "--limit", "3", "--format", "json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert len(rows) == 3
    assert list(rows[0]) == PREDICT_COLUMNS
    assert rows[0]["email"] == "c00509@cdnow.example"
    assert rows[0]["frequency"] == 18 and isinstance(rows[0]["T"], int)


def test_cdnow_predict_table_shows_the_first_hundred(cli, cdnow):
    result = cli("predict", "--as-of", "1997-09-30")
    assert result.exit_code == 0
    assert "c00509@cdnow.example" in result.stdout
    assert "First 100 shown; use --limit N, or --format csv for all." in result.stdout


def test_orders_after_as_of_are_ignored(cli, cdnow):
    early = _csv(cli("predict", "--as-of", "1997-01-31", "--format", "csv").stdout)
    # only customers who had ordered by the end of January 1997
    assert 0 < len(early) < 2357
    assert max(int(r["T"]) for r in early) == 30
    assert all(int(r["recency"]) <= int(r["T"]) for r in early)


# --- the holdout check ---------------------------------------------------------------------


def _actual_holdout_days() -> int:
    with CDNOW.open() as handle:
        return len(
            {(r["email"], r["date"]) for r in csv.DictReader(handle) if r["date"] >= "1997-10-01"}
        )


def test_cdnow_check_compares_predicted_and_actual(cli, cdnow):
    result = cli(
        "predict", "check", "--holdout-from", "1997-10-01", "--time-unit", "week",
        "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["calibration_end"] == "1997-09-30"
    assert (report["holdout_from"], report["holdout_to"]) == ("1997-10-01", "1998-06-30")
    assert report["holdout_days"] == 273
    assert report["method"] == "model"
    assert report["actual_orders"] == _actual_holdout_days()
    # the same model and horizon as `retain predict`: the totals agree
    rows = _csv(
        cli(
            "predict", "--as-of", "1997-09-30", "--time-unit", "week", "--horizon", "273",
            "--format", "csv",
        ).stdout
    )  # fmt: skip
    predicted = sum(float(r["expected_orders"]) for r in rows)
    assert report["predicted_orders"] == pytest.approx(predicted, abs=0.2)
    buckets = report["buckets"]
    assert [b["frequency"] for b in buckets] == ["0", "1", "2", "3", "4", "5", "6", "7+", "all"]
    assert sum(b["customers"] for b in buckets[:-1]) == buckets[-1]["customers"] == 2357
    assert buckets[0]["customers"] == 2357 - 946
    # the model tracks the actual means by calibration frequency (FHL 2005, figure 4)
    for bucket in buckets:
        assert bucket["predicted"] == pytest.approx(bucket["actual"], rel=0.35)
    assert 0 < report["mae"] < 1.5


def test_check_csv_is_the_bucket_table(cli, cdnow):
    result = cli("predict", "check", "--holdout-from", "1997-10-01", "--format", "csv")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "frequency,customers,predicted,actual,rules"
    assert len(lines) == 10 and lines[-1].startswith("all,2357,")


def test_check_table(cli, cdnow):
    result = cli("predict", "check", "--holdout-from", "1997-10-01", "--holdout-to", "1997-12-31")
    assert result.exit_code == 0
    assert "Holdout check" in result.stdout
    assert "1997-12-31" in result.stdout and "7+" in result.stdout


def test_check_with_the_holdout_ending_before_it_starts(cli, cdnow):
    result = cli("predict", "check", "--holdout-from", "1997-10-01", "--holdout-to", "1997-09-01")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: the holdout ends (1997-09-01) before it starts (1997-10-01); "
        "pass a later --holdout-to\n"
    )


def test_check_with_a_bad_date(cli, cdnow):
    result = cli("predict", "check", "--holdout-from", "October")
    assert result.exit_code == 2
    assert result.stderr == "Error: --holdout-from 'October' is not a date; use YYYY-MM-DD\n"


# --- too little data: transparent rules ----------------------------------------------------

NOTICE = (
    "Notice: too little data for a trustworthy fit: 3 repeat customers (customers who ordered "
    "on two or more days); the models need at least 30. Using transparent rules instead of "
    "the model: p_alive = usual gap / days since the last order (capped at 1), expected "
    "orders from the customer's own past rate.\n"
)


def test_small_shop_falls_back_to_rules_and_says_so(cli, small_shop):
    result = cli("predict", "--as-of", "2025-01-31", "--format", "csv")
    assert result.exit_code == 0
    assert result.stderr == NOTICE
    # ann: 10.00 + 5.00 on Jan 1 are one purchase; Jan 11 is 20.00 less a 5.00 refund; the
    # cancelled order of Jan 21 and the order of Feb 10 (after --as-of) do not count.
    # usual gap 10 days, last order 20 days ago -> 0.5; 1 repeat in a history counted as
    # 90 days -> 1 / 90 * 90 * 0.5 orders of 15.00.
    # dee pays in JPY (no minor unit): 3000 yen, not 30.00.
    # cy never repeated: the shop's usual gap (10 days) against 11 days -> 0.9091.
    assert result.stdout == (
        ",".join(PREDICT_COLUMNS) + "\n"
        "dee@example.com,dee@example.com,1,10,29,3000.0,0.5263,0.5263,1578.95,medium,rules\n"
        "bob@example.com,bob@example.com,1,10,26,50.0,0.625,0.625,31.25,medium,rules\n"
        "ann@example.com,ann@example.com,1,10,30,15.0,0.5,0.5,7.5,medium,rules\n"
        "cy@example.com,cy@example.com,0,0,11,0.0,0.9091,0.0,0.0,low,rules\n"
    )


def test_small_shop_fit_says_why_not(cli, small_shop):
    result = cli("predict", "fit", "--as-of", "2025-01-31", "--format", "json")
    assert result.exit_code == 0
    fit = json.loads(result.stdout)
    assert fit["bgnbd"] is None and fit["gamma_gamma"] is None
    assert fit["method"] == "rules"
    assert fit["customers"] == 4 and fit["repeat_customers"] == 3
    assert fit["problems"][0].startswith("too little data for a trustworthy fit: 3 repeat")
    assert result.stderr.startswith("Notice: too little data for a trustworthy fit")


def test_small_shop_table_has_rules_and_risk(cli, small_shop):
    result = cli("predict", "--as-of", "2025-01-31", "--horizon", "30")
    assert result.exit_code == 0
    assert "rules" in result.stdout and "medium" in result.stdout
    assert "Notice: too little data" in result.stderr


def test_small_shop_check_runs_on_rules(cli, small_shop):
    result = cli(
        "predict", "check", "--holdout-from", "2025-01-21", "--holdout-to", "2025-02-28",
        "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["method"] == "rules"
    assert report["calibration_end"] == "2025-01-20"
    # in the holdout only ann's order of Feb 10 counts (Jan 21 was cancelled)
    assert report["actual_orders"] == 1
    assert report["customers"] == 4


# --- errors --------------------------------------------------------------------------------


def test_predict_without_database(cli, tmp_path):
    result = cli("predict", "--db", str(tmp_path / "nope.db"))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: no database at {tmp_path / 'nope.db'}")
    assert not (tmp_path / "nope.db").exists()


def test_predict_before_any_order(cli, small_shop):
    result = cli("predict", "--as-of", "2024-12-31")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: no orders on or before 2024-12-31; import orders first "
        "('retain import orders FILE') or pass a later --as-of\n"
    )


@pytest.mark.parametrize(
    "args",
    [
        ("predict", "--time-unit", "month"),
        ("predict", "--horizon", "0"),
        ("predict", "--limit", "-1"),
        ("predict", "fit", "--time-unit", "year"),
    ],
)
def test_bad_options_are_usage_errors(cli, small_shop, args):
    assert cli(*args).exit_code == 2


def test_bad_as_of(cli, small_shop):
    result = cli("predict", "--as-of", "31/01/2025")
    assert result.exit_code == 2
    assert result.stderr == "Error: --as-of '31/01/2025' is not a date; use YYYY-MM-DD\n"


# --- the CSV writer of `retain predict` -----------------------------------------------------


@pytest.mark.parametrize("special", ["", "Smith, J", 'say "hi"', "two\nlines"])
def test_csv_columns_match_csv_writer(capsys, special):
    import io

    from retain_cli.cli.predict import write_csv_columns

    columns = {
        "customer_id": ["c1", special or "c2", "c3"],
        "email": ["a@x.com", None, "c@x.com"],
        "frequency": [3, 0, 12],
        "p_alive": [0.5, 1e-05, 0.9999],
        "predicted_clv": [3000.0, 0.0, 12.35],
    }
    names = list(columns)
    write_csv_columns(columns, names)
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(zip(*columns.values(), strict=True))
    assert capsys.readouterr().out == expected.getvalue()


def test_customer_keys_survive_the_separator_in_data(cli, small_shop, store, monkeypatch):
    import retain_cli.store.predict as store_predict

    fast = store.predict_customer_keys()
    # a separator that occurs in the data: the counts disagree, rows are read one by one
    monkeypatch.setattr(store_predict, "_SEPARATOR", "@")
    slow = store.predict_customer_keys()
    assert fast[0].tolist() == slow[0].tolist() == [1, 2, 3, 4]
    assert fast[1] == slow[1]
    assert (
        fast[2]
        == slow[2]
        == [
            "ann@example.com",
            "bob@example.com",
            "cy@example.com",
            "dee@example.com",
        ]
    )


def test_predict_reuses_the_orders_metrics_packed(cli, small_shop, monkeypatch):
    args = ("predict", "--as-of", "2025-01-31", "--format", "csv")
    read_from_store = cli(*args).stdout
    assert cli("metrics", "--as-of", "2025-01-31", "--format", "json").exit_code == 0

    def no_scan(*_args, **_kwargs):
        raise AssertionError("the packed orders are current; no scan expected")

    monkeypatch.setattr(PredictStore, "predict_order_days", no_scan)
    assert cli(*args).stdout == read_from_store


def test_options_before_a_sub_command_are_not_silently_ignored(cli, small_shop):
    result = cli("predict", "--as-of", "2025-01-31", "--format", "json", "fit")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --as-of, --format before 'fit' would be ignored; write them after: "
        "retain predict fit --as-of ...\n"
    )


def test_db_before_a_sub_command_is_used(cli, small_shop, db_path, tmp_path, monkeypatch):
    monkeypatch.setenv("RETAIN_DB", str(tmp_path / "elsewhere.db"))
    result = cli(
        "predict", "--db", str(db_path), "fit", "--as-of", "2025-01-31", "--format", "json"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["customers"] == 4


@pytest.mark.parametrize(
    "values",
    [
        [round(v * 0.37 - 40.0, 2) for v in range(2000)] + [0.0, -0.0, 1e12 + 0.25],
        [round(v / 7.0, 4) for v in range(-3000, 3000)] + [0.0001, -0.0001, 123456789.5],
        [0.1, 1 / 3, 2.0],  # not rounded to 2 or 4 decimals
        [1e15, 2.5],  # too many digits for the shortcut
        [float("nan"), float("inf"), 1.0],
    ],
)
def test_float_texts_are_repr(values: list[float]) -> None:
    from retain_cli.cli.predict import float_texts

    assert float_texts(values) == [repr(v) for v in values]


@pytest.mark.parametrize("values", [[3, 0, 7, 7, 1, 2, 5, 4], [5, -1, 2], [10**12, 3], []])
def test_int_texts_are_str(values: list[int]) -> None:
    from retain_cli.cli.predict import int_texts

    assert int_texts(values) == [str(v) for v in values]
