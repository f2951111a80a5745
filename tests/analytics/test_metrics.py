"""Metrics and cohorts: exact values on a hand-made shop, and an oracle on random shops."""

from __future__ import annotations

import itertools
import random
import statistics
from datetime import UTC, datetime, timedelta

import pytest

from retain_cli.analytics.cohorts import compute_cohorts
from retain_cli.analytics.metrics import (
    METRIC_NAMES,
    ORDERS_CACHE,
    OrderArrays,
    Period,
    compute_metrics,
    load_orders,
    metrics,
    period_for,
    previous_period,
)
from retain_cli.errors import UsageError
from retain_cli.timeutil import parse_as_of


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- periods --------------------------------------------------------------------------------


def test_rolling_period_is_the_n_days_up_to_as_of():
    as_of = parse_as_of("2025-03-31")
    period = period_for(as_of, "30d")
    assert (period.start, period.end) == (at("2025-03-01T23:59:59"), as_of)
    assert (period.first_day.isoformat(), period.last_day.isoformat()) == (
        "2025-03-02",
        "2025-03-31",
    )
    before = previous_period(period, "30d")
    assert (before.start, before.end) == (at("2025-01-30T23:59:59"), at("2025-03-01T23:59:59"))


@pytest.mark.parametrize(
    "kind,as_of,start,end,previous_start,previous_end",
    [
        # month to date, against the same span of the month before
        ("month", "2025-03-12", "2025-03-01", "2025-03-12", "2025-02-01", "2025-02-12"),
        # 31 March against February: cut at the end of February
        ("month", "2025-03-31", "2025-03-01", "2025-03-31", "2025-02-01", "2025-02-28"),
        ("month", "2025-01-15", "2025-01-01", "2025-01-15", "2024-12-01", "2024-12-15"),
        # the previous calendar period cut at the same offset: 10 May -> 10 February
        ("quarter", "2025-05-10", "2025-04-01", "2025-05-10", "2025-01-01", "2025-02-10"),
        # a full quarter against the full quarter before (not 1 October-29 December)
        ("quarter", "2025-03-31", "2025-01-01", "2025-03-31", "2024-10-01", "2024-12-31"),
        ("quarter", "2025-06-30", "2025-04-01", "2025-06-30", "2025-01-01", "2025-03-31"),
        ("quarter", "2025-05-31", "2025-04-01", "2025-05-31", "2025-01-01", "2025-02-28"),
        ("month", "2025-02-28", "2025-02-01", "2025-02-28", "2025-01-01", "2025-01-31"),
        ("year", "2024-12-31", "2024-01-01", "2024-12-31", "2023-01-01", "2023-12-31"),
        ("year", "2024-02-29", "2024-01-01", "2024-02-29", "2023-01-01", "2023-02-28"),
    ],
)
def test_calendar_periods(kind, as_of, start, end, previous_start, previous_end):
    period = period_for(parse_as_of(as_of), kind)
    assert (period.first_day.isoformat(), period.last_day.isoformat()) == (start, end)
    before = previous_period(period, kind)
    assert (before.first_day.isoformat(), before.last_day.isoformat()) == (
        previous_start,
        previous_end,
    )
    assert before.end < period.start + timedelta(seconds=1)


def test_unknown_period_is_a_usage_error():
    with pytest.raises(UsageError, match="--period '7d' is not one of 30d, 90d, month"):
        period_for(parse_as_of("2025-01-01"), "7d")


# --- a small shop with exact answers --------------------------------------------------------


@pytest.fixture
def shop(orders):
    """ann: 3 orders (one in the period); bob: first order in the period; cat: lapsed (last
    order more than a year before the period); dan: cancelled order only; eve: refunded;
    fay: ordered twice on one day."""
    orders.add("ann@example.com", "2024-01-10", 20)
    orders.add("ann@example.com", "2024-02-09", 30)  # 30 days later
    orders.add("ann@example.com", "2024-03-15", 50)  # 35 days later, in the period
    orders.add("bob@example.com", "2024-03-05", 40)  # new in the period
    orders.add("bob@example.com", "2024-03-20", 10, refunded=10)  # fully refunded: still an order
    orders.add("cat@example.com", "2022-06-01", 99)  # out of the customer base
    orders.add("cat@example.com", "2024-03-02", 11)  # comes back in the period
    orders.add("dan@example.com", "2024-03-10", 500, cancelled=True)  # never counts
    orders.add("eve@example.com", "2023-12-01", 100, refunded=40)  # net 60
    orders.add("fay@example.com", "2024-02-20T09:00:00Z", 5)
    orders.add("fay@example.com", "2024-02-20T18:00:00Z", 5)  # same day: one order day
    orders.add("ann@example.com", "2024-04-02", 70)  # after as-of: ignored
    return orders.store


def test_metrics_of_a_small_shop(shop):
    report = metrics(shop, parse_as_of("2024-03-31"), "month")
    values = report.values
    assert list(values) == list(METRIC_NAMES)
    assert report.currency == "EUR"
    assert values["customers"] == 5  # dan's only order is cancelled
    assert values["active_customers"] == 3  # ann, bob, cat
    assert values["new_customers"] == 1  # bob
    assert values["returning_customers"] == 2  # ann, cat
    # ann (earlier orders), cat (2022): bob ordered twice but one was refunded in full
    assert values["returning_customer_rate"] == round(2 / 3, 4)
    assert values["orders"] == 3  # bob's fully refunded order is no order
    assert values["revenue"] == 50 + 40 + 11
    assert values["returning_revenue_share"] == round(61 / 101, 4)
    assert values["average_order_value"] == round(101 / 3, 2)
    assert values["purchase_frequency"] == round(3 / 3, 3)
    # order days: ann 3, bob 1, cat 2, eve 1, fay 1 (two orders on one day)
    assert values["repeat_purchase_rate"] == round(2 / 5, 4)
    # S: ordered in the 365 days before 1 March: ann, eve, fay (cat's 2022 order is too old)
    assert values["customer_base_start"] == 3
    # E: ann, bob, cat, eve, fay
    assert values["customer_base_end"] == 5
    assert values["retention_rate"] == 1.0  # all of S is still in E
    assert values["churn_rate"] == 0.0
    assert values["reactivated_customers"] == 1  # cat came back after 21 months
    assert values["historic_clv"] == round((20 + 30 + 50 + 40 + 99 + 11 + 60 + 10) / 5, 2)
    # gaps between order days: ann 30, 35; cat 640 -> median 35
    assert values["median_days_between_orders"] == 35.0
    assert values["median_days_to_second_order"] == 335.0  # ann 30, cat 640


def test_compare_uses_the_same_definitions_for_the_previous_period(shop):
    report = metrics(shop, parse_as_of("2024-03-31"), "month", compare=True)
    assert report.previous is not None and report.previous_values is not None
    assert report.previous.label == "Feb 2024 (2024-02-01 to 2024-02-29)"
    assert report.previous_values["orders"] == 3  # ann 9 Feb, fay twice on 20 Feb
    assert report.previous_values["revenue"] == 40
    rows = {r["metric"]: r for r in report.rows()}
    assert rows["revenue"] == {
        "metric": "revenue",
        "value": 101.0,
        "previous": 40.0,
        "change": 61.0,
        "change_pct": round(61 / 40, 4),
    }
    assert rows["returning_revenue_share"]["previous"] == 0.75  # fay was new in February


def test_metrics_of_an_empty_shop(store):
    values = metrics(store, parse_as_of("2024-03-31"), "30d").values
    assert values["customers"] == 0 and values["revenue"] == 0
    assert values["retention_rate"] is None and values["average_order_value"] is None
    assert values["median_days_between_orders"] is None


def test_mixed_currencies_are_named_and_scaled(orders):
    orders.add("a@example.com", "2024-03-01", 10, currency="EUR")
    orders.add("b@example.com", "2024-03-02", 12, currency="USD")
    report = metrics(orders.store, parse_as_of("2024-03-31"), "month")
    assert report.currency == "mixed: EUR, USD (added without conversion)"
    assert report.values["revenue"] == 22


def test_zero_decimal_currency_is_scaled_by_its_own_minor_units(orders):
    orders.add("a@example.com", "2024-03-01", 10, currency="EUR")
    orders.add("y@example.com", "2024-03-02", 12, currency="JPY")  # stored as 1200 minor
    report = metrics(orders.store, parse_as_of("2024-03-31"), "month")
    assert report.values["revenue"] == 10 + 1200


# --- the packed copy of the orders ----------------------------------------------------------


def test_packed_orders_follow_every_change(orders):
    store = orders.store
    orders.add("a@example.com", "2024-03-01", 10)
    assert load_orders(store).amount.tolist() == [10.0]
    fingerprint = store.orders_fingerprint()
    assert store.cached_blob(ORDERS_CACHE)[0] == fingerprint
    assert load_orders(store).amount.tolist() == [10.0]  # from the cache, unchanged
    orders.add("a@example.com", "2024-03-02", 5)  # insert
    assert load_orders(store).amount.tolist() == [10.0, 5.0]
    store.db["orders"].update(1, {"refunded_minor": 400})  # update: trigger
    assert load_orders(store).amount.tolist() == [6.0, 5.0]
    store.db["orders"].update(2, {"cancelled_at": "2024-03-03T00:00:00Z"})
    assert load_orders(store).amount.tolist() == [6.0]
    store.db["orders"].update(2, {"cancelled_at": None})
    store.db["orders"].delete(1)  # delete: trigger
    assert load_orders(store).amount.tolist() == [5.0]
    assert store.orders_fingerprint() != fingerprint


def test_an_update_that_changes_nothing_keeps_the_cache(orders):
    store = orders.store
    orders.add("a@example.com", "2024-03-01", 10)
    load_orders(store)
    before = store.orders_fingerprint()
    store.db["orders"].update(1, {"total_minor": 1000, "financial_status": "paid"})
    assert store.orders_fingerprint() == before


# --- oracle: the definitions written plainly, on random shops ------------------------------


def _plain_metrics(rows, period: Period) -> dict:
    """The definitions of retain explain, one customer at a time (slow and obvious)."""
    lo, hi = period.start, period.end
    lookback = max(timedelta(days=365), hi - lo)
    rows = [r for r in rows if r[1] <= hi]
    by: dict[int, list] = {}
    for ref, when, amount in sorted(rows):
        by.setdefault(ref, []).append((when, amount))
    in_period = [r for r in rows if r[1] > lo]
    active = {r[0] for r in in_period}
    new = {c for c, os in by.items() if os[0][0] > lo}
    start = {c for c, os in by.items() if any(lo - lookback < w <= lo for w, _ in os)}
    end = {c for c, os in by.items() if any(hi - lookback < w <= hi for w, _ in os)}
    revenue = sum(a for _, _, a in in_period)
    returning_revenue = sum(a for c, _, a in in_period if c not in new)
    days = {c: len({w.date() for w, _ in os}) for c, os in by.items()}
    gaps, seconds = [], []
    for os in by.values():
        steps = [(b - a).days for a, b in itertools.pairwise(sorted({w.date() for w, _ in os}))]
        gaps += steps
        seconds += steps[:1]

    def ratio(a, b, digits=4):
        return round(a / b, digits) if b else None

    return {
        "customers": len(by),
        "active_customers": len(active),
        "new_customers": len(new),
        "returning_customers": len(active - new),
        "returning_customer_rate": ratio(sum(days[c] >= 2 for c in active), len(active)),
        "orders": len(in_period),
        "revenue": round(revenue, 2),
        "returning_revenue_share": ratio(returning_revenue, revenue),
        "average_order_value": ratio(revenue, len(in_period), 2),
        "purchase_frequency": ratio(len(in_period), len(active), 3),
        "repeat_purchase_rate": ratio(sum(n >= 2 for n in days.values()), len(by)),
        "customer_base_start": len(start),
        "customer_base_end": len(end),
        "retention_rate": ratio(len(start & end), len(start)),
        "churn_rate": ratio(len(start - end), len(start)),
        "reactivated_customers": len(active - new - start),
        "historic_clv": ratio(sum(a for os in by.values() for _, a in os), len(by), 2),
        "median_days_between_orders": round(statistics.median(gaps), 1) if gaps else None,
        "median_days_to_second_order": round(statistics.median(seconds), 1) if seconds else None,
    }


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", ["30d", "90d", "month", "quarter", "year"])
def test_metrics_agree_with_the_plain_definitions(seed, kind):
    rng = random.Random(seed)
    base = at("2023-01-01T00:00:00")
    rows = []
    for _ in range(rng.randint(0, 400)):
        rows.append(
            (
                rng.randint(1, 60),
                base + timedelta(seconds=rng.randint(0, 800 * 86400)),
                round(rng.uniform(0, 200), 2) * rng.choice([1, 1, 1, 0]),
            )
        )
    orders = OrderArrays.from_rows(rows)
    as_of = base + timedelta(days=rng.randint(100, 820), seconds=rng.randint(0, 86399))
    for period in (period_for(as_of, kind), previous_period(period_for(as_of, kind), kind)):
        got = compute_metrics(orders, period)
        want = _plain_metrics(rows, period)
        for name in METRIC_NAMES:
            assert got[name] == pytest.approx(want[name], abs=0.011), (name, seed, kind)


# --- cohorts --------------------------------------------------------------------------------


def test_cohorts_by_month_share_and_revenue():
    rows = [
        (1, at("2025-01-05T10:00:00"), 10.0),
        (1, at("2025-01-20T10:00:00"), 5.0),  # same month twice: counted once
        (1, at("2025-03-02T10:00:00"), 7.0),
        (2, at("2025-01-31T23:00:00"), 20.0),
        (2, at("2025-02-01T01:00:00"), 1.0),
        (3, at("2025-02-14T10:00:00"), 30.0),
        (3, at("2025-04-01T10:00:00"), 99.0),  # after as-of
    ]
    orders = OrderArrays.from_rows(rows)
    table = compute_cohorts(orders, parse_as_of("2025-03-31"), "month", "customers")
    assert table.columns == ["cohort", "size", "0", "1", "2", "incomplete_from"]
    done = None  # as-of is the last second of March: every period is over
    assert table.rows == [
        {"cohort": "2025-01", "size": 2, "0": 1.0, "1": 0.5, "2": 0.5, "incomplete_from": done},
        {"cohort": "2025-02", "size": 1, "0": 1.0, "1": 0.0, "2": None, "incomplete_from": done},
    ]
    assert table.current is None
    revenue = compute_cohorts(orders, parse_as_of("2025-03-31"), "month", "revenue")
    assert revenue.rows == [
        {"cohort": "2025-01", "size": 2, "0": 35.0, "1": 1.0, "2": 7.0, "incomplete_from": done},
        {"cohort": "2025-02", "size": 1, "0": 30.0, "1": 0.0, "2": None, "incomplete_from": done},
    ]
    # in the middle of March, March is counted so far: each row names its March cell
    mid = compute_cohorts(orders, parse_as_of("2025-03-15"), "month", "customers")
    assert mid.current == "2025-03"
    assert [(r["cohort"], r["incomplete_from"]) for r in mid.rows] == [
        ("2025-01", 2),
        ("2025-02", 1),
    ]


def test_cohorts_by_week_and_quarter_labels():
    rows = [
        (1, at("2024-12-30T10:00:00"), 1.0),  # Monday of ISO week 2025-W01
        (1, at("2025-01-06T10:00:00"), 1.0),  # 2025-W02
        (2, at("2025-01-05T10:00:00"), 1.0),  # Sunday: still 2025-W01
    ]
    orders = OrderArrays.from_rows(rows)
    weeks = compute_cohorts(orders, parse_as_of("2025-01-07"), "week")
    assert weeks.rows == [
        {"cohort": "2025-W01", "size": 2, "0": 1.0, "1": 0.5, "incomplete_from": 1}
    ]
    sunday = compute_cohorts(orders, parse_as_of("2025-01-12"), "week")
    assert sunday.current is None and sunday.rows[0]["incomplete_from"] is None
    quarters = compute_cohorts(orders, parse_as_of("2025-01-07"), "quarter")
    assert [r["cohort"] for r in quarters.rows] == ["2024-Q4", "2025-Q1"]
    assert quarters.rows[0] == {
        "cohort": "2024-Q4",
        "size": 1,
        "0": 1.0,
        "1": 1.0,
        "incomplete_from": 1,
    }


def test_cohorts_reject_unknown_units():
    orders = OrderArrays.from_rows([])
    with pytest.raises(UsageError, match="--by 'day' is not one of month, quarter, week"):
        compute_cohorts(orders, parse_as_of("2025-01-07"), "day")
    assert compute_cohorts(orders, parse_as_of("2025-01-07")).rows == []


def test_new_orders_are_merged_into_the_packed_copy(orders):
    store = orders.store
    orders.add("a@example.com", "2024-03-05", 10)
    orders.add("b@example.com", "2024-03-01", 20)
    assert load_orders(store).customer.tolist() == [1, 2]
    orders.add("a@example.com", "2024-03-02", 5)  # earlier than a's first: order is kept
    orders.add("y@example.com", "2024-03-03", 700, currency="JPY")  # stored as 70000 minor
    merged = load_orders(store)
    assert merged.customer.tolist() == [1, 1, 2, 3]
    assert merged.amount.tolist() == [5.0, 10.0, 20.0, 70000.0]
    assert merged.currencies == ("EUR", "JPY")
    store.clear_cached_blobs()
    rebuilt = load_orders(store)
    assert rebuilt.amount.tolist() == merged.amount.tolist()
    assert rebuilt.t.tolist() == merged.t.tolist()


def test_orders_without_currency_count_in_cents(orders):
    orders.add("a@example.com", "2024-03-01", 12.5, currency=None)
    orders.add("b@example.com", "2024-03-02", 1.25, currency="kwd")  # 3 decimals: 12.5 stored
    packed = load_orders(orders.store)
    assert packed.amount.tolist() == [12.5, 0.125]
    assert packed.currencies == ("KWD",)


def test_an_import_packs_its_orders_as_the_database_would(store, tmp_path, monkeypatch):
    """The first import of a platform's orders packs them from memory (countable_orders);
    the result must be what reading order_facts back gives: cancelled and fully refunded
    orders out, refunds subtracted, each currency scaled by its own minor units."""
    from retain_cli.analytics.order_arrays import _read_orders
    from retain_cli.imports import ImportOptions, import_file

    rows = [
        "order_id,email,date,amount,currency,refunded,cancelled at",
        "1,a@example.com,2024-03-01 10:00:00,10.00,EUR,,",
        "2,a@example.com,2024-03-05 10:00:00,20.00,EUR,5.00,",
        "3,b@example.com,2024-03-02T09:30:00+02:00,1200,JPY,,",
        "4,b@example.com,2024-03-03,7.50,eur,9.00,",  # refunded in full (and more): out
        "5,c@example.com,2024-03-04,30.00,USD,,2024-03-05",  # cancelled
        "6,c@example.com,2024-02-04,3.25,,,",  # no currency: the import's (EUR)
    ]
    export = tmp_path / "orders.csv"
    export.write_text("\n".join(rows) + "\n")
    assert store.cached_blob(ORDERS_CACHE) is None

    def not_read_back(*_args):
        raise AssertionError("the import read its orders back from SQLite")

    monkeypatch.setattr("retain_cli.analytics.order_arrays._read_orders", not_read_back)
    result = import_file(store, export, "orders", ImportOptions(currency="EUR"))
    monkeypatch.undo()
    assert result.inserted == 6
    fingerprint, data = store.cached_blob(ORDERS_CACHE)
    assert fingerprint == store.orders_fingerprint()
    packed, read = OrderArrays.unpack(data), _read_orders(store, 0)
    assert packed.currencies == read.currencies == ("EUR", "JPY", "USD")
    assert packed.customer.tolist() == read.customer.tolist()
    assert packed.t.tolist() == read.t.tolist()
    assert packed.amount.tolist() == read.amount.tolist() == [10.0, 20.0 - 5.0, 1200.0, 3.25]


def test_a_one_currency_import_packs_the_very_floats_the_database_gives(store, tmp_path):
    from retain_cli.analytics.order_arrays import _read_orders
    from retain_cli.imports import ImportOptions, import_file

    rows = ["order_id,email,date,amount,refunded"]
    rows += [
        f"{i},c{i % 7}@example.com,2024-03-{1 + i % 28:02d},{i * 1.37:.2f},0.1" for i in range(300)
    ]
    export = tmp_path / "orders.csv"
    export.write_text("\n".join(rows) + "\n")
    import_file(store, export, "orders", ImportOptions(currency="USD"))
    packed = OrderArrays.unpack(store.cached_blob(ORDERS_CACHE)[1])
    read = _read_orders(store, 0)
    assert packed.amount.tobytes() == read.amount.tobytes()
    assert packed.t.tobytes() == read.t.tobytes()


def test_a_first_line_item_import_packs_its_orders_as_the_database_would(store, monkeypatch):
    """Shopify's layout (one row per line item) takes its own first-import path."""
    from pathlib import Path

    from retain_cli.analytics.order_arrays import _read_orders
    from retain_cli.imports import import_file

    export = Path(__file__).parents[1] / "imports" / "data" / "shopify_orders_multi.csv"

    def not_read_back(*_args):
        raise AssertionError("the import read its orders back from SQLite")

    monkeypatch.setattr("retain_cli.analytics.order_arrays._read_orders", not_read_back)
    result = import_file(store, export, "orders")
    monkeypatch.undo()
    assert result.inserted >= 2
    assert store.count_orders() == result.inserted
    (items,) = store.conn.execute("SELECT count(*) FROM order_items").fetchone()
    assert items > result.inserted  # several lines per order, all written
    fingerprint, data = store.cached_blob(ORDERS_CACHE)
    assert fingerprint == store.orders_fingerprint()
    packed, read = OrderArrays.unpack(data), _read_orders(store, 0)
    assert packed.currencies == read.currencies
    for name in ("customer", "t", "amount"):
        assert getattr(packed, name).tobytes() == getattr(read, name).tobytes()
