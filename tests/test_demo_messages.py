"""The demo's outbox reads true: `retain demo`, then `retain send --yes` as the README does,
then every .eml parsed and each fact in it checked against the database with SQL of its own.

The facts: the recipient's name, dates (the order's day in the shop's time zone, "since"),
counts (orders, days since the last visit, other items), amounts (line items, subtotal,
discount, shipping, tax, total: they add up on the page) and how money is written (the
shop's locale, en_GB: €16.40; never a decimal comma beside English text).
"""

from __future__ import annotations

import itertools
import re
import sqlite3
from datetime import UTC, date, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from retain_cli.demo.history import HISTORY_REPLY

SHOP_ZONE = ZoneInfo("Europe/Berlin")
MONEY = r"-?€\d{1,3}(?:,\d{3})*\.\d{2}"
ANY_MONEY = re.compile(r"-?(?:€\s?)?\d[\d.,]*\d(?:\s?€)?")


def cents(text: str) -> int:
    assert re.fullmatch(MONEY, text), f"{text!r} is not money as en_GB writes it"
    negative = text.startswith("-")
    whole, frac = text.lstrip("-").lstrip("€").replace(",", "").split(".")
    value = int(whole) * 100 + int(frac)
    return -value if negative else value


def local_day(stamp: str) -> date:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(SHOP_ZONE).date()


def long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"  # en_GB's long date: 7 October 2025


def parse(path: Path) -> tuple[EmailMessage, str, str]:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    text = message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    body, _, footer = text.partition("\n-- \n")
    assert footer, f"{path}: no footer"
    html = message.get_body(preferencelist=("html",))
    if html is not None:  # the HTML part states the same amounts and dates as the text
        page = re.sub(r"<[^>]+>", " ", html.get_content()).replace("&times;", "x")
        assert set(re.findall(MONEY, page)) == set(re.findall(MONEY, body)), path
        dates = re.findall(r"\d{1,2} [A-Z][a-z]+ \d{4}|[A-Z][a-z]+ \d{4}", body)
        assert all(d in page for d in dates), path
        money_reads_english(page)
    return message, body, footer


class Facts:
    """The database, read with SQL of this test's own (not the code under test)."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path)
        self.conn.row_factory = sqlite3.Row

    def customer(self, email: str) -> sqlite3.Row:
        row = self.conn.execute("SELECT * FROM customers WHERE email = ?", (email,)).fetchone()
        assert row is not None, email
        return row

    def orders(self, ref: int) -> list[sqlite3.Row]:
        """Kept orders (not cancelled), oldest first."""
        return self.conn.execute(
            "SELECT * FROM orders WHERE customer_ref = ? AND cancelled_at IS NULL "
            "ORDER BY ordered_at, id",
            (ref,),
        ).fetchall()

    def items(self, order: int) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT * FROM order_items WHERE order_ref = ? ORDER BY line_no", (order,)
        ).fetchall()


def check_name(message: EmailMessage, body: str, customer: sqlite3.Row, fallback: str) -> None:
    full = " ".join(p for p in (customer["first_name"], customer["last_name"]) if p)
    assert message["To"].addresses[0].display_name == full
    assert message["To"].addresses[0].addr_spec == customer["email"]
    first = customer["first_name"] or fallback
    assert re.match(rf"(Hi|Dear|Happy birthday,) {re.escape(first)}[,!]\n", body), body


def check_variant(message: EmailMessage, facts: Facts, customer: sqlite3.Row) -> None:
    """The win-back is an A/B test: the subject is the variant's the ledger recorded."""
    (variant,) = facts.conn.execute(
        "SELECT variant FROM sends WHERE message_id = ?", (message["Message-ID"],)
    ).fetchone()
    assert message["X-Retain-Variant"] == variant, variant
    first = customer["first_name"] or "friend"
    subjects = {"A": f"We miss you, {first}", "B": f"It's been a while, {first}"}
    assert message["Subject"] == subjects[variant], (variant, message["Subject"])


def check_survey(body: str, facts: Facts, customer: sqlite3.Row) -> None:
    """The NPS survey names their last kept order truly and asks on the 0-10 scale."""
    last = facts.orders(customer["id"])[-1]
    assert "How likely are you to recommend Rosie's Bakery to a friend?" in body
    assert (
        f"(Your last order was {last['order_id']} on "
        f"{long_date(local_day(last['ordered_at']))}.)" in body
    ), body
    assert "Just reply with a number from 0 to 10" in body


def check_thank_you(body: str, facts: Facts, customer: sqlite3.Row) -> None:
    first = facts.orders(customer["id"])[0]
    assert first["refunded_minor"] < first["total_minor"], "thanked for a refunded order"
    head = f"Your order {first['order_id']} of {long_date(local_day(first['ordered_at']))}:\n"
    assert head in body
    lines = body.split(head, 1)[1].split("\n\n", 1)[0].splitlines()
    items = facts.items(first["id"])
    assert len(lines) >= len(items)
    for line, item in zip(lines, items, strict=False):
        match = re.fullmatch(rf"  (\d+) x (.+?)(?: \(({MONEY}) each\))?: ({MONEY})", line)
        assert match, line
        assert int(match[1]) == item["quantity"] and match[2] == item["name"]
        if match[3]:
            assert cents(match[3]) == item["price_minor"]
        assert cents(match[4]) == item["quantity"] * item["price_minor"]
    shown = {}
    for line in lines[len(items) :]:
        label, _, amount = line.strip().partition(": ")
        shown[label] = amount
    total_text = shown.pop("Total")
    match = re.fullmatch(rf"({MONEY})(?: \(including ({MONEY}) tax\))?", total_text)
    assert match, total_text
    total = cents(match[1])
    assert total == first["total_minor"]
    items_total = sum(i["quantity"] * i["price_minor"] for i in items)
    subtotal = cents(shown.pop("Subtotal")) if "Subtotal" in shown else items_total
    discount = -cents(shown.pop("Discount")) if "Discount" in shown else 0
    shipping = cents(shown.pop("Shipping")) if "Shipping" in shown else 0
    tax = cents(shown.pop("Tax")) if "Tax" in shown else 0
    assert shown == {}, shown
    # what the page says adds up, and is what the export said
    assert subtotal == items_total
    assert subtotal - discount + shipping + tax == total
    assert discount == (first["discount_minor"] or 0)
    assert shipping == (first["shipping_minor"] or 0)
    if match[2]:
        assert cents(match[2]) == first["tax_minor"] and tax == 0
    else:
        assert tax == (first["tax_minor"] or 0)


def check_recommendations(body: str, facts: Facts, customer: sqlite3.Row) -> None:
    """Each suggestion under "Goes well with what you bought": they bought what it goes with
    and not it (in the last 180 days), it sold in the last 90, and the share is true."""
    if "Goes well with what you bought:\n" not in body:
        return
    block = body.split("Goes well with what you bought:\n", 1)[1].split("\n\n", 1)[0]
    for line in block.splitlines():
        match = re.fullmatch(r"  (.+) \((\d+)% of the orders with (.+) had it too\)", line)
        assert match, line
        name, percent, because = match[1], int(match[2]), match[3]
        bought = {
            row[0].split(" - ")[0]
            for row in facts.conn.execute(
                "SELECT i.name FROM order_items i JOIN orders o ON o.id = i.order_ref "
                "WHERE o.customer_ref = ? AND o.cancelled_at IS NULL",
                (customer["id"],),
            )
        }
        assert because in bought and name not in bought, (because, name, bought)

        def orders_with(*products: str) -> int:
            rule = " AND ".join(
                "EXISTS (SELECT 1 FROM order_items i WHERE i.order_ref = o.id "
                "AND (i.name = ? OR i.name LIKE ? || ' - %'))"
                for _ in products
            )
            return facts.conn.execute(
                "SELECT count(*) FROM orders o WHERE o.cancelled_at IS NULL "
                f"AND NOT (o.total_minor > 0 AND o.refunded_minor >= o.total_minor) AND {rule}",
                [v for p in products for v in (p, p)],
            ).fetchone()[0]

        both, base = orders_with(because, name), orders_with(because)
        assert both >= 3 and abs(percent - 100 * both / base) <= 0.5, (percent, both, base)


def check_replenishment(
    message: EmailMessage, body: str, facts: Facts, customer: sqlite3.Row, today: date
) -> None:
    """The product they are reminded of: they bought it on the day the message says, not
    since, and the interval is theirs (the median of the days between their purchases of
    it), due by today."""
    product = message["Subject"].removeprefix("Running low on ").removesuffix("?")
    match = re.search(
        rf"You bought {re.escape(product)} on (\d+ \w+ \d{{4}})(, and you usually come back "
        r"for more after|; customers who buy it again usually do so after) (\d+) days\.",
        body,
    )
    assert match, body
    days = sorted(
        {
            local_day(row[0])
            for row in facts.conn.execute(
                "SELECT o.ordered_at FROM orders o JOIN order_items i ON i.order_ref = o.id "
                "WHERE o.customer_ref = ? AND o.cancelled_at IS NULL "
                "AND (i.name = ? OR i.name LIKE ? || ' - %')",
                (customer["id"], product, product),
            )
        }
    )
    assert long_date(days[-1]) == match[1]
    interval = int(match[3])
    if match[2].startswith(", and you usually"):
        gaps = sorted(b.toordinal() - a.toordinal() for a, b in itertools.pairwise(days))
        middle = len(gaps) // 2
        median = gaps[middle] if len(gaps) % 2 else (gaps[middle - 1] + gaps[middle]) / 2
        assert abs(interval - median) <= 0.5, (interval, gaps)
    else:
        assert len(days) == 1
    assert (today - days[-1]).days >= interval


def check_win_back(body: str, facts: Facts, customer: sqlite3.Row, today: date) -> None:
    orders = facts.orders(customer["id"])
    assert len(orders) >= 2  # the audience: at_risk where orders >= 2
    last = orders[-1]
    days = (today - local_day(last["ordered_at"])).days
    assert f"It's been {days} days since we last saw you at Rosie's Bakery" in body
    items = facts.items(last["id"])
    others = len(items) - 1
    took = f"Last time you took home {items[0]['name']}"
    if others:
        took += f" and {others} other thing{'s' if others > 1 else ''}"
    assert f"{took}. It's still on the shelf" in body
    # the coupon code: the one the ledger gave this message, from the demo's pool file
    (code, pool) = facts.conn.execute(
        "SELECT k.code, k.pool FROM sends s JOIN coupon_codes k ON k.id = s.coupon_ref "
        "WHERE s.campaign = 'win-back' AND s.customer_ref = ? AND s.state = 'sent'",
        (customer["id"],),
    ).fetchone()
    assert f"Ordering online instead? Use your own code {code} at checkout." in body
    assert pool == "WINBACK"
    (holders,) = facts.conn.execute(
        "SELECT count(*) FROM sends WHERE coupon_ref = (SELECT id FROM coupon_codes "
        "WHERE code = ?)",
        (code,),
    ).fetchone()
    assert holders == 1  # nobody else got it


def check_birthday(facts: Facts, customer: sqlite3.Row, today: date) -> None:
    birthday = customer["birthday"]
    assert birthday, customer["email"]
    month, day = int(birthday[-5:-3]), int(birthday[-2:])
    gaps = [(today - date(year, month, day)).days for year in (today.year, today.year - 1)]
    assert any(0 <= gap <= 2 for gap in gaps), (birthday, today)  # the day, or caught up


def check_welcome(body: str, facts: Facts, customer: sqlite3.Row, step: int) -> None:
    assert "Welcome to Rosie's Bakery!" in body or step == 2
    if step == 2:
        orders = len(facts.orders(customer["id"]))
        if orders == 0:
            assert "Whenever you're ready for your first order" in body
        else:
            assert f"Thanks again for your {orders} order" in body


def check_vip(body: str, facts: Facts, customer: sqlite3.Row) -> None:
    # countable orders: an order refunded in full is no order ('retain explain order')
    orders = [
        o
        for o in facts.orders(customer["id"])
        if not (o["total_minor"] > 0 and o["refunded_minor"] >= o["total_minor"])
    ]
    spent = sum(max(o["total_minor"] - o["refunded_minor"], 0) for o in orders)
    starts = [local_day(orders[0]["ordered_at"])]
    if customer["source_created_at"]:
        starts.append(local_day(customer["source_created_at"]))
    since = min(starts)
    match = re.search(rf"customers: (\d+) orders and ({MONEY}) since (\w+ \d{{4}})\.", body)
    assert match, body
    assert int(match[1]) == len(orders)
    assert cents(match[2]) == spent
    assert match[3] == f"{since:%B %Y}"


def check_tier_up(
    message: EmailMessage, body: str, facts: Facts, customer: sqlite3.Row, config: Path
) -> None:
    """The tier, the order that reached it, the balance, its expiry, the rewards it buys and
    what the next tier takes: worked out here from the orders and the loyalty: section."""
    loyalty = yaml.safe_load(config.read_text(encoding="utf-8"))["loyalty"]
    tiers = [(t["name"], round(t["min_spend"] * 100)) for t in loyalty["tiers"]]
    year = 365 * 86400
    orders = [
        (int(datetime.fromisoformat(o["ordered_at"].replace("Z", "+00:00")).timestamp()), o)
        for o in facts.orders(customer["id"])
        if not (o["total_minor"] > 0 and o["refunded_minor"] >= o["total_minor"])
    ]
    net = [(t, max(o["total_minor"] - o["refunded_minor"], 0), o) for t, o in orders]
    match = re.search(r"With your order on (\d+ \w+ \d{4}) you reached (.+?) in ", body)
    assert match, body
    tier = match[2]
    assert message["Subject"].startswith(f"Welcome to {tier}, ")
    minimum = dict(tiers)[tier]
    crossing = [
        long_date(local_day(o["ordered_at"]))
        for t, amount, o in net
        if sum(a for u, a, _ in net if t - year < u < t)
        < minimum
        <= sum(a for u, a, _ in net if t - year < u <= t)
    ]
    assert match[1] in crossing, (match[1], crossing)
    # points: each order's net amount in whole euros, since the last gap of a year or more
    start = 0
    for i in range(1, len(net)):
        if net[i][0] - net[i - 1][0] >= year:
            start = i
    codes = {r["code"].upper(): r["points"] for r in loyalty.get("rewards", []) if r.get("code")}
    balance = sum(a // 100 for _, a, _ in net[start:]) - sum(
        codes.get((o["discount_code"] or "").upper(), 0) for _, _, o in net[start:]
    )
    until = datetime.fromtimestamp(net[-1][0] + year, UTC).astimezone(SHOP_ZONE).date()
    plural = "s" if balance != 1 else ""
    assert f"You have {balance} point{plural}, valid until {long_date(until)} " in body, body
    affordable = [r for r in loyalty.get("rewards", []) if r["points"] <= balance]
    if affordable:
        listed = ", ".join(f"{r['name']} ({r['points']} points)" for r in affordable)
        assert f"They are enough for: {listed}." in body
    else:
        assert "enough for" not in body
    names = [name for name, _ in tiers]
    if names.index(tier) + 1 < len(names):
        following, need = tiers[names.index(tier) + 1]
        now = datetime.now(UTC).timestamp()
        window = sum(a for t, a, _ in net if now - year < t <= now)
        more = re.search(rf"({MONEY}) more within a year brings you to (.+)\.", body)
        assert more and more[2] == following, body
        assert cents(more[1]) == need - window
    else:
        assert "brings you to" not in body


def money_reads_english(body: str) -> None:
    """Every amount is en_GB money; no '16,40' beside English text."""
    assert not re.search(r"\d,\d{2}(?!\d)", body), body
    for amount in re.findall(r"-?€[\d.,]+", body):
        cents(amount.rstrip(".,"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`retain demo shop`, then `retain send --yes` inside it (once for the module)."""
    import os

    from typer.testing import CliRunner

    from retain_cli.cli.main import app

    base = tmp_path_factory.mktemp("demo")
    folder = base / "shop"
    saved = {k: os.environ.get(k) for k in ("RETAIN_DB", "RETAIN_CONFIG", "COLUMNS", "HOME")}
    cwd = Path.cwd()
    runner = CliRunner()
    try:
        os.environ.update(
            RETAIN_DB=str(folder / "retain.db"),
            RETAIN_CONFIG=str(folder / "campaigns.yaml"),
            COLUMNS="200",
            HOME=str(base),
        )
        os.chdir(base)
        made = runner.invoke(app, ["demo", "shop"], catch_exceptions=False)
        assert made.exit_code == 0, made.output
        os.chdir(folder)
        check = runner.invoke(app, ["campaigns", "check"], catch_exceptions=False)
        sent = runner.invoke(app, ["send", "--yes", "--format", "json"], catch_exceptions=False)
        today = datetime.now(UTC).astimezone(SHOP_ZONE).date()
        vip = runner.invoke(app, ["preview", "vip-thanks", "-n", "5"], catch_exceptions=False)
    finally:
        os.chdir(cwd)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return {"folder": folder, "check": check, "sent": sent, "today": today, "vip": vip}


def test_every_demo_message_states_facts(demo):
    folder = demo["folder"]
    assert demo["sent"].exit_code == 0, demo["sent"].output
    facts = Facts(folder / "retain.db")
    files = sorted((folder / "outbox").rglob("*.eml"))
    # the demo's send history (retain_cli/demo/history.py) is recorded without messages
    (sent,) = facts.conn.execute(
        "SELECT count(*) FROM sends WHERE state = 'sent' AND reply IS NOT ?", (HISTORY_REPLY,)
    ).fetchone()
    assert len(files) == sent > 10
    seen: dict[str, int] = {}
    for path in files:
        message, body, footer = parse(path)
        campaign, step = message["X-Retain-Campaign"], int(message["X-Retain-Step"])
        seen[campaign] = seen.get(campaign, 0) + 1
        customer = facts.customer(message["To"].addresses[0].addr_spec)
        assert footer.startswith("Rosie's Bakery\nBeispielstraße 12, 10115 Berlin\n"), footer
        money_reads_english(body)
        if campaign == "thank-you":
            check_name(message, body, customer, "there")
            check_thank_you(body, facts, customer)
            check_recommendations(body, facts, customer)
        elif campaign == "win-back":
            check_name(message, body, customer, "friend")
            check_win_back(body, facts, customer, demo["today"])
            check_variant(message, facts, customer)
        elif campaign == "birthday":
            check_name(message, body, customer, "friend")
            check_birthday(facts, customer, demo["today"])
        elif campaign == "welcome":
            check_name(message, body, customer, "there")
            check_welcome(body, facts, customer, step)
        elif campaign == "vip-thanks":
            check_name(message, body, customer, "friend")
            check_vip(body, facts, customer)
        elif campaign == "replenishment":
            check_name(message, body, customer, "there")
            check_replenishment(message, body, facts, customer, demo["today"])
        elif campaign == "feedback":
            check_name(message, body, customer, "there")
            check_survey(body, facts, customer)
        elif campaign == "tier-up":
            check_name(message, body, customer, "friend")
            check_tier_up(message, body, facts, customer, folder / "campaigns.yaml")
        else:
            raise AssertionError(f"{path}: no fact check for campaign {campaign!r}")
    assert {"thank-you", "win-back", "birthday", "welcome", "tier-up", "replenishment"} <= set(
        seen
    ), seen


def test_demo_vip_preview_states_facts(demo):
    """The VIP mail (no champion enters the segment on the demo's first day, so the outbox
    has none): its preview is built exactly as sending builds it."""
    result = demo["vip"]
    assert result.exit_code == 0, result.output
    facts = Facts(demo["folder"] / "retain.db")
    blocks = result.stdout.split("=== message ")[1:]
    assert len(blocks) == 5
    for block in blocks:
        head, _, rest = block.partition("\n")
        email = re.match(r"\d+ of 5: step 1 to (\S+)", head)[1]
        body = rest.split("\n\n", 1)[1].split("\n-- \n")[0]
        customer = facts.customer(email)
        assert body.startswith(f"Dear {customer['first_name']},\n")
        check_vip(body, facts, customer)
        money_reads_english(body)


def test_demo_shop_name_and_address_agree(demo):
    """The demo shop, its campaign file and the README name the same shop and address, and
    `campaigns check` warns that they are the example's."""
    repo = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((demo["folder"] / "campaigns.yaml").read_text(encoding="utf-8"))
    example = yaml.safe_load((repo / "campaigns.example.yaml").read_text(encoding="utf-8"))
    assert config == example
    assert config["sender"]["from"].startswith("Rosie's Bakery <")
    assert config["sender"]["address"] == "Beispielstraße 12, 10115 Berlin"
    assert config["shop"] == {"locale": "en_GB", "timezone": "Europe/Berlin"}
    readme = (repo / "README.md").read_text(encoding="utf-8")
    assert "Beispielstraße 12, 10115 Berlin" in readme and "Springfield" not in readme
    orders = (demo["folder"] / "exports" / "orders_export_1.csv").read_text(encoding="utf-8")
    assert ",Rosie's Bakery," in orders  # the Vendor column
    check = demo["check"]
    assert check.exit_code == 0, check.output
    warning = " ".join(check.stderr.split())
    assert warning.startswith(
        f"Warning: {demo['folder'] / 'campaigns.yaml'} still has the example shop's sender"
    )
    assert "sender.address: 'Beispielstraße 12, 10115 Berlin' is the example's postal" in warning
