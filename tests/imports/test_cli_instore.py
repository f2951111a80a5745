"""In-store sales through ``retain import orders``: orders keyed by a customer id without an
e-mail address, sales without a customer (walk-ins), and Square's transactions and item
details exports with their refund rows."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from csvfiles import notes, rows, write

FORMATS = Path(__file__).parent / "data"
TRANSACTIONS = FORMATS / "square_transactions.csv"
ITEMS = FORMATS / "square_items.csv"


def summary(result) -> dict:
    return json.loads(result.stdout)


def rejects(path: Path) -> list[str]:
    return notes(path.with_name(path.name + ".rejects.csv"))


SALES_LOG = (
    "customer_id,date,amount\n"
    "00001,1997-01-01,11.77\n"
    "00002,1997-01-12,12.00\n"
    "00002,1997-01-12,77.00\n"
    "00001,1997-02-02,20.76\n"
)


def test_orders_keyed_by_a_customer_id_wait_for_an_address(cli, db_path, tmp_path):
    """A sales log without e-mail (CDNOW's shape): the customers exist for the figures, are
    not mailable, and become so once a customers import brings their address by id."""
    log = write(tmp_path / "sales.csv", SALES_LOG)
    result = cli("import", "orders", str(log), "--currency", "USD", "--format", "json")
    assert result.exit_code == 0, result.output
    assert (summary(result)["inserted"], summary(result)["customers_created"]) == (4, 2)
    assert rows(db_path, "SELECT id, customer_id, email FROM customers ORDER BY id") == [
        (1, "00001", None),
        (2, "00002", None),
    ]
    assert rows(db_path, "SELECT customer_ref, has_email, consent FROM customer_consent") == [
        (1, 0, 0),
        (2, 0, 0),
    ]
    before = rows(db_path, "SELECT id, customer_ref, total_minor FROM orders ORDER BY id")
    people = write(
        tmp_path / "people.csv",
        "customer id,email,first name,accepts marketing\n"
        "00001,ada@example.com,Ada,yes\n"
        "00003,new@example.com,Neu,yes\n",
    )
    imported = cli("import", "customers", str(people), "--format", "json")
    assert imported.exit_code == 0, imported.output
    assert (summary(imported)["inserted"], summary(imported)["updated"]) == (1, 1)
    assert rows(db_path, "SELECT id, customer_id, email, first_name FROM customers") == [
        (1, "00001", "ada@example.com", "Ada"),
        (2, "00002", None, None),
        (3, "00003", "new@example.com", "Neu"),
    ]
    assert rows(db_path, "SELECT customer_ref, consent FROM customer_consent") == [
        (1, 1),
        (2, 0),
        (3, 1),
    ]
    # Ada keeps her orders
    assert rows(db_path, "SELECT id, customer_ref, total_minor FROM orders ORDER BY id") == before
    shown = cli("customers", "show", "ada@example.com", "--format", "json")
    assert (json.loads(shown.stdout)["orders"], json.loads(shown.stdout)["can_email"]) == (2, True)


def test_a_customer_id_column_under_another_name_is_mapped(cli, db_path, tmp_path):
    log = write(tmp_path / "kasse.csv", "Kunde,Datum,Betrag\nK-7,2025-05-01,9.50\n")
    missing = cli("import", "orders", str(log), "--currency", "EUR")
    assert missing.exit_code == 1
    assert "no column for the required fields date, amount, email or customer_id" in (
        missing.stderr
    )
    mapped = cli(
        "import", "orders", str(log), "--currency", "EUR", "--map", "customer_id=Kunde",
        "--map", "date=Datum", "--map", "amount=Betrag",
    )  # fmt: skip
    assert mapped.exit_code == 0, mapped.output
    assert rows(db_path, "SELECT customer_id, email FROM customers") == [("K-7", None)]
    assert rows(db_path, "SELECT total_minor, currency FROM orders") == [(950, "EUR")]


def test_walk_in_sales_count_in_revenue_but_not_as_customers(cli, db_path, tmp_path):
    log = write(
        tmp_path / "till.csv",
        "customer_id,date,amount\n"
        "C1,2025-06-02,10.00\n"
        ",2025-06-03,4.50\n"
        "C1,2025-06-10,20.00\n"
        ",2025-06-11,5.50\n"
        "C2,2025-06-12,30.00\n",
    )
    result = cli("import", "orders", str(log), "--currency", "EUR", "--format", "json")
    assert result.exit_code == 0, result.output
    got = summary(result)
    assert (got["inserted"], got["customers_created"], got["orders_without_customer"]) == (5, 2, 2)
    assert rows(db_path, "SELECT count(*) FROM orders WHERE customer_ref IS NULL") == [(2,)]
    metrics = cli("metrics", "--as-of", "2025-06-30", "--period", "month", "--format", "json")
    figures = {row["metric"]: row["value"] for row in json.loads(metrics.stdout)["metrics"]}
    assert json.loads(metrics.stdout)["sales_without_customer"] == 2
    assert figures["customers"] == figures["active_customers"] == figures["new_customers"] == 2
    assert figures["orders"] == 5
    assert figures["revenue"] == 70.0
    assert figures["average_order_value"] == 14.0
    assert figures["purchase_frequency"] == 1.5  # 3 orders of 2 customers
    assert figures["historic_clv"] == 30.0  # 60 spent by 2 customers
    table = cli("metrics", "--as-of", "2025-06-30", "--period", "month")
    assert "orders and revenue include 2 sale(s) without a customer" in " ".join(
        table.stdout.split()
    )
    status = json.loads(cli("status", "--format", "json").stdout)
    assert (status["customers"], status["orders"], status["orders_without_customer"]) == (2, 5, 2)
    assert (status["revenue"], status["currency"]) == (70.0, "EUR")
    listed = json.loads(cli("customers", "list", "--format", "json").stdout)
    assert [c["customer_id"] for c in listed] == ["C2", "C1"]


def test_square_transactions_walk_ins_and_a_refund_of_its_payment(cli, db_path):
    result = cli("import", "orders", str(TRANSACTIONS), "--format", "json")
    assert result.exit_code == 0, result.output
    got = summary(result)
    assert got["source"] == "square_transactions"
    assert (got["rows"], got["inserted"], got["refunds"], got["rejected"]) == (5, 4, 1, 0)
    assert (got["customers_created"], got["orders_without_customer"]) == (2, 1)
    # total = Net Sales + Tax ($ read as USD); times from Eastern time to UTC; the refund row
    # is no order: it raises its payment's refunded amount
    assert rows(
        db_path,
        "SELECT order_key, customer_ref, ordered_at, currency, tax_minor, discount_minor, "
        "total_minor, refunded_minor FROM orders ORDER BY id",
    ) == [
        ("square:pA8vR3kQ1mZx", 1, "2025-09-13T12:02:11Z", "USD", 216, 300, 2916, 1166),
        ("square:pC2nT7wE4rYu", None, "2025-09-13T13:15:40Z", "USD", 68, 0, 918, 0),
        ("square:pE5yH9oP2aSd", 2, "2025-09-14T20:40:03Z", "USD", 112, 0, 1512, 0),
        ("square:pG3uJ6iL8kFh", 1, "2025-09-20T11:45:52Z", "USD", 65, 90, 875, 0),
    ]
    assert rows(db_path, "SELECT customer_id, email, first_name, last_name FROM customers") == [
        ("KZ9X1C2V3B4N5M", None, "Alan", "Turing"),
        ("M8Q7P6O5N4L3K2", None, "Grace", "Hopper"),
    ]
    assert rows(db_path, "SELECT refund_key, amount_minor FROM order_refunds") == [
        ("2025-09-15T15:20:05Z|1166|1", 1166)
    ]
    again = summary(cli("import", "orders", str(TRANSACTIONS), "--format", "json"))
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 4)
    assert rows(db_path, "SELECT sum(refunded_minor) FROM orders") == [(1166,)]
    # the item details of the same sales add the line items and change no total
    items = cli("import", "orders", str(ITEMS), "--format", "json")
    assert items.exit_code == 0, items.output
    assert summary(items)["source"] == "square_items"
    assert rows(db_path, "SELECT total_minor, refunded_minor FROM orders ORDER BY id") == [
        (2916, 1166),
        (918, 0),
        (1512, 0),
        (875, 0),
    ]
    assert rows(db_path, "SELECT order_ref, sku, name, quantity, price_minor FROM order_items") == [
        (1, "SD-800", "Sourdough Loaf", 2, 900),
        (1, "CR-100", "Croissant", 3, 400),
        (2, "LT-12", "Latte", 1, 500),
        (2, "MF-BB", "Blueberry Muffin", 1, 350),
        (3, "RY-700", "Rye Bread", 1, 700),
        (3, "CB-200", "Cinnamon Bun", 2, 350),
        (4, "SD-800", "Sourdough Loaf", 1, 900),
    ]
    # Square's customers export brings Alan's address: he may be mailed, his orders kept
    people = cli("import", "customers", str(FORMATS / "square_customers.csv"), "--format", "json")
    assert (summary(people)["inserted"], summary(people)["updated"]) == (0, 1)
    assert rows(db_path, "SELECT customer_ref, email, consent FROM customer_consent") == [
        (1, "alan@example.com", 1),
        (2, None, 0),
    ]
    figures = json.loads(
        cli("metrics", "--as-of", "2025-09-30", "--period", "month", "--format", "json").stdout
    )
    values = {row["metric"]: row["value"] for row in figures["metrics"]}
    assert (values["customers"], values["orders"], values["revenue"]) == (2, 4, 50.55)


def test_square_item_details_alone_sum_their_lines(cli, db_path):
    result = cli("import", "orders", str(ITEMS), "--format", "json")
    assert result.exit_code == 0, result.output
    assert (summary(result)["inserted"], summary(result)["refunds"]) == (4, 1)
    assert rows(
        db_path, "SELECT order_id, tax_minor, discount_minor, total_minor, refunded_minor "
        "FROM orders ORDER BY id",
    ) == [
        ("pA8vR3kQ1mZx", 216, 300, 2916, 1166),
        ("pC2nT7wE4rYu", 68, 0, 918, 0),
        ("pE5yH9oP2aSd", 112, 0, 1512, 0),
        ("pG3uJ6iL8kFh", 65, 90, 875, 0),
    ]  # fmt: skip
    # the transactions export of the same days then changes nothing
    again = summary(cli("import", "orders", str(TRANSACTIONS), "--format", "json"))
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 4)


def test_a_refund_whose_payment_no_import_holds_is_rejected(cli, db_path, tmp_path):
    with open(TRANSACTIONS, newline="") as handle:
        lines = list(csv.reader(handle))
    refund_only = tmp_path / "refunds.csv"
    with open(refund_only, "w", newline="") as handle:
        csv.writer(handle).writerows([lines[0], lines[4]])  # the header and the refund
    result = cli("import", "orders", str(refund_only), "--format", "json")
    assert result.exit_code == 3
    assert (summary(result)["inserted"], summary(result)["rejected"]) == (0, 1)
    assert rejects(refund_only) == [
        "Payment ID: a refund of payment pA8vR3kQ1mZx, which no import holds; import the "
        "export with the payment, then this file again"
    ]
    assert rows(db_path, "SELECT count(*) FROM orders") == [(0,)]
    # once the payment is in, the same refund file applies, once
    assert cli("import", "orders", str(TRANSACTIONS)).exit_code == 0
    assert cli("import", "orders", str(refund_only)).exit_code == 0
    assert rows(db_path, "SELECT refunded_minor FROM orders WHERE order_id = 'pA8vR3kQ1mZx'") == [
        (1166,)
    ]
    # a second partial refund, in next week's export, adds up
    later = [lines[4][0].replace("2025-09-15", "2025-09-22"), *lines[4][1:]]
    later[lines[0].index("Net Sales")], later[lines[0].index("Tax")] = "-$5.00", "-$0.40"
    with open(tmp_path / "next.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([lines[0], later])
    assert cli("import", "orders", str(tmp_path / "next.csv")).exit_code == 0
    assert cli("import", "orders", str(tmp_path / "next.csv")).exit_code == 0
    assert rows(db_path, "SELECT refunded_minor FROM orders WHERE order_id = 'pA8vR3kQ1mZx'") == [
        (1166 + 540,)
    ]


SQUARE_US = (
    "Date,Time,Time Zone,Net Sales,Tax,Payment ID,Customer ID,Event Type\n"
    "10/05/2025,2:30:00 PM,Pacific Time (US & Canada),$10.00,$0.90,P1,,Payment\n"
    "10/06/2025,9:05:00 AM,Mars Standard Time,$5.00,$0.45,P2,,Payment\n"
    "10/07/2025,12:00:00 PM,Eastern Time (US & Canada),-$5.00,-$0.45,P3,C9,Payment\n"
    "10/08/2025,8:00:00 AM,Eastern Time (US & Canada),-$2.00,-$0.18,P1,,Refund\n"
)


def test_square_times_in_their_zone_unknown_zones_and_negative_payments(cli, db_path, tmp_path):
    source = write(tmp_path / "sq.csv", SQUARE_US)
    result = cli(
        "import", "orders", str(source), "--source", "square_transactions",
        "--date-format", "MM/DD/YYYY", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 3
    assert rejects(source) == [
        "Date: unknown time zone 'Mars Standard Time'; pass --timezone with its name, e.g. "
        "--timezone America/New_York, to read the file's times in it",
        "Net Sales: negative total '-$5.00' is not an order; refunds belong in the refunded "
        "column (or a refund export)",
    ]
    assert rows(
        db_path, "SELECT order_id, ordered_at, total_minor, refunded_minor FROM orders"
    ) == [("P1", "2025-10-05T21:30:00Z", 1090, 218)]
    zoned = cli(
        "import", "orders", str(source), "--source", "square_transactions",
        "--date-format", "MM/DD/YYYY", "--timezone", "Europe/Berlin",
    )  # fmt: skip
    assert zoned.exit_code == 3  # P3 still rejected
    assert rows(db_path, "SELECT order_id, ordered_at FROM orders ORDER BY 1") == [
        ("P1", "2025-10-05T12:30:00Z"),  # --timezone names the zone of every row
        ("P2", "2025-10-06T07:05:00Z"),
    ]
