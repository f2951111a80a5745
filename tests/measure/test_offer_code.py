"""Offer codes: the campaign file's offer_code key, and the discount code each order carries
from the import (Shopify's Discount Code; a generic sheet's coupon or discount code)."""

from __future__ import annotations

from pathlib import Path

import pytest

IMPORTS = Path(__file__).parents[1] / "imports" / "data"


def test_shopify_orders_keep_their_discount_code(cli, store):
    result = cli("import", "orders", str(IMPORTS / "shopify_orders.csv"))
    assert result.exit_code == 0, result.output
    rows = store.conn.execute("SELECT order_id, discount_code, discount_minor FROM orders")
    assert rows.fetchall() == [("#1001", "WELCOME10", 599)]


def test_a_sheet_with_a_coupon_column(cli, store, tmp_path):
    sheet = tmp_path / "orders.csv"
    sheet.write_text(
        "order_id,email,date,amount,currency,coupon code\n"
        "A1,ann@example.org,2025-06-01,10.00,EUR,WINBACK10\n"
        "A2,ann@example.org,2025-06-02,12.00,EUR,\n"
    )
    assert cli("import", "orders", str(sheet)).exit_code == 0
    rows = store.conn.execute("SELECT order_id, discount_code FROM orders ORDER BY order_id")
    assert rows.fetchall() == [("A1", "WINBACK10"), ("A2", None)]
    # a newer export that names a code for an order already imported updates it
    sheet.write_text(
        "order_id,email,date,amount,currency,coupon code\n"
        "A2,ann@example.org,2025-06-02,12.00,EUR,SPRING\n"
    )
    assert cli("import", "orders", str(sheet)).exit_code == 0
    row = store.conn.execute("SELECT discount_code FROM orders WHERE order_id = 'A2'")
    assert row.fetchone() == ("SPRING",)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "    offer_code: WIN BACK",
            "key 'offer_code': 'WIN BACK' is not a discount code; write it as the shop does, "
            "e.g. WINBACK10 (letters, digits, '-', '_' or '.')",
        ),
        ("    offer_code: [a, b]", "key 'offer_code': must be text, not a list"),
    ],
)
def test_offer_code_is_checked(cli, config, line, message):
    text = config.read_text().replace("    offer_code: WINBACK10", line)
    config.write_text(text)
    result = cli("campaigns", "list", "--config", str(config))
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: {config}: campaign 'offer': {message}"


def test_report_words_are_not_campaign_names(cli, config):
    config.write_text(config.read_text().replace("  - name: series", "  - name: goals"))
    result = cli("campaigns", "list", "--config", str(config))
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: {config}: campaign 'goals': key 'name': 'goals' is the name of a report "
        "('retain report goals'); pick another"
    )


def test_a_numeric_offer_code_is_text(cli, config):
    config.write_text(config.read_text().replace("offer_code: WINBACK10", "offer_code: 2025"))
    result = cli("campaigns", "list", "--config", str(config), "-f", "json")
    assert result.exit_code == 0, result.output
