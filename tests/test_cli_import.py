"""``retain import``: every layout through the CLI, idempotency, bad input, exit codes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

FORMATS = Path(__file__).parent / "data" / "import"


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
    result = cli("import", "orders", str(FORMATS / "shopify_orders.csv"), "--format", "json")
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
