"""The import library: API used by other modules, atomicity, progress, date reading."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retain_cli.errors import ImportFileError, UsageError
from retain_cli.importer import ImportOptions, ImportResult, _Dates, import_file
from retain_cli.store import Store

FORMATS = Path(__file__).parent / "data" / "import"


def count(store: Store, table: str) -> int:
    return store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_import_file_returns_a_result(store):
    result = import_file(store, FORMATS / "generic_orders.csv", "orders")
    assert result == ImportResult(
        kind="orders",
        source="generic_orders",
        file=FORMATS / "generic_orders.csv",
        rows=1,
        inserted=1,
        updated=0,
        unchanged=0,
        rejected=0,
        customers_created=1,
        rejects_file=None,
        dry_run=False,
        skipped=0,
    )
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_interrupted_import_leaves_the_database_as_it_was(store, tmp_path):
    import_file(store, FORMATS / "generic_orders.csv", "orders")
    big = tmp_path / "big.csv"
    lines = [f"B{i},c{i % 50}@x.com,2025-01-{1 + i % 28:02d},{i}.00" for i in range(120_000)]
    big.write_text("order_id,email,date,amount\n" + "\n".join(lines) + "\n")
    calls = []

    def interrupt(done: int, total: int) -> None:
        calls.append(done)
        if done >= 50_000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_file(store, big, "orders", progress=interrupt)
    assert calls[0] == 0
    assert (count(store, "orders"), count(store, "customers"), count(store, "imports")) == (1, 1, 1)
    names = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"orders_customer", "orders_ordered_at"} <= names
    # and the same file then imports completely, with its indexes rebuilt
    result = import_file(store, big, "orders")
    assert (result.inserted, count(store, "customers")) == (120_000, 51)
    plan = store.conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM orders WHERE ordered_at > '2025'"
    ).fetchall()
    assert "orders_ordered_at" in str(plan)


def test_dry_run_on_the_library(store):
    result = import_file(
        store, FORMATS / "shopify_orders.csv", "orders", ImportOptions(dry_run=True)
    )
    assert (result.inserted, result.customers_created, result.dry_run) == (1, 1, True)
    assert count(store, "orders") == count(store, "customers") == count(store, "imports") == 0


def test_usage_errors(store):
    with pytest.raises(UsageError, match="unknown import kind 'products'"):
        import_file(store, FORMATS / "generic_orders.csv", "products")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="--source shopify_customers is a layout for customers"):
        import_file(
            store,
            FORMATS / "generic_orders.csv",
            "orders",
            ImportOptions(source="shopify_customers"),
        )
    with pytest.raises(UsageError, match="unknown --encoding 'klingon'"):
        import_file(
            store, FORMATS / "generic_orders.csv", "orders", ImportOptions(encoding="klingon")
        )
    with pytest.raises(ImportFileError, match="is a folder"):
        import_file(store, FORMATS, "orders")


def test_forced_source_and_mapping_for_a_renamed_export(store, tmp_path):
    renamed = tmp_path / "x.csv"
    renamed.write_text("Mail,Vorname\nkim@x.com,Kim\n")
    result = import_file(
        store,
        renamed,
        "customers",
        ImportOptions(
            source="generic_customers", mapping={"email": "Mail", "first_name": "Vorname"}
        ),
    )
    assert result.inserted == 1
    assert store.conn.execute("SELECT email, first_name FROM customers").fetchall() == [
        ("kim@x.com", "Kim")
    ]


def test_suppress_is_idempotent_and_case_blind(store):
    assert store.suppress(" Ann@X.com ", "asked", "cli") is True
    assert store.suppress("ann@x.com", "again", "bounce") is False
    assert store.is_suppressed("ANN@x.com")
    assert not store.is_suppressed("bob@x.com")
    assert store.conn.execute("SELECT email, reason, source FROM suppressions").fetchall() == [
        ("ann@x.com", "asked", "cli")
    ]


@pytest.mark.parametrize(
    "text,dayfirst,expected",
    [
        ("2025-10-07 09:50:26 +0200", None, "2025-10-07T07:50:26Z"),
        ("2025-10-07T09:50:26+02:00", None, "2025-10-07T07:50:26Z"),
        ("2025-10-07T09:50:26Z", None, "2025-10-07T09:50:26Z"),
        ("2025-10-07 09:50:26 UTC", None, "2025-10-07T09:50:26Z"),
        ("2025-10-07", None, "2025-10-07T00:00:00Z"),
        ("2025-10-07 23:30:00 -0500", None, "2025-10-08T04:30:00Z"),
        ("07/10/2025", True, "2025-10-07T00:00:00Z"),
        ("10/07/2025", False, "2025-10-07T00:00:00Z"),
        ("7.10.2025 14:05", True, "2025-10-07T14:05:00Z"),
        ("10/7/25 2:05 PM", False, "2025-10-07T14:05:00Z"),
        ("25/12/2025", None, "2025-12-25T00:00:00Z"),
    ],
)
def test_dates(text, dayfirst, expected):
    dates = _Dates(ImportOptions())
    dates.dayfirst = dayfirst
    assert dates.parse(text) == expected


def test_strptime_date_format():
    dates = _Dates(ImportOptions(date_format="%d %b %Y", timezone="America/New_York"))
    assert dates.parse("07 Oct 2025") == "2025-10-07T04:00:00Z"
    with pytest.raises(ValueError, match="cannot read date 'Oct 7th'"):
        dates.parse("Oct 7th")
    with pytest.raises(UsageError, match="--date-format 'whenever' not understood"):
        _Dates(ImportOptions(date_format="whenever"))


@given(st.datetimes(min_value=__import__("datetime").datetime(1971, 1, 1)))
def test_iso_timestamps_read_back_exactly(moment):
    moment = moment.replace(microsecond=0)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    assert _Dates(ImportOptions()).parse(text) == moment.strftime("%Y-%m-%dT%H:%M:%SZ")
