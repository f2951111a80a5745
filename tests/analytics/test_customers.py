"""The customers library: list, find, profile and status over a real database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from retain_cli.analytics.customers import (
    SORT_KEYS,
    customer_profile,
    find_customer,
    list_customers,
    minor_digits,
    status,
    to_major,
)
from retain_cli.errors import NotFound, UsageError
from retain_cli.store import Store

ORDERS = """order_id,email,date,amount,currency
A1,ann@example.com,2025-01-10,10.00,EUR
A2,ann@example.com,2025-03-01,15.50,EUR
B1,bob@example.com,2025-02-01,99.99,EUR
C1,cat@example.com,2025-02-03,5.00,EUR
C2,cat@example.com,2025-02-04,5.00,EUR
C3,cat@example.com,2025-02-05,5.00,EUR
Y1,yen@example.com,2025-02-06,1200,JPY
"""


@pytest.fixture
def filled(store: Store, tmp_path: Path) -> Store:
    from retain_cli.imports import ImportOptions, import_file

    path = tmp_path / "orders.csv"
    path.write_text(ORDERS)
    result = import_file(store, path, "orders", ImportOptions(source="generic_orders"))
    assert (result.inserted, result.rejected) == (7, 0)
    return store


def test_minor_units_per_currency():
    assert (minor_digits("EUR"), minor_digits("jpy"), minor_digits("KWD")) == (2, 0, 3)
    assert minor_digits(None) == 2
    assert to_major(1295, "EUR") == 12.95
    assert to_major(1200, "JPY") == 1200
    assert to_major(1234, "KWD") == 1.234
    assert to_major(None, "EUR") == 0


def test_list_sorted_by_net_spend_with_stable_ties(filled):
    rows = list_customers(filled)
    assert [(r["email"], r["orders"], r["total_spent"]) for r in rows] == [
        ("yen@example.com", 1, 1200),  # 1,200 JPY: amounts are not converted between currencies
        ("bob@example.com", 1, 99.99),
        ("ann@example.com", 2, 25.5),
        ("cat@example.com", 3, 15.0),
    ]
    assert rows[0]["customer_id"] == "yen@example.com"
    assert [r["email"] for r in list_customers(filled, sort="orders")][:2] == [
        "cat@example.com",
        "ann@example.com",
    ]
    assert [r["email"] for r in list_customers(filled, sort="last_order", limit=1)] == [
        "ann@example.com"
    ]


def test_list_keeps_only_given_refs(filled):
    everyone = list_customers(filled)
    wanted = {everyone[1]["ref"], everyone[3]["ref"]}
    rows = list_customers(filled, refs=wanted)
    assert [r["email"] for r in rows] == ["bob@example.com", "cat@example.com"]
    assert list_customers(filled, refs=set()) == []


def test_list_as_of_counts_only_earlier_orders(filled):
    as_of = datetime(2025, 2, 4, 23, 59, 59, tzinfo=UTC)
    rows = {r["email"]: r for r in list_customers(filled, as_of=as_of)}
    assert (rows["cat@example.com"]["orders"], rows["cat@example.com"]["total_spent"]) == (2, 10.0)
    assert rows["ann@example.com"]["orders"] == 1
    # yen's first order came later: at that as-of yen was no customer (not even a prospect)
    assert "yen@example.com" not in rows
    assert len(list_customers(filled)) == len(rows) + 1


def test_list_rejects_unknown_sort_and_negative_limit(store):
    with pytest.raises(UsageError, match="cannot sort by 'height'; use one of: total_spent"):
        list_customers(store, sort="height")
    with pytest.raises(UsageError, match="--limit must be 0 or more"):
        list_customers(store, limit=-1)
    assert "customer_id" in SORT_KEYS


def test_find_customer(filled):
    ref = find_customer(filled, "ANN@example.com ")
    assert customer_profile(filled, "ann@example.com").ref == ref
    with pytest.raises(NotFound, match=r"did you mean ann@example.com\?"):
        find_customer(filled, "anne@example.com")
    with pytest.raises(UsageError, match="give an e-mail address or a customer id"):
        find_customer(filled, "  ")


def test_profile_of_an_order_only_customer(filled):
    profile = customer_profile(filled, "cat@example.com")
    assert (profile.orders, profile.total_spent, profile.currency) == (3, 15.0, "EUR")
    assert [o["order_id"] for o in profile.history] == ["C1", "C2", "C3"]
    assert profile.history[0]["items"] == ""
    assert profile.accepts_marketing is None and profile.can_email is False
    summary = profile.summary()
    assert summary["accepts_marketing"] == "unknown"
    assert summary["suppressed"] == "no"


def test_status_keeps_currencies_apart(filled):
    report = status(filled)
    assert report.summary["currency"] == "EUR"
    assert report.summary["revenue"] == 140.49
    assert report.summary["revenue_JPY"] == 1200
    assert report.summary["orders"] == 7
    assert [i["kind"] for i in report.imports] == ["orders"]


def test_status_of_an_empty_database(store):
    report = status(store)
    assert report.summary["customers"] == 0
    assert report.summary["revenue"] == 0.0
    assert report.summary["currency"] == "unknown (set it: retain config set currency CODE)"
    assert report.summary["first_order_at"] is None
    assert report.imports == []
