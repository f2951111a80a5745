"""The demo shop written as its platforms export it: Shopify customers (2024+) and orders (one
row per line item), the birthday-club sheet, the opt-out list and the newsletter sign-ups."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from retain_cli.demo.shop import (
    CURRENCY,
    CUSTOMER_HEADER,
    ORDER_COLUMN,
    ORDER_HEADER,
    VAT_PERCENT,
    VENDOR,
    Customer,
    Order,
    Shop,
    money_text,
    shopify_time,
    utc_text,
)


def _csv(header: Sequence[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _zip(code: str) -> str:
    # Shopify prefixes codes that a spreadsheet would mangle (leading zero) with an apostrophe
    return f"'{code}" if code.startswith("0") else code


def customers_csv(shop: Shop) -> str:
    """The Shopify customers export (2024+ layout) of the shop."""
    spent: dict[int, int] = {}
    counted: dict[int, int] = {}
    for o in shop.orders:
        if o.cancelled_at is None:
            spent[o.customer] = spent.get(o.customer, 0) + max(o.total_minor - o.refunded_minor, 0)
            counted[o.customer] = counted.get(o.customer, 0) + 1
    rows = []
    for i, c in enumerate(shop.customers):
        rows.append(
            [
                f"'{c.customer_id}",
                c.first_name,
                c.last_name,
                c.email,
                "yes" if c.accepts_marketing else "no",
                c.company,
                c.address1,
                "",
                c.city,
                "BE" if c.city == "Berlin" else "",
                "DE",
                _zip(c.zip),
                "",
                c.phone,
                "no",
                money_text(spent.get(i, 0)),
                str(counted.get(i, 0)),
                c.note,
                "no",
                shop.tags[i],
            ]
        )
    return _csv(CUSTOMER_HEADER, rows)


def birthdays_csv(shop: Shop) -> str:
    """The birthday club sign-up sheet: e-mail and birthday of the members."""
    rows = [[c.email, c.birthday] for c in shop.customers if c.birthday]
    return _csv(["Email", "Birthday"], rows)


def unsubscribes_csv(shop: Shop) -> str:
    """The mailing tool's list of addresses that unsubscribed (an opt-out list)."""
    rows = [[c.email, c.unsubscribed] for c in shop.customers if c.unsubscribed]
    return _csv(["Email", "Reason"], rows)


def signups_csv(shop: Shop) -> str:
    """The website's newsletter form: people who signed up lately and have not ordered yet."""
    rows = [
        [person.email, person.first_name, person.last_name, "yes", utc_text(when) or ""]
        for person, when in shop.signups
    ]
    return _csv(["Email", "First Name", "Last Name", "Accepts Marketing", "Signup Date"], rows)


def coupon_codes_csv(seed: int, count: int = 40) -> str:
    """The shop's export of a discount with ``count`` single-use codes (10% off, once per
    code), as Shopify's discounts export writes it: the pool of the win-back campaign. Its
    own generator, so the shop's data stay as they are."""
    import random

    rng = random.Random(f"coupons:{seed}")
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
    codes: list[str] = []
    while len(codes) < count:
        code = "MISSYOU-" + "".join(rng.choice(letters) for _ in range(6))
        if code not in codes:
            codes.append(code)
    header = ["Name", "Value", "Value Type", "Type", "Status", "Usage Limit Per Code"]
    header += ["Times Used In Total", "Start", "End"]
    return _csv(
        header,
        [[c, "-10.0", "percentage", "", "Active", "1", "0", "", ""] for c in codes],
    )


def orders_csv(shop: Shop) -> str:
    """The Shopify orders export of the shop: one row per line item, order fields on the first."""
    width = len(ORDER_HEADER)
    rows: list[list[str]] = []
    for o in shop.orders:
        person = shop.customers[o.customer]
        created = shopify_time(o.created_at)
        name = f"{person.first_name} {person.last_name}"
        for j, line in enumerate(o.lines):
            row = [""] * width
            row[ORDER_COLUMN["Name"]] = o.name
            row[ORDER_COLUMN["Email"]] = o.email
            row[ORDER_COLUMN["Created at"]] = created
            row[ORDER_COLUMN["Lineitem quantity"]] = str(line.quantity)
            row[ORDER_COLUMN["Lineitem name"]] = line.name
            row[ORDER_COLUMN["Lineitem price"]] = money_text(line.price_minor)
            row[ORDER_COLUMN["Lineitem sku"]] = line.sku
            row[ORDER_COLUMN["Lineitem requires shipping"]] = (
                "true" if o.shipping_minor else "false"
            )
            row[ORDER_COLUMN["Lineitem taxable"]] = "true"
            row[ORDER_COLUMN["Lineitem fulfillment status"]] = (
                "fulfilled" if o.fulfilled_at else "pending"
            )
            row[ORDER_COLUMN["Vendor"]] = VENDOR
            row[ORDER_COLUMN["Lineitem discount"]] = "0.00"
            if j == 0:
                _order_fields(row, o, person, name, created)
            rows.append(row)
    return _csv(ORDER_HEADER, rows)


def _order_fields(row: list[str], o: Order, person: Customer, name: str, created: str) -> None:
    values: dict[str, str] = {
        "Financial Status": o.financial_status,
        "Paid at": created,
        "Fulfillment Status": "fulfilled" if o.fulfilled_at else "unfulfilled",
        "Fulfilled at": shopify_time(o.fulfilled_at) if o.fulfilled_at else "",
        "Accepts Marketing": "yes" if person.accepts_marketing else "no",
        "Currency": CURRENCY,
        "Subtotal": money_text(o.subtotal_minor),
        "Shipping": money_text(o.shipping_minor),
        "Taxes": money_text(o.tax_minor),
        "Total": money_text(o.total_minor),
        "Discount Code": o.discount_code,
        "Discount Amount": money_text(o.discount_minor),
        "Shipping Method": "Standard" if o.shipping_minor else "Local pickup",
        "Billing Name": name,
        "Billing Street": person.address1,
        "Billing Address1": person.address1,
        "Billing Company": person.company,
        "Billing City": person.city,
        "Billing Zip": _zip(person.zip),
        "Billing Country": "DE",
        "Cancelled at": shopify_time(o.cancelled_at) if o.cancelled_at else "",
        "Payment Method": "Shopify Payments",
        "Payment Reference": f"c{o.order_id[-8:]}.1",
        "Refunded Amount": money_text(o.refunded_minor),
        "Outstanding Balance": "0.00",
        "Id": o.order_id,
        "Risk Level": "Low",
        "Source": o.source,
        "Tax 1 Name": f"VAT {VAT_PERCENT}%",
        "Tax 1 Value": money_text(o.tax_minor),
        "Payment ID": f"pay_{o.order_id[-10:]}",
        "Payment References": f"pay_{o.order_id[-10:]}",
    }
    if o.shipping_minor:
        values.update(
            {
                "Shipping Name": name,
                "Shipping Street": person.address1,
                "Shipping Address1": person.address1,
                "Shipping Company": person.company,
                "Shipping City": person.city,
                "Shipping Zip": _zip(person.zip),
                "Shipping Country": "DE",
            }
        )
    if o.source == "pos":
        values["Location"] = "Rosie's Bakery, Oderberger Str."
    for key, value in values.items():
        row[ORDER_COLUMN[key]] = value


# -- the command -------------------------------------------------------------------------
