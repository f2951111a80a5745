"""The import library: API used by other modules, atomicity, progress, date reading."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retain_cli.errors import ImportFileError, UsageError
from retain_cli.imports import ImportOptions, ImportResult, import_file
from retain_cli.imports.dates import Dates as _Dates
from retain_cli.money import parse_amount
from retain_cli.store import Store

FORMATS = Path(__file__).parent / "data"
#: the generic files name no currency: these tests' shop is in US dollars
USD = ImportOptions(currency="USD")


def count(store: Store, table: str) -> int:
    return store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_import_file_returns_a_result(store):
    result = import_file(store, FORMATS / "generic_orders.csv", "orders", USD)
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
    import_file(store, FORMATS / "generic_orders.csv", "orders", USD)
    big = tmp_path / "big.csv"
    lines = [f"B{i},c{i % 50}@x.com,2025-01-{1 + i % 28:02d},{i}.00" for i in range(120_000)]
    big.write_text("order_id,email,date,amount\n" + "\n".join(lines) + "\n")
    calls = []

    def interrupt(done: int, total: int) -> None:
        calls.append(done)
        if done >= 50_000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_file(store, big, "orders", USD, progress=interrupt)
    assert calls[0] == 0
    assert (count(store, "orders"), count(store, "customers"), count(store, "imports")) == (1, 1, 1)
    names = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "orders_customer" in names
    # and the same file then imports completely, with its indexes rebuilt
    result = import_file(store, big, "orders", USD)
    assert (result.inserted, count(store, "customers")) == (120_000, 51)
    plan = store.conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM orders WHERE customer_ref = 3"
    ).fetchall()
    assert "orders_customer" in str(plan)


def test_killed_first_bulk_import_leaves_an_empty_database(db_path, tmp_path):
    """Into a new database that holds nothing (private: built under a temporary name, see
    retain_cli.imports.database), a bulk import uses a rollback journal and commits without
    waiting for the disk; killed, it is still undone by its journal."""
    import signal
    import subprocess
    import sys

    Store.open(db_path).close()
    before = state(db_path)
    big = big_orders(tmp_path / "big.csv")
    child = subprocess.run(
        [sys.executable, "-c", KILLED_IMPORT, str(db_path), str(big), "private"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout == "delete 0\n"
    assert db_path.with_name(db_path.name + "-journal").exists()
    assert state(db_path) == before == ("wal", "ok", None, None, 0, before[5])
    with Store.open(db_path) as opened:
        assert import_file(opened, big, "orders", USD).inserted == 60_000
        assert opened.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again


def big_orders(path: Path, rows: int = 60_000) -> Path:
    lines = [f"K{i},k{i % 70}@x.com,2025-02-{1 + i % 28:02d},{i}.00" for i in range(rows)]
    path.write_text("order_id,email,date,amount\n" + "\n".join(lines) + "\n")
    return path


#: imports FILE into DB in a child process that SIGKILLs itself once 50,000 orders are written
KILLED_IMPORT = r"""
import os, signal, sys
from pathlib import Path
from retain_cli.imports import ImportOptions, import_file
from retain_cli.store import Store

store = Store.open(sys.argv[1])
store.private = sys.argv[3:] == ["private"]

def progress(done, total):
    if done >= 50_000:
        mode = store.conn.execute("PRAGMA journal_mode").fetchone()[0]
        sync = store.conn.execute("PRAGMA synchronous").fetchone()[0]
        print(mode, sync, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

import_file(store, Path(sys.argv[2]), "orders", ImportOptions(currency="USD"), progress=progress)
print("not killed", flush=True)
"""


def state(db_path: Path) -> tuple[object, ...]:
    with Store.open(db_path) as opened:
        conn = opened.conn
        return (
            conn.execute("PRAGMA journal_mode").fetchone()[0],
            conn.execute("PRAGMA integrity_check").fetchone()[0],
            conn.execute("SELECT group_concat(order_key) FROM orders").fetchone()[0],
            conn.execute("SELECT group_concat(email) FROM customers").fetchone()[0],
            count(opened, "imports"),
            sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master")),
        )


def test_killed_bulk_import_into_a_shared_database_is_rolled_back(db_path, tmp_path):
    import signal
    import subprocess
    import sys

    with Store.open(db_path) as opened:
        import_file(opened, FORMATS / "generic_orders.csv", "orders", USD)
    before = state(db_path)
    assert before[:2] == ("wal", "ok")
    big = big_orders(tmp_path / "big.csv")
    child = subprocess.run(
        [sys.executable, "-c", KILLED_IMPORT, str(db_path), str(big)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    # a database other commands may open stays in WAL (in a rollback journal, a command
    # opening it meanwhile would fail at once), so the uncommitted import is simply not there;
    # its commits are durable (synchronous FULL)
    assert child.stdout == "wal 2\n"
    journal = db_path.with_name(db_path.name + "-journal")
    assert state(db_path) == before
    assert not journal.exists()
    with Store.open(db_path) as opened:
        assert import_file(opened, big, "orders", USD).inserted == 60_000
        assert opened.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert count(opened, "orders") == 60_001


def test_bulk_import_stays_in_wal_while_another_connection_is_open(db_path, tmp_path):
    big = big_orders(tmp_path / "big.csv")
    with Store.open(db_path) as reader, Store.open(db_path) as opened:
        assert import_file(opened, big, "orders", USD).inserted == 60_000
        # the reader was never locked out: WAL all along
        assert count(reader, "orders") == 60_000
        assert opened.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert not db_path.with_name(db_path.name + "-journal").exists()


def test_bulk_import_returns_the_database_to_wal(store, tmp_path):
    result = import_file(store, big_orders(tmp_path / "big.csv"), "orders", USD)
    assert (result.inserted, result.customers_created) == (60_000, 70)
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


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
        import_file(store, FORMATS, "orders", USD)


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


@given(
    st.lists(
        st.one_of(
            st.from_regex(
                r"\A ?(MAILTO:|mailto:)?[a-zA-Z0-9.+_'-]{0,6}@[a-zA-Z0-9.-]{0,6}\.?[a-z]{0,3} ?\Z"
            ),
            st.text(alphabet=st.characters(max_codepoint=0x2030), max_size=12),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_emails_read_column_wise_as_one_by_one(texts):
    import pyarrow as pa

    from retain_cli.imports.values import parse_email as _email
    from retain_cli.imports.values import plain_emails as _plain_emails

    def one(text: str) -> str | None:
        try:
            return _email(text)
        except ValueError:
            return None

    for text, fast in zip(texts, _plain_emails(pa.array(texts)).to_pylist(), strict=True):
        assert fast is None or fast == one(text)
        if text.isascii() and text.isprintable() and " " not in text and text:
            assert fast == one(text)  # the common values are never left to Python


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[-(]?[0-9]{0,6}([.,][0-9]{0,4})?[)]?", fullmatch=True),
            st.sampled_from([None, "", "USD", "EUR", "JPY", "KWD", "XYZ", "usd"]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_column_wise_amounts_agree_with_parse_amount(pairs):
    """The fast path for plain amounts gives what parse_amount gives, or leaves it to it."""
    import pyarrow as pa

    from retain_cli.imports.values import plain_amounts as _plain_amounts

    keys = [text if code is None else f"{text}\x1f{code}" for text, code in pairs]
    for (text, code), fast in zip(pairs, _plain_amounts(pa.array(keys)).to_pylist(), strict=True):
        if fast is not None:
            assert fast == parse_amount(text, code or None)


@pytest.mark.parametrize(
    ("ids", "distinct"),
    [
        (["A1", "A2", "A3"], True),
        (["A3", "A2", "A1"], True),
        (["A1", "A1", "A2"], False),
        (["A2", "A1", "A2"], False),
        (["9", "10", "11"], True),  # in order by length, then text
        (["B9", "B10", "B2"], True),  # in no order: counted
        (["B9", "B10", "B9"], False),
        (["9", "10", "9"], False),
        (["A1"], True),
        ([], True),
    ],
)
def test_order_ids_are_checked_for_repeats(ids, distinct):
    import pyarrow as pa

    from retain_cli.imports.orders import _all_distinct

    assert _all_distinct(pa.array(ids, pa.string())) is distinct


def _date_texts():
    two = st.integers(0, 35).map(lambda n: f"{n:02d}" if n % 3 else str(n))
    year = st.integers(0, 9999).map(lambda n: f"{n:04d}")
    time = st.one_of(
        st.just(""),
        st.tuples(
            st.sampled_from(["T", " ", "t", ", "]),
            st.integers(0, 25).map(str),
            st.integers(0, 61).map(lambda n: f"{n:02d}"),
            st.one_of(st.just(""), st.integers(0, 61).map(lambda n: f":{n:02d}")),
            st.sampled_from(["", ".123", ",5"]),
            st.sampled_from(["", " AM", "pm", " PM"]),
        ).map("".join),
    )
    offset = st.sampled_from(
        ["", "Z", " UTC", "gmt", "+02:00", " -05:30", "-0530", "+01", " +0200", "-23:59", "+24:00"]
    )
    iso = st.tuples(year, st.sampled_from("-/."), two, st.sampled_from("-/."), two)
    dmy = st.tuples(two, st.sampled_from("/.-"), two, st.sampled_from("/.-"), st.one_of(year, two))
    return st.tuples(st.one_of(iso, dmy).map("".join), time, offset).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_date_texts(), min_size=1, max_size=20),
    st.sampled_from([None, "DD/MM/YYYY", "MM/DD/YYYY", "%d.%m.%Y %H:%M"]),
    st.sampled_from(["UTC", "Europe/Berlin"]),
)
def test_column_wise_dates_agree_with_parse(texts, date_format, timezone):
    """The fast path for dates gives what parse gives, or leaves the value to it."""
    import pyarrow as pa

    dates = _Dates(ImportOptions(date_format=date_format, timezone=timezone))
    for text, fast in zip(texts, dates.parse_many(pa.array(texts)).to_pylist(), strict=True):
        if fast is None:
            continue
        assert fast == dates.parse(text.strip()), text


def test_column_wise_dates_cover_the_usual_shapes():
    import pyarrow as pa

    texts = ["2025-10-07 09:50:26 +0200", "2025-10-07T07:50:26Z", "2025-10-07", "13/01/2025"]
    got = _Dates(ImportOptions()).parse_many(pa.array(texts)).to_pylist()
    assert got == [
        "2025-10-07T07:50:26Z",
        "2025-10-07T07:50:26Z",
        "2025-10-07T00:00:00Z",
        "2025-01-13T00:00:00Z",
    ]
    berlin = _Dates(ImportOptions(timezone="Europe/Berlin"))
    assert berlin.parse_many(pa.array(["2025-10-07 09:50", "2025-10-07 09:50Z"])).to_pylist() == [
        None,  # a local time in Berlin: left to parse()
        "2025-10-07T09:50:00Z",
    ]


def test_only_day_month_dates_are_sampled_for_their_order():
    import pyarrow as pa

    from retain_cli.imports.dates import day_month_samples as _day_month_samples

    values = ["2025-01-01", "03/04/2025", "05/04/2025", "", "03/04/2026", "13/01/2025 10:00"]
    values += ["03.04.2027", "\u0663/\u0664/2025"]
    assert _day_month_samples(pa.array(values)) == [
        "03/04/2025",
        "05/04/2025",
        "13/01/2025 10:00",
        "\u0663/\u0664/2025",
    ]


def test_column_wise_dates_of_one_fixed_shape():
    import pyarrow as pa

    dates = _Dates(ImportOptions())
    texts = ["2025-10-07 09:50:26 +0200", "2024-02-29T23:59:59Z", "2025-02-29", "2025-10-07"]
    got = dates.parse_many(pa.array(texts)).to_pylist()
    assert got == ["2025-10-07T07:50:26Z", "2024-02-29T23:59:59Z", None, "2025-10-07T00:00:00Z"]
    assert [dates.parse(t) for t in texts if t != "2025-02-29"] == [g for g in got if g]


def test_a_date_out_of_range_is_a_rejected_value_not_a_crash(cli, tmp_path):
    source = tmp_path / "o.csv"
    source.write_text(
        "order_id,email,date,amount\n1,a@x.com,9999-12-31 23:00 -0500,5\n2,a@x.com,2025-01-01,5\n"
    )
    result = cli("import", "orders", "--currency", "USD", str(source))
    assert result.exit_code == 3, result.output
    rejects = (tmp_path / "o.csv.rejects.csv").read_text()
    assert "date: '9999-12-31 23:00 -0500' is out of the range of dates" in rejects
