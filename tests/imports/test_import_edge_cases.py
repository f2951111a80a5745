"""``retain import`` on the files QA found mishandled: lenient optional fields, ids mangled by
spreadsheets, decimal commas, negative amounts, UTF-16 text, older exports, opt-out sources."""

from __future__ import annotations

import codecs
import json
import sqlite3
from pathlib import Path

import pytest


def rows(db: Path, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def summary(result) -> dict:
    return json.loads(result.stdout)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# -- an older export cannot undo a refund or a cancellation -----------------------------------

ORDERS_HEADER = "order_id,email,date,amount,refunded,cancelled at\n"


def test_an_older_export_cannot_undo_a_refund_or_a_cancellation(cli, db_path, tmp_path):
    newer = write(
        tmp_path / "b.csv",
        ORDERS_HEADER + "1001,a@x.com,2025-01-01,50.00,10.00,\n"
        "1002,a@x.com,2025-01-02,20.00,0,2025-01-03\n",
    )
    older = write(
        tmp_path / "a.csv",
        ORDERS_HEADER + "1001,a@x.com,2025-01-01,50.00,0,\n"
        "1002,a@x.com,2025-01-02,20.00,0,\n"
        "1003,a@x.com,2025-01-04,5.00,0,\n",
    )
    assert cli("import", "orders", "--currency", "USD", str(newer)).exit_code == 0
    result = cli("import", "orders", "--currency", "USD", str(older), "--format", "json")
    assert result.exit_code == 0, result.output
    got = summary(result)
    assert (got["inserted"], got["updated"], got["unchanged"]) == (1, 0, 2)
    query = "SELECT order_id, refunded_minor, cancelled_at FROM orders ORDER BY 1"
    assert rows(db_path, query) == [
        ("1001", 1000, None),
        ("1002", 0, "2025-01-03T00:00:00Z"),
        ("1003", 0, None),
    ]
    # a later export with a bigger refund (or a new cancellation) still goes in
    later = write(
        tmp_path / "c.csv",
        ORDERS_HEADER + "1001,a@x.com,2025-01-01,50.00,15.00,\n"
        "1003,a@x.com,2025-01-04,5.00,0,2025-01-05\n",
    )
    got = summary(cli("import", "orders", "--currency", "USD", str(later), "--format", "json"))
    assert (got["inserted"], got["updated"], got["unchanged"]) == (0, 2, 0)
    assert rows(db_path, query) == [
        ("1001", 1500, None),
        ("1002", 0, "2025-01-03T00:00:00Z"),
        ("1003", 0, "2025-01-05T00:00:00Z"),
    ]


def test_an_older_export_cannot_undo_a_refunded_status(cli, db_path, tmp_path):
    header = "order_id,email,date,amount,refunded,status\n"
    newer = write(tmp_path / "b.csv", header + "1001,a@x.com,2025-01-01,50.00,50.00,refunded\n")
    older = write(tmp_path / "a.csv", header + "1001,a@x.com,2025-01-01,50.00,0,paid\n")
    assert cli("import", "orders", "--currency", "USD", str(newer)).exit_code == 0
    got = summary(cli("import", "orders", "--currency", "USD", str(older), "--format", "json"))
    assert (got["updated"], got["unchanged"]) == (0, 1)
    query = "SELECT refunded_minor, financial_status FROM orders"
    assert rows(db_path, query) == [(5000, "refunded")]
    # the same refund with a corrected status is an update
    fixed = write(tmp_path / "c.csv", header + "1001,a@x.com,2025-01-01,50.00,50.00,Refunded\n")
    assert (
        summary(cli("import", "orders", "--currency", "USD", str(fixed), "--format", "json"))[
            "unchanged"
        ]
        == 1
    )
    partly = write(
        tmp_path / "d.csv", header + "1001,a@x.com,2025-01-01,50.00,50.00,partially_refunded\n"
    )
    assert (
        summary(cli("import", "orders", "--currency", "USD", str(partly), "--format", "json"))[
            "updated"
        ]
        == 1
    )
    assert rows(db_path, query) == [(5000, "partially_refunded")]


# -- negative totals and refunds ----------------------------------------------------------------


def read_rejects(path: Path) -> list[list[str]]:
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.mark.parametrize("currency", [True, False])
def test_negative_totals_and_refunds_are_rejected(cli, db_path, tmp_path, currency):
    lines = [
        "order_id,email,date,amount,refunded",
        "N1,a@x.com,2025-01-01,-12.50,0",
        "N2,a@x.com,2025-01-02,20.00,-5.00",
        "N3,a@x.com,2025-01-03,(7.00),0",
        "N4,a@x.com,2025-01-04,30.00,5.00",
    ]
    if currency:
        lines = [lines[0] + ",currency"] + [line + ",EUR" for line in lines[1:]]
    source = write(tmp_path / "o.csv", "\n".join(lines) + "\n")
    result = cli("import", "orders", "--currency", "USD", str(source), "--format", "json")
    assert result.exit_code == 3, result.output
    got = summary(result)
    assert (got["rows"], got["inserted"], got["rejected"]) == (4, 1, 3)
    rejects = read_rejects(tmp_path / "o.csv.rejects.csv")
    assert [(r[0], r[-2], r[-1]) for r in rejects[1:]] == [
        (
            "N1",
            "2",
            "amount: negative total '-12.50' is not an order; refunds belong in the refunded "
            "column (or a refund export)",
        ),
        (
            "N2",
            "3",
            "refunded: negative refunded amount '-5.00'; write a refund as a positive amount",
        ),
        (
            "N3",
            "4",
            "amount: negative total '(7.00)' is not an order; refunds belong in the refunded "
            "column (or a refund export)",
        ),
    ]
    assert rows(db_path, "SELECT order_id, total_minor, refunded_minor FROM orders") == [
        ("N4", 3000, 500)
    ]


# -- UTF-16 text (Excel's "Unicode Text") -------------------------------------------------------

UNICODE_TEXT = (
    "Email\tFirst Name\tCity\tAccepts Marketing\r\n"
    "J\u00fcrgen@X.com\tJ\u00fcrgen\tM\u00fcnchen\tyes\r\n"
    "not-an-address\tNo\tOne\tno\r\n"
    "zoe@x.com\tZo\u00eb\tK\u00f8benhavn\tno\r\n"
)


@pytest.mark.parametrize(
    "encode,options",
    [
        (lambda text: text.encode("utf-16"), []),  # BOM + the machine's order (LE)
        (lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"), []),
        (lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"), []),
        (lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"), ["--delimiter", "tab"]),
        (lambda text: text.replace("\t", ",").encode("utf-16"), []),  # comma-separated
    ],
    ids=["utf16", "le", "be", "le-tab-option", "comma"],
)
def test_utf16_text_with_a_bom_is_read_without_options(cli, db_path, tmp_path, encode, options):
    source = tmp_path / "customers.txt"
    source.write_bytes(encode(UNICODE_TEXT))
    result = cli("import", "customers", str(source), "--format", "json", *options)
    assert result.exit_code == 3, result.output
    got = summary(result)
    assert (got["source"], got["rows"], got["inserted"], got["rejected"]) == (
        "shopify_customers_legacy",
        3,
        2,
        1,
    )
    assert rows(
        db_path, "SELECT email, first_name, city, accepts_marketing FROM customers ORDER BY 1"
    ) == [
        ("j\u00fcrgen@x.com", "J\u00fcrgen", "M\u00fcnchen", 1),
        ("zoe@x.com", "Zo\u00eb", "K\u00f8benhavn", 0),
    ]
    rejects = read_rejects(tmp_path / "customers.txt.rejects.csv")
    assert rejects[1] == [
        "not-an-address",
        "No",
        "One",
        "no",
        "3",
        "Email: invalid email 'not-an-address'",
    ]


def test_utf16_without_a_bom_still_needs_the_encoding_option(cli, db_path, tmp_path):
    source = tmp_path / "customers.txt"
    source.write_bytes(UNICODE_TEXT.encode("utf-16-le"))
    result = cli("import", "customers", str(source))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {source}: looks like a binary file")
    assert "pass --encoding utf-16 if it is UTF-16 text" in result.stderr
    assert not db_path.exists()
    forced = cli(
        "import", "customers", str(source), "--encoding", "utf-16-le", "--delimiter", "tab"
    )
    assert forced.exit_code == 3, forced.output
    assert rows(db_path, "SELECT count(*) FROM customers") == [(2,)]


# -- ids a spreadsheet turned into 7.28375E+12 --------------------------------------------------

FIX = (
    "nothing was imported. Re-export from the shop, or format the column as Text in the "
    "spreadsheet before saving as CSV\n"
)


def test_customer_ids_in_scientific_notation_fail_up_front(cli, db_path, tmp_path):
    source = write(
        tmp_path / "c.csv",
        "email,customer id,first name\n"
        "ada@x.com,1001,Ada\n"
        "bob@x.com,7.28375E+12,Bob\n"
        "cy@x.com,7.28375E+12,Cy\n",
    )
    result = cli("import", "customers", str(source))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {source}: column 'customer id' holds customer ids in scientific notation "
        "(e.g. '7.28375E+12' on line 3): a spreadsheet rounded them and their last digits are "
        "lost, so different customers would become one; " + FIX
    )
    assert not db_path.exists()  # nothing written, not even an empty database


@pytest.mark.parametrize(
    "body,message",
    [
        (
            "order_id,email,date,amount\n"
            "O1,a@x.com,2025-01-01,3\n"
            "1.00234E+11,b@x.com,2025-01-02,5\n",
            "column 'order_id' holds order ids in scientific notation (e.g. '1.00234E+11' on "
            "line 3): a spreadsheet rounded them and their last digits are lost, so different "
            "orders would become one; ",
        ),
        (
            "order_id,customer id,email,date,amount\n"
            "O1,C1,a@x.com,2025-01-01,3\n"
            "O2,'4.9E+12 ,b@x.com,2025-01-02,5\n",
            "column 'customer id' holds customer ids in scientific notation (e.g. \"'4.9E+12\" "
            "on line 3): a spreadsheet rounded them and their last digits are lost, so "
            "different customers would become one; ",
        ),
    ],
)
def test_order_ids_in_scientific_notation_fail_and_change_nothing(
    cli, db_path, tmp_path, body, message
):
    good = write(tmp_path / "good.csv", "order_id,email,date,amount\nO0,a@x.com,2025-01-01,1\n")
    assert cli("import", "orders", "--currency", "USD", str(good)).exit_code == 0
    tables = ("orders", "customers", "imports")
    before = {t: rows(db_path, f"SELECT * FROM {t}") for t in tables}
    source = write(tmp_path / "o.csv", body)
    result = cli("import", "orders", "--currency", "USD", str(source))
    assert result.exit_code == 1
    assert result.stderr == f"Error: {source}: {message}{FIX}"
    assert {t: rows(db_path, f"SELECT * FROM {t}") for t in tables} == before


def test_phone_and_zip_in_scientific_notation_fail(cli, tmp_path):
    source = write(
        tmp_path / "c.csv",
        'email,phone,zip\nada@x.com,+49 30 1234567,10115\nbob@x.com,"4,91512E+12",10117\n',
    )
    result = cli("import", "customers", str(source))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {source}: column 'phone' holds phone numbers in scientific notation "
        "(e.g. '4,91512E+12' on line 3): a spreadsheet rounded them and their last digits are "
        "lost; " + FIX
    )
    zips = write(tmp_path / "z.csv", "email,zip\nada@x.com,1E+5\n")
    result = cli("import", "customers", str(zips))
    assert result.exit_code == 1
    assert "column 'zip' holds zip codes in scientific notation (e.g. '1E+5' on line 2)" in (
        result.stderr
    )


def test_plain_long_ids_and_e_in_ids_are_fine(cli, db_path, tmp_path):
    source = write(
        tmp_path / "c.csv",
        "email,customer id,zip\nada@x.com,7283748237101,E1 6AN\nbob@x.com,1E5-B,SW1E 5\n",
    )
    assert cli("import", "customers", str(source)).exit_code == 0
    assert rows(db_path, "SELECT customer_id, zip FROM customers ORDER BY 1") == [
        ("1E5-B", "SW1E 5"),
        ("7283748237101", "E1 6AN"),
    ]


# -- decimal commas without --decimal-comma -----------------------------------------------------


def test_a_decimal_comma_file_fails_up_front_and_names_the_option(cli, db_path, tmp_path):
    source = write(
        tmp_path / "eu.csv",
        "order_id;email;date;amount\n"
        "E1;a@x.com;2025-01-01;7\n"
        "E2;a@x.com;2025-01-02;1.204,50\n"
        "E3;b@x.com;2025-01-03;12,50\n"
        "E4;b@x.com;2025-01-04;0,99\n",
    )
    result = cli("import", "orders", "--currency", "USD", str(source), "--delimiter", ";")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {source}: the amounts in column 'amount' are written with a decimal comma "
        "(e.g. '1.204,50' on line 3); nothing was imported. Pass --decimal-comma to read them\n"
    )
    assert not db_path.exists()
    strict = cli(
        "import", "orders", "--currency", "USD", str(source), "--delimiter", ";", "--strict"
    )
    assert strict.exit_code == 1
    assert "are written with a decimal comma" in strict.stderr
    ok = cli(
        "import", "orders", "--currency", "USD", str(source), "--delimiter", ";", "--decimal-comma"
    )
    assert ok.exit_code == 0, ok.output
    assert rows(db_path, "SELECT order_id, total_minor FROM orders ORDER BY 1") == [
        ("E1", 700),
        ("E2", 120450),
        ("E3", 1250),
        ("E4", 99),
    ]


def test_decimal_commas_in_several_columns_with_a_currency(cli, db_path, tmp_path):
    source = write(
        tmp_path / "eu.csv",
        "order_id,email,date,subtotal,amount,currency\n"
        'E1,a@x.com,2025-01-01,"10,00","12,50",EUR\n'
        'E2,a@x.com,2025-01-02,"1.250","1.200",JPY\n'  # yen: 1.250 is a thousand and more
        "E3,a@x.com,2025-01-03,5,5,EUR\n",
    )
    result = cli("import", "orders", "--currency", "USD", str(source))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {source}: the amounts in columns 'subtotal', 'amount' are written with a "
        "decimal comma (e.g. '10,00' on line 2); nothing was imported. Pass --decimal-comma to "
        "read them\n"
    )
    assert (
        cli("import", "orders", "--currency", "USD", str(source), "--decimal-comma").exit_code == 0
    )
    assert rows(db_path, "SELECT order_id, subtotal_minor, total_minor FROM orders ORDER BY 1") == [
        ("E1", 1000, 1250),
        ("E2", 1250, 1200),
        ("E3", 500, 500),
    ]


def test_a_few_decimal_comma_amounts_among_good_ones_are_rejected_rows(cli, db_path, tmp_path):
    good = "".join(f"G{i},a@x.com,2025-01-{i + 1:02d},{i}.50\n" for i in range(1, 10))
    source = write(
        tmp_path / "o.csv",
        "order_id,email,date,amount\n" + good + 'B1,a@x.com,2025-02-01,"12,50"\n',
    )
    result = cli("import", "orders", "--currency", "USD", str(source), "--format", "json")
    assert result.exit_code == 3, result.output
    got = summary(result)
    assert (got["inserted"], got["rejected"]) == (9, 1)
    rejects = read_rejects(tmp_path / "o.csv.rejects.csv")
    assert rejects[1:] == [
        [
            "B1",
            "a@x.com",
            "2025-02-01",
            "12,50",
            "11",
            "amount: amount '12,50' looks like it uses a decimal comma; pass --decimal-comma",
        ]
    ]
    assert rows(db_path, "SELECT count(*), sum(total_minor) FROM orders") == [(9, 4950)]


# -- an unreadable optional order value leaves the value out, not the order --------------------


def test_bad_optional_order_values_are_left_out_and_listed(cli, db_path, tmp_path):
    source = write(
        tmp_path / "o.csv",
        "order_id,email,date,amount,shipping,tax,refunded\n"
        "1001,a@x.com,2025-01-01,50.00,4.95,n/a,0\n"
        "1002,a@x.com,2025-01-02,20.00,free,1.20,0\n"
        "1003,b@x.com,2025-01-03,30.00,4.95,2.00,lots\n",
    )
    result = cli("import", "orders", "--currency", "USD", str(source), "--format", "json")
    assert result.exit_code == 3
    got = summary(result)
    assert (got["inserted"], got["rejected"], got["warnings"]) == (2, 1, 2)
    assert rows(
        db_path, "SELECT order_id, total_minor, shipping_minor, tax_minor FROM orders ORDER BY 1"
    ) == [("1001", 5000, 495, None), ("1002", 2000, None, 120)]
    warnings = read_rejects(tmp_path / "o.csv.warnings.csv")
    assert [(w[0], w[-2], w[-1]) for w in warnings[1:]] == [
        ("1001", "2", "tax: cannot read amount 'n/a' (imported without it)"),
        ("1002", "3", "shipping: cannot read amount 'free' (imported without it)"),
    ]
    # a refund counts in the metrics: unreadable, it still rejects the order
    rejects = read_rejects(tmp_path / "o.csv.rejects.csv")
    assert [(r[0], r[-2], r[-1]) for r in rejects[1:]] == [
        ("1003", "4", "refunded: cannot read amount 'lots'")
    ]
    # and the import's history says so
    status = json.loads(cli("status", "--format", "json").stdout)["recent_imports"]
    assert [(i["rejected"], i["warnings"]) for i in status] == [(1, 2)]


# -- an unreadable optional customer value leaves the value out, not the customer ---------------

CUSTOMERS = (
    "email,customer id,first name,birthday,accepts marketing,created at\n"
    "ada@x.com,C1,Ada,1985-13-01,yes,2024-01-05\n"
    "bob@x.com,C2,Bob,1990-02-03,maybe,2024-02-30\n"
    "bad-email,C3,Cy,1985-13-01,yes,2024-01-01\n"
    "dee@x.com,C4,Dee,--07-04,no,2024-03-01\n"
)


def test_bad_optional_customer_values_are_left_out_and_listed(cli, db_path, tmp_path):
    source = write(tmp_path / "c.csv", CUSTOMERS)
    result = cli("import", "customers", str(source), "--format", "json")
    assert result.exit_code == 3
    got = summary(result)
    assert (got["inserted"], got["rejected"], got["warnings"]) == (3, 1, 2)
    assert got["warnings_file"] == str(tmp_path / "c.csv.warnings.csv")
    assert rows(
        db_path,
        "SELECT customer_id, first_name, birthday, accepts_marketing, source_created_at "
        "FROM customers ORDER BY 1",
    ) == [
        ("C1", "Ada", None, 1, "2024-01-05T00:00:00Z"),
        ("C2", "Bob", "1990-02-03", None, None),
        ("C4", "Dee", "--07-04", 0, "2024-03-01T00:00:00Z"),
    ]
    warnings = read_rejects(tmp_path / "c.csv.warnings.csv")
    assert warnings == [
        ["email", "customer id", "first name", "birthday", "accepts marketing", "created at",
         "line", "warning"],
        ["ada@x.com", "C1", "Ada", "1985-13-01", "yes", "2024-01-05", "2",
         "birthday: birthday '1985-13-01' is not a valid date (imported without it)"],
        ["bob@x.com", "C2", "Bob", "1990-02-03", "maybe", "2024-02-30", "3",
         "accepts marketing: cannot read marketing consent 'maybe' (expected yes or no) "
         "(imported without it); created at: '2024-02-30' is not a valid date (imported "
         "without it)"],
    ]  # fmt: skip
    # a required value still rejects the row (and its bad birthday is no warning)
    rejects = read_rejects(tmp_path / "c.csv.rejects.csv")
    assert [(r[0], r[-2], r[-1]) for r in rejects[1:]] == [
        ("bad-email", "4", "email: invalid email 'bad-email'")
    ]
    # fixed in the shop and exported again: the values come in, the listing goes
    write(source, CUSTOMERS.replace("1985-13-01", "1985-12-01").replace("maybe", "no")
          .replace("2024-02-30", "2024-02-03").replace("bad-email", "cy@x.com"))  # fmt: skip
    again = cli("import", "customers", str(source), "--format", "json")
    assert again.exit_code == 0, again.output
    assert (summary(again)["warnings"], summary(again)["warnings_file"]) == (0, None)
    assert not (tmp_path / "c.csv.warnings.csv").exists()
    query = "SELECT customer_id, birthday, accepts_marketing FROM customers ORDER BY 1"
    assert rows(db_path, query) == [
        ("C1", "1985-12-01", 1),
        ("C2", "1990-02-03", 0),
        ("C3", "1985-12-01", 1),
        ("C4", "--07-04", 0),
    ]


def test_an_unreadable_consent_keeps_the_stored_one(cli, db_path, tmp_path):
    header = "Customer ID,First Name,Last Name,Email,Accepts Email Marketing\n"
    source = write(tmp_path / "c.csv", header + "101,Ada,L,ada@x.com,yes\n")
    assert cli("import", "customers", str(source)).exit_code == 0
    write(source, header + "101,Ada,Lovelace,ada@x.com,sometimes\n")
    result = cli("import", "customers", str(source))
    assert result.exit_code == 3
    assert result.stderr == (
        f"1 row(s) imported with an unreadable value left out (see {tmp_path / 'c.csv'}"
        ".warnings.csv)\n"
    )
    assert rows(db_path, "SELECT last_name, accepts_marketing FROM customers") == [("Lovelace", 1)]
    assert rows(db_path, "SELECT count(*) FROM suppressions") == [(0,)]


def test_strict_fails_on_a_value_left_out_and_dry_run_only_counts(cli, db_path, tmp_path):
    source = write(tmp_path / "c.csv", CUSTOMERS.replace("bad-email", "cy@x.com"))
    strict = cli("import", "customers", str(source), "--strict")
    assert strict.exit_code == 1
    assert strict.stderr == (
        f"Error: {source}: line 2, column 'birthday': birthday '1985-13-01' is not a valid date; "
        "nothing was imported (--strict). Fix the value, or run without --strict to import the "
        "row without it (listed in c.csv.warnings.csv)\n"
    )
    assert not db_path.exists()
    dry = cli("import", "customers", str(source), "--dry-run", "--format", "json")
    assert dry.exit_code == 3
    assert (summary(dry)["inserted"], summary(dry)["warnings"]) == (4, 3)
    assert summary(dry)["warnings_file"] is None
    assert not (tmp_path / "c.csv.warnings.csv").exists()
    assert not db_path.exists()


# -- where an opt-out list came from ------------------------------------------------------------


def test_suppressions_source_records_where_the_opt_outs_came_from(cli, db_path, tmp_path):
    first = write(tmp_path / "mc.csv", "Email Address,Reason\nA@x.com,unsubscribed\nb@x.com,\n")
    result = cli("import", "suppressions", str(first), "--source", "mailchimp", "--format", "json")
    assert result.exit_code == 0, result.output
    got = summary(result)
    assert (got["source"], got["origin"], got["inserted"]) == ("suppressions", "mailchimp", 2)
    second = write(tmp_path / "old.csv", "email\nb@x.com\nc@x.com\n")
    got = summary(cli("import", "suppressions", str(second), "--format", "json"))
    assert (got["origin"], got["inserted"], got["unchanged"]) == ("import", 1, 1)
    assert rows(db_path, "SELECT email, reason, source FROM suppressions ORDER BY 1") == [
        ("a@x.com", "unsubscribed", "mailchimp"),
        ("b@x.com", "opt-out list mc.csv", "mailchimp"),  # the first source stays
        ("c@x.com", "opt-out list old.csv", "import"),
    ]
    assert rows(db_path, "SELECT kind, source, file_name FROM imports ORDER BY id") == [
        ("suppressions", "suppressions", "mc.csv"),
        ("suppressions", "suppressions", "old.csv"),
    ]


def test_suppressions_source_must_name_something(cli, db_path, tmp_path):
    source = write(tmp_path / "mc.csv", "email\na@x.com\n")
    result = cli("import", "suppressions", str(source), "--source", " ")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --source ' ' must name where the opt-outs come from, e.g. --source mailchimp\n"
    )
    assert not db_path.exists()
    shown = cli("import", "suppressions", "--help")
    assert "Where the opt-outs come from" in shown.stdout
