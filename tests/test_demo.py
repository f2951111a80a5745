"""The demo shop generator: deterministic, in Shopify's layouts, and realistic enough to analyse."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import date, datetime, timedelta

import pytest

from retain_cli.demo import (
    CUSTOMER_HEADER,
    ORDER_HEADER,
    birthdays_csv,
    customers_csv,
    generate_shop,
    orders_csv,
    shopify_time,
    signups_csv,
    unsubscribes_csv,
)
from retain_cli.errors import UsageError

TODAY = date(2026, 6, 30)
SHOPIFY_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}$")
ORDER_FIELDS = ("Financial Status", "Currency", "Subtotal", "Total", "Id", "Refunded Amount")


@pytest.fixture(scope="module")
def shop_files() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    shop = generate_shop(400, 11, TODAY)
    customers = list(csv.DictReader(io.StringIO(customers_csv(shop))))
    orders = list(csv.DictReader(io.StringIO(orders_csv(shop))))
    return customers, orders


def _orders_by_name(rows: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    grouped: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        grouped.setdefault(row["Name"], []).append(row)
    return grouped


def _cents(text: str) -> int:
    whole, _, frac = text.partition(".")
    return int(whole) * 100 + int(frac or 0)


def test_same_seed_same_bytes_other_seed_other_shop():
    first = generate_shop(150, 5, TODAY)
    again = generate_shop(150, 5, TODAY)
    other = generate_shop(150, 6, TODAY)
    assert customers_csv(first) == customers_csv(again)
    assert orders_csv(first) == orders_csv(again)
    assert customers_csv(first) != customers_csv(other)
    assert orders_csv(first) != orders_csv(other)


def test_headers_are_shopifys_layouts():
    shop = generate_shop(20, 1, TODAY)
    assert customers_csv(shop).splitlines()[0].split(",") == CUSTOMER_HEADER
    assert orders_csv(shop).splitlines()[0].split(",") == ORDER_HEADER
    assert len(ORDER_HEADER) == 79
    assert CUSTOMER_HEADER[:5] == [
        "Customer ID",
        "First Name",
        "Last Name",
        "Email",
        "Accepts Email Marketing",
    ]


def test_order_fields_only_on_first_line_of_each_order(shop_files):
    _, orders = shop_files
    for name, rows in _orders_by_name(orders).items():
        assert re.fullmatch(r"#\d+", name)
        first, *rest = rows
        assert all(first[f] for f in ORDER_FIELDS), name
        for row in rest:
            assert all(row[f] == "" for f in ORDER_FIELDS), name
            assert row["Created at"] == first["Created at"]
        for row in rows:
            assert row["Lineitem name"] and int(row["Lineitem quantity"]) >= 1


def test_amounts_add_up(shop_files):
    _, orders = shop_files
    for name, rows in _orders_by_name(orders).items():
        first = rows[0]
        lines = sum(int(r["Lineitem quantity"]) * _cents(r["Lineitem price"]) for r in rows)
        assert _cents(first["Subtotal"]) == lines, name
        total = _cents(first["Subtotal"]) - _cents(first["Discount Amount"])
        assert _cents(first["Total"]) == total + _cents(first["Shipping"]), name
        assert 0 <= _cents(first["Refunded Amount"]) <= _cents(first["Total"]), name


def test_dates_in_shopify_format_within_two_years_before_today(shop_files):
    _, orders = shop_files
    stamps = [r["Created at"] for r in orders]
    assert all(SHOPIFY_TIME.match(s) for s in stamps)
    moments = [datetime.strptime(s, "%Y-%m-%d %H:%M:%S %z") for s in stamps]
    assert max(m.date() for m in moments) < TODAY
    assert min(m.date() for m in moments) >= TODAY - timedelta(days=730)
    # summer time in Berlin is +0200, winter time +0100
    assert {s[-5:] for s in stamps} == {"+0100", "+0200"}
    for s in stamps:
        day = datetime.strptime(s[:10], "%Y-%m-%d")
        if day.month in (1, 12):
            assert s.endswith("+0100")
        if day.month in (6, 7, 8):
            assert s.endswith("+0200")


def test_names_are_numbered_in_time_order(shop_files):
    _, orders = shop_files
    firsts = [rows[0] for rows in _orders_by_name(orders).values()]
    numbers = [int(r["Name"][1:]) for r in firsts]
    assert numbers == list(range(1001, 1001 + len(firsts)))
    moments = [datetime.strptime(r["Created at"], "%Y-%m-%d %H:%M:%S %z") for r in firsts]
    assert moments == sorted(moments)


def test_shop_has_every_kind_of_customer(shop_files):
    customers, orders = shop_files
    firsts = [rows[0] for rows in _orders_by_name(orders).values()]
    per_customer = Counter(r["Email"].strip().lower() for r in firsts)
    emails = {c["Email"] for c in customers}
    assert set(per_customer) <= emails
    one_time = sum(1 for n in per_customer.values() if n == 1)
    repeat = sum(1 for n in per_customer.values() if n >= 2)
    loyal = sum(1 for n in per_customer.values() if n >= 8)
    assert one_time >= 40 and repeat >= 40 and loyal >= 5
    assert len(emails - set(per_customer)) >= 10  # newsletter sign-ups who never ordered
    # lapsed: repeat buyers silent for the last six months
    last = {}
    for r in firsts:
        last[r["Email"].strip().lower()] = r["Created at"][:10]
    cutoff = (TODAY - timedelta(days=180)).isoformat()
    assert sum(1 for e, n in per_customer.items() if n >= 2 and last[e] < cutoff) >= 5
    # recent first orders, for welcome and thank-you campaigns
    first_seen = {}
    for r in firsts:
        first_seen.setdefault(r["Email"].strip().lower(), r["Created at"][:10])
    recent = (TODAY - timedelta(days=14)).isoformat()
    assert sum(1 for d in first_seen.values() if d >= recent) >= 3
    # multi-item orders, cancellations, refunds, opt-outs, welcome codes
    assert sum(1 for rows in _orders_by_name(orders).values() if len(rows) > 1) >= 100
    assert any(r["Cancelled at"] for r in firsts)
    assert any(r["Financial Status"] == "partially_refunded" for r in firsts)
    assert any(r["Financial Status"] == "refunded" for r in firsts)
    assert any(r["Discount Code"] == "WELCOME10" for r in firsts)
    opted_out = sum(1 for c in customers if c["Accepts Email Marketing"] == "no")
    assert 0.15 * len(customers) < opted_out < 0.45 * len(customers)


def test_december_is_the_busiest_month(shop_files):
    _, orders = shop_files
    firsts = [rows[0] for rows in _orders_by_name(orders).values()]
    per_month = Counter(r["Created at"][:7] for r in firsts)
    assert per_month["2025-12"] > per_month["2025-11"]
    assert per_month["2025-12"] > per_month["2026-01"]
    stollen = [r for r in orders if r["Lineitem sku"] == "STO-01"]
    assert stollen and all(r["Created at"][5:7] in ("11", "12") for r in stollen)


def test_customers_file_totals_match_orders(shop_files):
    customers, orders = shop_files
    spent: Counter[str] = Counter()
    counted: Counter[str] = Counter()
    for rows in _orders_by_name(orders).values():
        first = rows[0]
        if first["Cancelled at"]:
            continue
        email = first["Email"].strip().lower()
        spent[email] += max(_cents(first["Total"]) - _cents(first["Refunded Amount"]), 0)
        counted[email] += 1
    for c in customers:
        assert _cents(c["Total Spent"]) == spent[c["Email"]], c["Email"]
        assert int(c["Total Orders"]) == counted[c["Email"]], c["Email"]


def test_customers_have_unique_ids_and_reserved_example_domains(shop_files):
    customers, _ = shop_files
    ids = [c["Customer ID"] for c in customers]
    assert all(re.fullmatch(r"'\d{13}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    emails = [c["Email"] for c in customers]
    assert len(set(emails)) == len(emails)
    domains = {e.split("@")[1] for e in emails}
    assert domains <= {"example.com", "example.net", "example.org", "mail.example", "post.example"}
    assert all(e == e.strip().lower() for e in emails)


def test_a_few_order_emails_are_written_in_another_case(shop_files):
    _, orders = shop_files
    firsts = [rows[0] for rows in _orders_by_name(orders).values()]
    odd = [r["Email"] for r in firsts if r["Email"] != r["Email"].strip().lower()]
    assert 0 < len(odd) < 0.1 * len(firsts)


def test_shopify_time_keeps_the_offset():
    from datetime import timezone

    moment = datetime(2025, 10, 7, 9, 50, 26, tzinfo=timezone(timedelta(hours=2)))
    assert shopify_time(moment) == "2025-10-07 09:50:26 +0200"


def test_at_least_one_customer():
    with pytest.raises(UsageError, match="at least 1"):
        generate_shop(0, 1, TODAY)


def test_birthday_club_members_are_customers_and_two_were_born_today():
    shop = generate_shop(300, 2, TODAY)
    rows = list(csv.DictReader(io.StringIO(birthdays_csv(shop))))
    emails = {c.email for c in shop.customers}
    assert 15 <= len(rows) <= 75
    assert all(r["Email"] in emails for r in rows)
    assert all(re.fullmatch(r"(\d{4}|-)-\d\d-\d\d", r["Birthday"]) for r in rows)
    assert any(r["Birthday"].startswith("--") for r in rows)
    assert any(not r["Birthday"].startswith("--") for r in rows)
    assert sum(1 for r in rows if r["Birthday"].endswith(f"{TODAY:-%m-%d}")) >= 2


def test_unsubscribed_customers_had_said_yes_in_shopify():
    shop = generate_shop(400, 2, TODAY)
    rows = list(csv.DictReader(io.StringIO(unsubscribes_csv(shop))))
    consent = {c.email: c.accepts_marketing for c in shop.customers}
    assert 3 <= len(rows) <= 25
    assert all(consent[r["Email"]] for r in rows)
    assert {r["Reason"] for r in rows} <= {
        "unsubscribe link",
        "asked in the shop",
        "too many e-mails",
    }


def test_newsletter_signups_are_new_people_from_the_last_week():
    shop = generate_shop(300, 2, TODAY)
    rows = list(csv.DictReader(io.StringIO(signups_csv(shop))))
    assert len(rows) == 6
    known = {c.email for c in shop.customers}
    assert not {r["Email"] for r in rows} & known
    assert all(r["Accepts Marketing"] == "yes" for r in rows)
    days = {r["Signup Date"][:10] for r in rows}
    week = {(TODAY - timedelta(days=d)).isoformat() for d in range(1, 9)}
    assert days <= week


def test_same_files_from_separate_processes(tmp_path):
    """Nothing depends on hash order or the process: two runs with different hash seeds."""
    import os
    import subprocess
    import sys

    code = (
        "import sys; from datetime import date; from retain_cli import demo; "
        "s = demo.generate_shop(80, 9, date(2026, 6, 30)); "
        "sys.stdout.write(demo.customers_csv(s) + demo.orders_csv(s) + demo.birthdays_csv(s)"
        " + demo.unsubscribes_csv(s) + demo.signups_csv(s))"
    )
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        run = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, env=env, check=True, cwd=tmp_path
        )
        outputs.append(run.stdout)
    assert outputs[0] == outputs[1] and len(outputs[0]) > 10_000
