"""``retain import``: every layout through the CLI, idempotency, bad input, exit codes."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest

FORMATS = Path(__file__).parent / "data"


def rows(db: Path, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def summary(result) -> dict:
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    "kind,name,layout,inserted",
    [
        ("customers", "shopify_customers.csv", "shopify_customers", 1),
        ("customers", "shopify_customers_legacy.csv", "shopify_customers_legacy", 1),
        ("customers", "square_customers.csv", "square_customers", 1),
        ("customers", "woocommerce_customers.csv", "woocommerce_customers", 1),
        ("orders", "shopify_orders.csv", "shopify_orders", 1),
        ("orders", "stripe_payments.csv", "stripe_payments", 1),
        ("orders", "generic_orders.csv", "generic_orders", 1),
    ],
)
def test_each_layout_is_detected_and_reimport_changes_nothing(
    cli, db_path, kind, name, layout, inserted
):
    assert cli("config", "set", "currency", "USD").exit_code == 0  # generic files name none
    first = cli("import", kind, str(FORMATS / name), "--format", "json")
    assert first.exit_code == 0, first.output
    assert summary(first)["source"] == layout
    assert summary(first)["inserted"] == inserted
    again = cli("import", kind, str(FORMATS / name), "--format", "json")
    assert again.exit_code == 0
    got = summary(again)
    assert (got["inserted"], got["updated"], got["unchanged"]) == (0, 0, inserted)
    history = rows(db_path, "SELECT kind, source, file_name, inserted, unchanged FROM imports")
    assert history == [(kind, layout, name, inserted, 0), (kind, layout, name, 0, inserted)]


def test_shopify_customer_values(cli, db_path):
    assert cli("import", "customers", str(FORMATS / "shopify_customers.csv")).exit_code == 0
    assert rows(
        db_path,
        "SELECT customer_id, email, first_name, last_name, zip, country, tags, "
        "accepts_marketing, source FROM customers",
    ) == [
        (
            "7283748237101",
            "ada@example.com",
            "Ada",
            "Lovelace",
            "N1 9GU",
            "GB",
            "vip, newsletter",
            1,
            "shopify_customers",
        )
    ]
    assert rows(db_path, "SELECT source, source_id FROM customer_sources") == [
        ("shopify", "7283748237101")
    ]


def test_shopify_orders_group_line_items_and_convert_dates(cli, db_path):
    assert cli("import", "customers", str(FORMATS / "shopify_customers.csv")).exit_code == 0
    result = cli(
        "import",
        "orders",
        "--currency",
        "USD",
        str(FORMATS / "shopify_orders.csv"),
        "--format",
        "json",
    )
    assert result.exit_code == 0
    assert summary(result)["customers_created"] == 0
    assert rows(
        db_path,
        "SELECT o.order_key, o.order_id, c.email, o.ordered_at, o.currency, o.subtotal_minor, "
        "o.discount_minor, o.total_minor, o.refunded_minor, o.financial_status, o.cancelled_at "
        "FROM orders o JOIN customers c ON c.id = o.customer_ref",
    ) == [
        (
            "shopify:#1001",
            "#1001",
            "ada@example.com",
            "2025-10-07T07:50:26Z",
            "EUR",
            5990,
            599,
            5391,
            0,
            "paid",
            None,
        )
    ]
    assert rows(db_path, "SELECT line_no, sku, name, quantity, price_minor FROM order_items") == [
        (1, "RYE-01", "Rye Sourdough Loaf", 2, 1295),
        (2, "CIN-04", "Cinnamon Buns (box of 4)", 1, 3400),
    ]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def db_snapshot(db: Path) -> dict[str, list[tuple]]:
    tables = ["customers", "orders", "order_items", "customer_sources", "suppressions", "imports"]
    return {t: rows(db, f"SELECT * FROM {t} ORDER BY 1") for t in tables}


BAD_ROWS = (
    "order_id,email,date,amount\n"
    "A1,a@x.com,2025-03-01,10.00\n"
    "A2,bad-email,2025-03-02,11.00\n"
    "A3,b@x.com,not a date,12.00\n"
    "\n"
    "A4,c@x.com,2025-03-04,12,50\n"
    "A5,c@x.com,2025-03-05,abc\n"
    "A6,,2025-03-06,5\n"
    "A1,a@x.com,2025-03-01,10.00\n"
    '"A7",D@X.com ,2025-03-07T10:00:00+02:00,"$1,204.00"\n'
)


def test_bad_rows_go_to_the_rejects_file_and_exit_3(cli, db_path, tmp_path):
    source = write(tmp_path / "orders.csv", BAD_ROWS)
    result = cli("import", "orders", "--currency", "USD", str(source), "--format", "json")
    assert result.exit_code == 3
    got = summary(result)
    assert (got["rows"], got["inserted"], got["rejected"]) == (8, 3, 5)
    assert got["orders_without_customer"] == 1  # A6: a sale nobody was attached to
    assert got["rejects_file"] == str(tmp_path / "orders.csv.rejects.csv")
    with open(tmp_path / "orders.csv.rejects.csv", newline="") as handle:
        rejects = list(csv.reader(handle))
    assert rejects[0] == ["order_id", "email", "date", "amount", "line", "reason"]
    assert [(r[0], r[4]) for r in rejects[1:]] == [
        ("A2", "3"),
        ("A3", "4"),
        ("A4", "6"),
        ("A5", "7"),
        ("A1", "9"),
    ]
    reasons = {r[0]: r[5] for r in rejects[1:]}
    assert reasons["A2"] == "email: invalid email 'bad-email'"
    assert reasons["A3"].startswith("date: cannot read date 'not a date'")
    assert reasons["A4"] == "expected 4 fields, found 5 (extra: '50')"
    assert reasons["A5"] == "amount: cannot read amount 'abc'"
    assert "appears more than once" in reasons["A1"]
    assert rows(
        db_path,
        "SELECT order_key, ordered_at, total_minor, customer_ref IS NULL FROM orders ORDER BY 1",
    ) == [
        ("generic:A1", "2025-03-01T00:00:00Z", 1000, 0),
        ("generic:A6", "2025-03-06T00:00:00Z", 500, 1),
        ("generic:A7", "2025-03-07T08:00:00Z", 120400, 0),
    ]
    assert rows(db_path, "SELECT email FROM customers ORDER BY 1") == [("a@x.com",), ("d@x.com",)]
    assert rows(db_path, "SELECT rows, inserted, rejected FROM imports") == [(8, 3, 5)]


def test_strict_fails_on_the_first_bad_row_and_writes_nothing(cli, db_path, tmp_path):
    source = write(tmp_path / "orders.csv", BAD_ROWS)
    assert (
        cli("import", "orders", "--currency", "USD", str(FORMATS / "generic_orders.csv")).exit_code
        == 0
    )
    before = db_snapshot(db_path)
    result = cli("import", "orders", "--currency", "USD", str(source), "--strict")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"Error: {source}: line 3, column 'email': invalid email 'bad-email'; "
        "nothing was imported (--strict)."
    )
    assert db_snapshot(db_path) == before
    assert not (tmp_path / "orders.csv.rejects.csv").exists()


def test_a_clean_reimport_removes_the_stale_rejects_file(cli, tmp_path):
    source = write(tmp_path / "o.csv", "order_id,email,date,amount\nA1,a@x.com,2025-01-01,x\n")
    assert cli("import", "orders", "--currency", "USD", str(source)).exit_code == 3
    assert (tmp_path / "o.csv.rejects.csv").exists()
    write(source, "order_id,email,date,amount\nA1,a@x.com,2025-01-01,1\n")
    assert cli("import", "orders", "--currency", "USD", str(source)).exit_code == 0
    assert not (tmp_path / "o.csv.rejects.csv").exists()


@pytest.mark.parametrize(
    "body,message",
    [
        (
            "B1,a@x.com,03/04/2025,1\nB2,a@x.com,05/06/2025,1\n",
            "column 'date' has dates like '03/04/2025' that can be read day-first or "
            "month-first, and no date in the file tells which; pass --date-format DD/MM/YYYY "
            "or --date-format MM/DD/YYYY",
        ),
        (
            "B1,a@x.com,13/04/2025,1\nB2,a@x.com,04/25/2025,1\n",
            "dates are written both day-first ('13/04/2025' in column 'date') and month-first "
            "('04/25/2025' in column 'date')",
        ),
    ],
)
def test_ambiguous_dates_fail_instead_of_guessing(cli, db_path, tmp_path, body, message):
    source = write(tmp_path / "o.csv", "order_id,email,date,amount\n" + body)
    result = cli("import", "orders", "--currency", "USD", str(source))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {source}: {message}")
    assert not db_path.exists()  # a failed first import leaves no database behind


def test_day_month_order_from_the_file_or_the_option(cli, db_path, tmp_path):
    proved = write(tmp_path / "a.csv", "order_id,email,date,amount\nC1,a@x.com,03/04/2025,1\n"
                   "C2,a@x.com,25/06/2025 14:30,1\n")  # fmt: skip
    assert cli("import", "orders", "--currency", "USD", str(proved)).exit_code == 0
    told = write(tmp_path / "b.csv", "order_id,email,date,amount\nC3,a@x.com,03/04/2025,1\n")
    assert (
        cli(
            "import", "orders", "--currency", "USD", str(told), "--date-format", "MM/DD/YYYY"
        ).exit_code
        == 0
    )
    assert rows(db_path, "SELECT order_id, ordered_at FROM orders ORDER BY 1") == [
        ("C1", "2025-04-03T00:00:00Z"),
        ("C2", "2025-06-25T14:30:00Z"),
        ("C3", "2025-03-04T00:00:00Z"),
    ]


def test_timezone_applies_to_timestamps_without_offset(cli, db_path, tmp_path):
    source = write(tmp_path / "o.csv", "order_id,email,date,amount\nT1,a@x.com,2025-07-01 10:00,1\n"
                   "T2,a@x.com,2025-07-01 10:00 +0000,1\n")  # fmt: skip
    assert (
        cli(
            "import", "orders", "--currency", "USD", str(source), "--timezone", "Europe/Berlin"
        ).exit_code
        == 0
    )
    assert rows(db_path, "SELECT order_id, ordered_at FROM orders ORDER BY 1") == [
        ("T1", "2025-07-01T08:00:00Z"),
        ("T2", "2025-07-01T10:00:00Z"),
    ]
    bad = cli("import", "orders", "--currency", "USD", str(source), "--timezone", "Mars/Olympus")
    assert bad.exit_code == 2
    assert "unknown --timezone 'Mars/Olympus'" in bad.stderr


def test_semicolon_and_tab_files_are_read_as_such(cli, db_path, tmp_path):
    source = write(
        tmp_path / "eu.csv", "order_id;email;date;amount\nE1;a@x.com;2025-01-01;1.204,50\n"
    )
    result = cli(
        "import", "orders", "--currency", "USD", str(source)
    )  # the separator is found, not the comma
    assert result.exit_code == 1
    assert "Pass --decimal-comma to read them" in result.stderr
    assert not db_path.exists()  # a failed first import leaves no database behind
    ok = cli("import", "orders", "--currency", "USD", str(source), "--decimal-comma")
    assert ok.exit_code == 0
    assert rows(db_path, "SELECT total_minor FROM orders") == [(120450,)]
    tabs = write(
        tmp_path / "t.tsv", "order_id\temail\tdate\tamount\nT1\tb@x.com\t2025-01-02\t3.5\n"
    )
    assert cli("import", "orders", "--currency", "USD", str(tabs)).exit_code == 0
    # a separator given on the command line is used as it is
    forced = cli("import", "orders", "--currency", "USD", str(tabs), "--delimiter", ",")
    assert forced.exit_code == 1
    assert "no column for the required fields" in forced.stderr
    assert rows(db_path, "SELECT order_id, total_minor FROM orders ORDER BY 1") == [
        ("E1", 120450),
        ("T1", 350),
    ]


def test_missing_required_fields_name_the_map_fix(cli, db_path, tmp_path):
    source = write(tmp_path / "o.csv", "ref,customer,when,sum\nF1,a@x.com,2025-01-01,3\n")
    result = cli("import", "orders", "--currency", "USD", str(source))
    assert result.exit_code == 1
    assert f"Error: {source}: no column for the required fields date, amount, email" in (
        result.stderr
    )
    assert "pass --map date=<column> --map amount=<column> --map email=<column>" in result.stderr
    assert "(the columns are 'ref', 'customer', 'when', 'sum')" in result.stderr
    mapped = cli(
        "import", "orders", "--currency", "USD", str(source), "--map", "email=customer",
        "--map", "date=WHEN", "--map", "amount=sum", "--map", "order_id=ref",
    )  # fmt: skip
    assert mapped.exit_code == 0
    assert rows(db_path, "SELECT order_id, total_minor FROM orders") == [("F1", 300)]
    unknown = cli("import", "orders", "--currency", "USD", str(source), "--map", "email=nope")
    assert unknown.exit_code == 1
    assert "--map email=nope: no column 'nope'" in unknown.stderr
    wrong_field = cli("import", "orders", "--currency", "USD", str(source), "--map", "colour=sum")
    assert wrong_field.exit_code == 2
    assert "unknown field 'colour' for orders" in wrong_field.stderr


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "the file is empty; export it again from your shop"),
        (b"\xef\xbb\xbf\r\n", "the file is empty; export it again from your shop"),
        (b"PK\x03\x04\x00\x00binary", "looks like a binary file"),
        (b"email,date,amount\nj\xfcrgen@x.com,2025-01-01,1\n", "is not UTF-8 text (byte 0xfc"),
    ],
)
def test_unusable_files_fail_and_change_nothing(cli, db_path, tmp_path, content, message):
    assert (
        cli("import", "orders", "--currency", "USD", str(FORMATS / "generic_orders.csv")).exit_code
        == 0
    )
    before = db_snapshot(db_path)
    source = tmp_path / "bad.csv"
    source.write_bytes(content)
    result = cli("import", "orders", "--currency", "USD", str(source))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {source}: ")
    assert message in result.stderr
    assert db_snapshot(db_path) == before


def test_missing_file(cli, tmp_path):
    result = cli("import", "customers", str(tmp_path / "nope.csv"))
    assert result.exit_code == 1
    assert result.stderr == f"Error: {tmp_path / 'nope.csv'}: file not found; check the path\n"


def test_wrong_kind_is_explained(cli):
    result = cli("import", "customers", str(FORMATS / "shopify_orders.csv"))
    assert result.exit_code == 1
    assert "this looks like a Shopify orders export, which holds orders, not customers; " in (
        result.stderr
    )
    forced = cli("import", "customers", str(FORMATS / "generic_orders.csv"), "--source", "nope")
    assert forced.exit_code == 2
    assert "unknown --source 'nope'" in forced.stderr


def test_bom_crlf_and_other_encodings(cli, db_path, tmp_path):
    bom = tmp_path / "bom.csv"
    bom.write_bytes(
        b"\xef\xbb\xbfEmail,First Name,Accepts Marketing\r\nZoe@X.com ,Zo\xc3\xab,yes\r\n"
    )
    assert cli("import", "customers", str(bom)).exit_code == 0
    latin = write(tmp_path / "latin.csv", "email,first name,city\njürgen@x.com,Jürgen,München\n",
                  "cp1252")  # fmt: skip
    assert cli("import", "customers", str(latin), "--encoding", "cp1252").exit_code == 0
    assert rows(
        db_path, "SELECT email, first_name, accepts_marketing FROM customers ORDER BY 1"
    ) == [
        ("jürgen@x.com", "Jürgen", None),
        ("zoe@x.com", "Zoë", 1),
    ]


def test_dry_run_reports_counts_and_writes_nothing(cli, db_path, tmp_path):
    source = write(tmp_path / "o.csv", "order_id,email,date,amount\nA1,a@x.com,2025-01-01,x\n"
                   "A2,b@x.com,2025-01-02,2\n")  # fmt: skip
    result = cli(
        "import", "orders", "--currency", "USD", str(source), "--dry-run", "--format", "json"
    )
    assert result.exit_code == 3
    got = summary(result)
    assert (got["inserted"], got["rejected"], got["dry_run"]) == (1, 1, True)
    assert not db_path.exists()
    assert not (tmp_path / "o.csv.rejects.csv").exists()
    assert (
        cli("import", "orders", "--currency", "USD", str(FORMATS / "generic_orders.csv")).exit_code
        == 0
    )
    before = db_snapshot(db_path)
    again = cli(
        "import", "orders", "--currency", "USD", str(source), "--dry-run", "--format", "json"
    )
    assert summary(again)["inserted"] == 1
    assert db_snapshot(db_path) == before


def test_orders_without_ids_get_stable_ids_and_duplicates_count(cli, db_path, tmp_path):
    source = write(
        tmp_path / "sheet.csv",
        "email,date,amount,status\n"
        "a@x.com,2025-01-01,5.00,paid\n"
        "a@x.com,2025-01-01,5.00,paid\n"
        "b@x.com,2025-01-02,7.00,cancelled\n"
        "b@x.com,2025-01-03,9.00,refunded\n",
    )
    first = summary(cli("import", "orders", "--currency", "USD", str(source), "--format", "json"))
    assert (first["inserted"], first["customers_created"]) == (4, 2)
    again = summary(cli("import", "orders", "--currency", "USD", str(source), "--format", "json"))
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 4)
    got = rows(
        db_path,
        "SELECT total_minor, refunded_minor, financial_status, cancelled_at FROM orders "
        "ORDER BY ordered_at, order_id",
    )
    assert sorted(got, key=str) == sorted(
        [
            (500, 0, "paid", None),
            (500, 0, "paid", None),
            (700, 0, "cancelled", "2025-01-02T00:00:00Z"),
            (900, 900, "refunded", None),
        ],
        key=str,
    )
    assert all(r[0].startswith("row-") for r in rows(db_path, "SELECT order_id FROM orders"))


def test_newer_export_updates_what_changed(cli, db_path, tmp_path):
    source = write(tmp_path / "o.csv", "order_id,email,date,amount,refunded\n"
                   "A1,a@x.com,2025-01-01,10,0\nA2,a@x.com,2025-01-02,20,0\n")  # fmt: skip
    assert cli("import", "orders", "--currency", "USD", str(source)).exit_code == 0
    newer = "A1,a@x.com,2025-01-01,10,0\nA2,a@x.com,2025-01-02,20,5\nA3,a@x.com,2025-01-03,1,0\n"
    write(source, "order_id,email,date,amount,refunded\n" + newer)
    got = summary(cli("import", "orders", "--currency", "USD", str(source), "--format", "json"))
    assert (got["inserted"], got["updated"], got["unchanged"]) == (1, 1, 1)
    assert rows(db_path, "SELECT order_id, refunded_minor FROM orders ORDER BY 1") == [
        ("A1", 0),
        ("A2", 500),
        ("A3", 0),
    ]


def test_shopify_orders_cancelled_refunded_and_changed_items(cli, db_path, tmp_path):
    assert cli("import", "customers", str(FORMATS / "shopify_customers.csv")).exit_code == 0
    multi = FORMATS / "shopify_orders_multi.csv"
    got = summary(cli("import", "orders", "--currency", "USD", str(multi), "--format", "json"))
    assert (got["rows"], got["inserted"], got["customers_created"]) == (5, 4, 2)
    assert rows(
        db_path,
        "SELECT o.order_id, c.email, c.first_name, c.last_name, o.total_minor, o.refunded_minor, "
        "o.cancelled_at FROM orders o JOIN customers c ON c.id = o.customer_ref ORDER BY 1",
    ) == [
        ("#1001", "ada@example.com", "Ada", "Lovelace", 5391, 0, None),
        ("#1002", "bob@example.com", "Bob", "Baker", 2850, 2850, None),
        ("#1003", "ada@example.com", "Ada", "Lovelace", 1295, 0, "2025-10-09T07:15:00Z"),
        ("#1004", "carla@example.com", "Carla", "Diaz", 120400, 10000, None),
    ]
    changed = tmp_path / "changed.csv"
    changed.write_text(multi.read_text().replace("Seeded Rye", "Seeded Rye Large"))
    again = summary(cli("import", "orders", "--currency", "USD", str(changed), "--format", "json"))
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 1, 3)
    assert rows(db_path, "SELECT name FROM order_items WHERE sku = 'SEED-01'") == [
        ("Seeded Rye Large",)
    ]


def test_stripe_keeps_succeeded_payments_only(cli, db_path, tmp_path):
    source = write(
        tmp_path / "payments.csv",
        "id,Created date (UTC),Amount,Amount Refunded,Currency,Captured,Status,Mode,"
        "Customer ID,Customer Email,Customer Description\n"
        "ch_1,2025-08-14 16:02:11,49.00,0.00,usd,true,Paid,Live,cus_1,m@x.com,Margaret Hamilton\n"
        "ch_2,2025-08-15 10:00:00,20.00,0.00,usd,false,Failed,Live,cus_1,m@x.com,M Hamilton\n"
        "ch_3,2025-08-16 10:00:00,1200,200,jpy,true,Refunded,Live,,guest@x.com,guest@x.com\n"
        "ch_4,2025-08-16 10:00:00,10,0,usd,true,Paid,Test,,t@x.com,\n",
    )
    got = summary(
        cli(
            "import",
            "orders",
            "--currency",
            "USD",
            str(source),
            "--format",
            "json",
            "--timezone",
            "Asia/Tokyo",
        )
    )
    assert (got["inserted"], got["skipped"], got["customers_created"]) == (2, 2, 2)
    assert rows(
        db_path,
        "SELECT o.order_id, c.customer_id, c.first_name, o.ordered_at, o.currency, "
        "o.total_minor, o.refunded_minor FROM orders o JOIN customers c ON c.id = o.customer_ref "
        "ORDER BY 1",
    ) == [
        ("ch_1", "cus_1", "Margaret", "2025-08-14T16:02:11Z", "USD", 4900, 0),
        ("ch_3", "guest@x.com", None, "2025-08-16T10:00:00Z", "JPY", 1200, 200),
    ]
    assert rows(db_path, "SELECT source, source_id FROM customer_sources") == [("stripe", "cus_1")]


def test_square_unsubscribed_is_suppressed_and_birthdays_are_kept(cli, db_path, tmp_path):
    source = write(
        tmp_path / "square.csv",
        "Square Customer ID,First Name,Last Name,Email Address,Birthday,Email Subscription Status\n"
        "SQ1,Alan,T,alan@x.com,--06-23,Unsubscribed\n"
        "SQ2,Bea,U,bea@x.com,1990-02-29,Subscribed\n"
        "SQ3,Cy,V,cy@x.com,1991-02-03,Subscribed\n",
    )
    result = cli("import", "customers", str(source), "--format", "json")
    assert result.exit_code == 3  # a birthday left out
    assert rows(db_path, "SELECT customer_id, birthday, accepts_marketing FROM customers") == [
        ("SQ1", "--06-23", 0),
        ("SQ2", None, 1),
        ("SQ3", "1991-02-03", 1),
    ]
    assert rows(db_path, "SELECT email, source FROM suppressions") == [
        ("alan@x.com", "square_customers")
    ]
    assert not (tmp_path / "square.csv.rejects.csv").exists()
    warnings = (tmp_path / "square.csv.warnings.csv").read_text()
    assert "Birthday: birthday '1990-02-29' is not a valid date (imported without it)" in warnings


def test_opt_out_is_sticky_across_imports(cli, db_path, tmp_path):
    header = "Customer ID,First Name,Last Name,Email,Accepts Email Marketing\n"
    for answer, exit_code in (("yes", 0), ("no", 0), ("yes", 0)):
        source = write(tmp_path / "c.csv", f"{header}'101,Ada,L,ADA@x.com,{answer}\n")
        assert cli("import", "customers", str(source)).exit_code == exit_code
    assert rows(db_path, "SELECT customer_id, email, accepts_marketing FROM customers") == [
        ("101", "ada@x.com", 1)
    ]
    assert rows(db_path, "SELECT email, source FROM suppressions") == [
        ("ada@x.com", "shopify_customers")
    ]
    from retain_cli.store import Store

    with Store.open(db_path) as store:
        assert store.is_suppressed("Ada@X.com")
        assert not store.effective_consent("ada@x.com")


def test_platform_id_upgrades_a_customer_known_by_email(cli, db_path, tmp_path):
    orders = write(tmp_path / "o.csv", "order_id,email,date,amount\nZ1,Bob@x.com,2025-01-01,5\n")
    assert cli("import", "orders", "--currency", "USD", str(orders)).exit_code == 0
    assert rows(db_path, "SELECT customer_id FROM customers") == [("bob@x.com",)]
    customers = write(tmp_path / "c.csv", "Customer ID,First Name,Last Name,Email,"
                      "Accepts Email Marketing\n'202,Bob,B,bob@x.com,yes\n")  # fmt: skip
    got = summary(cli("import", "customers", str(customers), "--format", "json"))
    assert (got["inserted"], got["updated"]) == (0, 1)
    assert rows(db_path, "SELECT customer_id, email, first_name FROM customers") == [
        ("202", "bob@x.com", "Bob")
    ]
    assert rows(db_path, "SELECT source, source_id FROM customer_sources") == [("shopify", "202")]
    again = summary(cli("import", "customers", str(customers), "--format", "json"))
    assert again["unchanged"] == 1


def test_import_suppressions(cli, db_path, tmp_path):
    source = tmp_path / "optout.csv"
    source.write_bytes(b"\xef\xbb\xbfEmail,Reason\r\nX@x.com,asked by phone\r\nbad\r\ny@x.com,\r\n")
    result = cli("import", "suppressions", str(source), "--format", "json")
    assert result.exit_code == 3
    got = summary(result)
    assert (got["inserted"], got["rejected"]) == (2, 1)
    bare = write(tmp_path / "bare.csv", "x@x.com\nz@x.com\n")
    again = summary(cli("import", "suppressions", str(bare), "--format", "json"))
    assert (again["inserted"], again["unchanged"]) == (1, 1)
    assert rows(db_path, "SELECT email, reason, source FROM suppressions ORDER BY 1") == [
        ("x@x.com", "asked by phone", "import"),
        ("y@x.com", "opt-out list optout.csv", "import"),
        ("z@x.com", "opt-out list bare.csv", "import"),
    ]


def test_table_summary_is_readable(cli, tmp_path):
    result = cli("import", "orders", "--currency", "USD", str(FORMATS / "generic_orders.csv"))
    assert result.exit_code == 0
    assert "orders from generic_orders.csv (generic_orders)" in result.stdout
    assert "inserted" in result.stdout


def test_one_row_per_order_shopify_file(cli, db_path, tmp_path):
    # every row kept and every order one row: the fast by-email path feeds the grouped writer
    lines = (FORMATS / "shopify_orders.csv").read_text().splitlines()
    single = write(tmp_path / "one.csv", "\n".join(lines[:2]) + "\n")
    assert cli("import", "orders", "--currency", "USD", str(single)).exit_code == 0
    assert rows(
        db_path,
        "SELECT o.order_key, typeof(o.customer_ref), c.email, i.sku FROM orders o "
        "JOIN customers c ON c.id = o.customer_ref JOIN order_items i ON i.order_ref = o.id",
    ) == [("shopify:#1001", "integer", "ada@example.com", "RYE-01")]


def test_line_item_prices_use_the_orders_currency(cli, db_path, tmp_path):
    # the currency is only on the order's first row; the second item is still yen
    text = (FORMATS / "shopify_orders.csv").read_text()
    text = text.replace(",EUR,", ",JPY,").replace("12.95", "1295").replace("34.00", "3400")
    text = text.replace("59.90", "5990").replace("53.91", "5391").replace("5.99", "599")
    source = write(tmp_path / "yen.csv", text)
    assert cli("import", "orders", "--currency", "USD", str(source)).exit_code == 0
    assert rows(db_path, "SELECT currency, total_minor, discount_minor FROM orders") == [
        ("JPY", 5391, 599)
    ]
    assert rows(db_path, "SELECT sku, price_minor FROM order_items ORDER BY line_no") == [
        ("RYE-01", 1295),
        ("CIN-04", 3400),
    ]


def test_a_folder_is_a_clear_error_not_a_usage_panel(cli, tmp_path):
    (tmp_path / "adir.csv").mkdir()
    result = cli("import", "orders", "--currency", "USD", "adir.csv")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert "adir.csv" in result.stderr
    assert "is a folder, not a CSV file" in result.stderr


def test_failed_import_into_a_new_database_leaves_no_database(cli, tmp_path):
    (tmp_path / "empty.csv").write_text("")
    for name in ("missing.csv", "empty.csv"):
        result = cli("--db", "new.db", "import", "orders", "--currency", "USD", name)
        assert result.exit_code == 1, result.output
        assert not list(tmp_path.glob("new.db*"))


def test_failed_import_into_an_existing_database_keeps_it(cli, tmp_path):
    (tmp_path / "ok.csv").write_text(
        "order_id,email,date,amount\nA-1,a@example.com,2025-01-02,10\n"
    )
    assert cli("--db", "shop.db", "import", "orders", "--currency", "USD", "ok.csv").exit_code == 0
    assert (
        cli("--db", "shop.db", "import", "orders", "--currency", "USD", "missing.csv").exit_code
        == 1
    )
    assert (tmp_path / "shop.db").exists()
    shown = cli("--db", "shop.db", "customers", "list", "--format", "csv")
    assert "a@example.com" in shown.stdout


def test_orders_import_leaves_the_analytics_copy_current(cli, db_path, tmp_path):
    from retain_cli.analytics.metrics import ORDERS_CACHE
    from retain_cli.store import Store

    first = tmp_path / "a.csv"
    first.write_text("order_id,email,date,amount\nA-1,a@example.com,2025-01-02,10\n")
    second = tmp_path / "b.csv"
    second.write_text("order_id,email,date,amount\nA-2,b@example.com,2025-02-03,12.50\n")
    for path in (first, second):
        assert cli("import", "orders", "--currency", "USD", str(path), "--quiet").exit_code == 0
        with Store.open(db_path) as store:
            max_id, version = store.orders_state()
            cached = store.cached_blob(ORDERS_CACHE)
            assert cached is not None and cached[0] == f"{max_id}:{version}"
    dry = tmp_path / "c.csv"
    dry.write_text("order_id,email,date,amount\nA-3,c@example.com,2025-03-03,5\n")
    assert cli("import", "orders", "--currency", "USD", str(dry), "--dry-run").exit_code == 0
    with Store.open(db_path) as store:
        assert store.cached_blob(ORDERS_CACHE)[0] == f"{store.orders_state()[0]}:0"
