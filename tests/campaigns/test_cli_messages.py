"""What customers read is true (issue 9, "Messages must state facts"), through the CLI:

- ``customer.since`` is the first order, or the platform's sign-up date when earlier;
- ``retain preview`` shows whom the campaign (and step) would pick, or says it shows a
  stand-in;
- the thank-you mail's amounts add up (items, discount, shipping, tax as the export gives
  them, total), and an order refunded in full is not thanked for;
- money and dates are written for ``shop.locale`` (Babel), dates in ``shop.timezone``, in
  messages and in ``retain report``;
- the example sender is warned about by ``campaigns check`` and refused by ``send`` over SMTP.
"""

from __future__ import annotations

import csv
import io
import shutil
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from smtp_servers import SmtpServer

from retain_cli.demo import ORDER_HEADER
from retain_cli.store import Store

REPO = Path(__file__).resolve().parents[2]
AS_OF = "2025-07-01"

SHOP_CONFIG = """\
shop:
  locale: {locale}
  timezone: Europe/Berlin
sender:
  from: "Kornblume Bakery <hello@kornblume-backstube.de>"
  address: "Kastanienallee 7, 10435 Berlin"
  unsubscribe: "mailto:unsubscribe@kornblume-backstube.de"
transport:
  type: outbox
  outbox: outbox
campaigns:
  - name: thank-you
    trigger: {{after: first_order, days: 3}}
    subject: "Thank you for your first order"
    template: templates/thank_you.txt.j2
"""


def order(
    name: str,
    email: str,
    created: str,
    lines: list[tuple[int, str, str]],
    *,
    subtotal: str,
    total: str,
    shipping: str = "0.00",
    taxes: str = "0.00",
    discount: str = "0.00",
    refunded: str = "0.00",
    status: str = "paid",
    cancelled: str = "",
) -> list[dict[str, str]]:
    """One order as Shopify exports it: a row per line item, order fields on the first."""
    rows = []
    for i, (quantity, item, price) in enumerate(lines):
        row = {
            "Name": name,
            "Email": email,
            "Created at": created,
            "Lineitem quantity": str(quantity),
            "Lineitem name": item,
            "Lineitem price": price,
            "Lineitem sku": item[:3].upper(),
        }
        if i == 0:
            row.update(
                {
                    "Financial Status": status,
                    "Accepts Marketing": "yes",
                    "Currency": "EUR",
                    "Subtotal": subtotal,
                    "Shipping": shipping,
                    "Taxes": taxes,
                    "Total": total,
                    "Discount Amount": discount,
                    "Refunded Amount": refunded,
                    "Cancelled at": cancelled,
                    "Billing Name": email.split("@")[0].title() + " Example",
                    "Id": name.lstrip("#"),
                }
            )
        rows.append(row)
    return rows


ORDERS = [
    # ann: VAT included in the prices (as in Germany), a discount and shipping
    *order(
        "#2001",
        "ann@example.com",
        "2025-06-27 23:40:00 +0200",
        [(2, "Butter Croissant", "3.50"), (1, "Rye Sourdough Loaf", "5.95")],
        subtotal="12.95",
        discount="1.30",
        shipping="4.90",
        taxes="1.08",
        total="16.55",
    ),
    # ben: his first order was refunded in full
    *order(
        "#2002",
        "ben@example.com",
        "2025-06-28 10:00:00 +0200",
        [(1, "Birthday Cake", "32.00")],
        subtotal="32.00",
        total="32.00",
        refunded="32.00",
        status="refunded",
    ),
    # cat: a cancelled order, then the first one she kept
    *order(
        "#2003",
        "cat@example.com",
        "2025-06-27 09:00:00 +0200",
        [(1, "Stollen", "18.00")],
        subtotal="18.00",
        total="18.00",
        status="voided",
        cancelled="2025-06-27 10:00:00 +0200",
    ),
    *order(
        "#2004",
        "cat@example.com",
        "2025-06-28 09:00:00 +0200",
        [(3, "Pretzel", "1.20")],
        subtotal="3.60",
        total="3.60",
    ),
    # dan: tax added on top of the prices (as in the US)
    *order(
        "#2005",
        "dan@example.com",
        "2025-06-28 16:00:00 +0200",
        [(1, "Coffee Beans 1kg", "20.00")],
        subtotal="20.00",
        taxes="1.60",
        total="21.60",
    ),
]


def write_orders(path: Path, rows: list[dict[str, str]]) -> Path:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=ORDER_HEADER, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


@pytest.fixture
def bakery(cli, tmp_path: Path) -> Path:
    """The orders above imported from a Shopify export, and a campaign file with the shipped
    thank-you template (en_GB, Europe/Berlin). Returns the campaign file."""
    source = write_orders(tmp_path / "orders_export_1.csv", ORDERS)
    result = cli("import", "orders", str(source))
    assert result.exit_code == 0, result.output
    folder = tmp_path / "bakery"
    shutil.copytree(REPO / "templates", folder / "templates")
    config = folder / "campaigns.yaml"
    config.write_text(SHOP_CONFIG.format(locale="en_GB"), encoding="utf-8")
    return config


def messages(folder: Path) -> dict[str, str]:
    """recipient -> text of each .eml in the outbox."""
    out = {}
    for path in sorted(folder.rglob("*.eml")):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        assert isinstance(message, EmailMessage)
        text = message.get_body(preferencelist=("plain",)).get_content()
        out[message["To"].addresses[0].addr_spec] = text.replace("\r\n", "\n").split("\n-- \n")[0]
    return out


def test_thank_you_adds_up_and_skips_a_refunded_order(cli, bakery, db_path):
    plan = cli("plan", "--config", str(bakery), "--as-of", AS_OF, "-f", "csv")
    assert plan.exit_code == 0, plan.output
    rows = {r["email"]: r for r in csv.DictReader(io.StringIO(plan.stdout))}
    assert {e: (r["status"], r["reason"]) for e, r in rows.items()} == {
        "ann@example.com": ("due", ""),
        "ben@example.com": ("left_out", "order refunded in full"),
        "cat@example.com": ("due", ""),
        "dan@example.com": ("due", ""),
    }
    sent = cli("send", "--yes", "--config", str(bakery), "--as-of", AS_OF)
    assert sent.exit_code == 0, sent.output
    with Store.open(db_path) as store:
        states = dict(store.conn.execute("SELECT email, state FROM sends").fetchall())
    assert states == {e: "sent" for e in ("ann@example.com", "cat@example.com", "dan@example.com")}
    texts = messages(bakery.parent / "outbox")
    assert sorted(texts) == ["ann@example.com", "cat@example.com", "dan@example.com"]
    # 23:40 in Berlin on 27 June is the 27th (21:40 UTC); VAT included: no tax line
    assert (
        "Your order #2001 of 27 June 2025:\n"
        "  2 x Butter Croissant (€3.50 each): €7.00\n"
        "  1 x Rye Sourdough Loaf: €5.95\n"
        "  Subtotal: €12.95\n"
        "  Discount: -€1.30\n"
        "  Shipping: €4.90\n"
        "  Total: €16.55 (including €1.08 tax)\n"
    ) in texts["ann@example.com"]
    # the first order she kept, not the cancelled one
    assert (
        "Your order #2004 of 28 June 2025:\n  3 x Pretzel (€1.20 each): €3.60\n  Total: €3.60\n\n"
    ) in texts["cat@example.com"]
    assert (
        "Your order #2005 of 28 June 2025:\n"
        "  1 x Coffee Beans 1kg: €20.00\n"
        "  Subtotal: €20.00\n"
        "  Tax: €1.60\n"
        "  Total: €21.60\n"
    ) in texts["dan@example.com"]


def test_thank_you_for_a_partly_refunded_order_says_so(cli, bakery, db_path):
    with Store.open(db_path) as store:
        store.conn.execute("UPDATE orders SET refunded_minor = 500 WHERE order_id = '#2005'")
        store.conn.commit()
    result = cli("preview", "thank-you", "--customer", "dan@example.com", "--config", str(bakery))
    assert result.exit_code == 0, result.output
    assert "  Total: €21.60\n  Refunded: €5.00\n" in result.stdout


def test_money_and_dates_follow_shop_locale(cli, bakery):
    bakery.write_text(SHOP_CONFIG.format(locale="de_DE"), encoding="utf-8")
    result = cli("preview", "thank-you", "--customer", "ann@example.com", "--config", str(bakery))
    assert result.exit_code == 0, result.output
    assert "Your order #2001 of 27. Juni 2025:\n" in result.stdout
    assert "  2 x Butter Croissant (3,50\u00a0€ each): 7,00\u00a0€\n" in result.stdout
    assert "  Discount: -1,30\u00a0€\n" in result.stdout
    assert "  Total: 16,55\u00a0€ (including 1,08\u00a0€ tax)\n" in result.stdout


def test_report_writes_money_for_the_shop_locale(cli, bakery):
    assert cli("send", "--yes", "--config", str(bakery), "--as-of", AS_OF).exit_code == 0
    result = cli("report", "--config", str(bakery))
    assert result.exit_code == 0, result.output
    conversion = next(line for line in result.stdout.splitlines() if "conversion" in line)
    revenue = next(line for line in result.stdout.splitlines() if "revenue/customer" in line)
    assert conversion.split()[1] == "0.0%" and revenue.split()[1] == "€0.00"
    bakery.write_text(SHOP_CONFIG.format(locale="de_DE"), encoding="utf-8")
    text = cli("report", "--config", str(bakery)).stdout
    assert "0,0\u00a0%" in text and "0,00\u00a0€" in text
    data = cli("report", "--config", str(bakery), "-f", "csv").stdout.splitlines()
    header, row = data[0].split(","), data[1].split(",")
    assert row[header.index("campaign")] == "thank-you"
    assert (row[header.index("recipients")], row[header.index("currency")]) == ("3", "EUR")
    assert row[header.index("recipient_conversion")] == "0.0"


@pytest.mark.parametrize(
    ("shop", "message"),
    [
        (
            "shop: {locale: xx_XX}",
            "key 'shop.locale': 'xx_XX' is not a locale; write one such as en_US, en_GB or de_DE",
        ),
        (
            "shop: {timezone: Europe/Berlin}\nlimits: {timezone: UTC}",
            "key 'limits.timezone': 'UTC' differs from shop.timezone 'Europe/Berlin'; the shop "
            "has one time zone: keep shop.timezone and remove limits.timezone",
        ),
        (
            "shop: {timezone: Berlin}",
            "key 'shop.timezone': 'Berlin' is not a time zone; use an IANA name such as "
            "Europe/London",
        ),
        (
            "shop: {language: de}",
            "key 'shop.language': unknown key; allowed here: locale, timezone",
        ),
    ],
)
def test_bad_shop_settings_name_the_key(cli, bakery, shop, message):
    text = SHOP_CONFIG.format(locale="en_GB").split("sender:", 1)[1]
    bakery.write_text(f"{shop}\nsender:{text}", encoding="utf-8")
    result = cli("campaigns", "check", "--config", str(bakery))
    assert result.exit_code == 1
    assert result.stderr == f"Error: {bakery}: {message}\n"


def test_limits_timezone_alone_still_sets_the_shops(cli, bakery):
    text = SHOP_CONFIG.format(locale="en_GB").replace("  timezone: Europe/Berlin\n", "")
    bakery.write_text(text + "limits:\n  timezone: UTC\n", encoding="utf-8")
    result = cli("preview", "thank-you", "--customer", "ann@example.com", "--config", str(bakery))
    assert result.exit_code == 0, result.output
    assert "Your order #2001 of 27 June 2025:" in result.stdout  # 21:40 UTC: still the 27th


def since_campaign(config: Path) -> None:
    (config.parent / "templates" / "since.txt.j2").write_text(
        "{% if customer.since %}A customer since {{ customer.since | date('MMMM y') }}."
        "{% else %}No first order yet.{% endif %}\n",
        encoding="utf-8",
    )
    config.write_text(
        config.read_text()
        + "  - name: since\n    subject: Since\n    template: templates/since.txt.j2\n",
        encoding="utf-8",
    )


def test_customer_since_is_the_first_order_or_an_earlier_signup(cli, campaign_shop, db_path):
    since_campaign(campaign_shop)

    def since(email: str) -> str:
        result = cli("preview", "since", "--customer", email, "--config", str(campaign_shop))
        assert result.exit_code == 0, result.output
        return result.stdout.split("\n\n", 1)[1].split("\n", 1)[0]

    # imported on 1 January 2025, first order on 1 March: a customer since March
    assert since("ada@example.com") == "A customer since March 2025."
    with Store.open(db_path) as store:
        store.conn.execute(
            "UPDATE customers SET source_created_at = '2024-11-05T09:00:00Z' WHERE id = 1"
        )
        store.conn.execute(
            "UPDATE customers SET source_created_at = '2025-05-01T09:00:00Z' WHERE id = 2"
        )
        store.conn.commit()
    assert since("ada@example.com") == "A customer since November 2024."  # signed up earlier
    assert since("bob@example.com") == "A customer since April 2025."  # ordered first
    assert since("nora@example.com") == "No first order yet."


def test_preview_shows_a_stand_in_and_says_so(cli, campaign_shop, db_path):
    # nobody has a sign-up date: the trigger applies to no one
    result = cli(
        "preview", "series", "--step", "2", "--config", str(campaign_shop), "--as-of", AS_OF
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(
        "=== message 1 of 3: step 2 to ada@example.com  (NOT DUE NOW: nobody is due for step 2 "
        "now and the trigger (0d after signup) applies to no one in the audience: a sample "
        "only) ===\n"
    )
    with Store.open(db_path) as store:
        store.conn.execute(
            "UPDATE customers SET source_created_at = '2025-06-28T09:00:00Z' WHERE id = 5"
        )
        store.conn.commit()
    # nora signed up three days ago: step 1 is due for her today, step 2 three days after it
    result = cli(
        "preview", "series", "--step", "2", "--config", str(campaign_shop), "--as-of", "2025-06-28"
    )
    assert result.stdout.startswith(
        "=== message 1 of 1: step 2 to nora@example.com  (NOT DUE NOW: nobody is due for step "
        "2 now; step 1 is due for them today, step 2 follows 3 days later) ===\n"
    )
    sent = cli("send", "series", "--yes", "--config", str(campaign_shop), "--as-of", "2025-06-28")
    assert sent.exit_code == 0, sent.output
    # once step 1 went out, step 2 is due three days later: no stand-in
    result = cli(
        "preview", "series", "--step", "2", "--config", str(campaign_shop), "--as-of", AS_OF
    )
    assert result.stdout.startswith("=== message 1 of 1: step 2 to nora@example.com ===\n")
    result = cli("preview", "series", "--config", str(campaign_shop), "--as-of", AS_OF)
    assert result.stdout.count("=== message ") == 2
    assert (
        "=== message 1 of 2: step 1 to nora@example.com  (NOT DUE NOW: nobody is due for step "
        "1 now; the trigger (0d after signup) applies to them, but not today) ===\n"
    ) in result.stdout
    assert "=== message 2 of 2: step 2 to nora@example.com ===\n" in result.stdout


def test_preview_of_a_segment_trigger_shows_a_member(cli, campaign_shop):
    text = campaign_shop.read_text().replace(
        "trigger: {after: signup, days: 0}",
        "trigger: {after: entered_segment, segment: prospect, days: 1}",
    )
    campaign_shop.write_text(text)
    result = cli("preview", "series", "-n", "1", "--config", str(campaign_shop), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    # nora is the only prospect (no orders); nobody entered the segment since a snapshot
    assert result.stdout.startswith(
        "=== message 1 of 2: step 1 to nora@example.com  (NOT DUE NOW: nobody is due for step 1 "
        "now; the trigger (1d after entering lifecycle:prospect) applies to them, but not "
        "today) ===\n"
    )


def test_check_warns_while_the_example_sender_is_in_place(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # one line per value (80 columns: wrapped, indented)
    example = REPO / "campaigns.example.yaml"
    result = cli("campaigns", "check", "--config", str(example))
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"Warning: {example} still has the example shop's sender; put your shop's own there "
        "before sending real mail ('retain send' over SMTP refuses until then):\n"
        "  sender.from: \"Rosie's Bakery <hello@rosies.example>\" is the example shop's name "
        "and an example address (no mail is delivered to its domain)\n"
        "  sender.reply_to: 'hello@rosies.example' is an example address (no mail is "
        "delivered to its domain)\n"
        "  sender.address: 'Beispielstraße 12, 10115 Berlin' is the example's postal address\n"
        "  sender.unsubscribe: 'mailto:unsubscribe@rosies.example' is an example address (no "
        "mail is delivered to its domain)\n"
    )
    own = tmp_path / "campaigns.yaml"
    shutil.copytree(REPO / "templates", tmp_path / "templates")
    own.write_text(
        example.read_text(encoding="utf-8")
        .replace("Rosie's Bakery <hello@rosies.example>", "Anna's Bakery <anna@annas-bakery.de>")
        .replace("reply_to: hello@rosies.example", "reply_to: anna@annas-bakery.de")
        .replace("Beispielstraße 12, 10115 Berlin", "Hauptstraße 1, 14467 Potsdam")
        .replace("mailto:unsubscribe@rosies.example", "https://annas-bakery.de/unsubscribe")
        .replace("type: outbox ", "type: smtp   "),
        encoding="utf-8",
    )
    result = cli("campaigns", "check", "--config", str(own))
    assert result.exit_code == 0, result.output
    # the sender is hers now; the SMTP server (the transport is smtp) is still the example's
    assert result.stderr.splitlines()[1:] == [
        "  transport.host: 'smtp.example.com' is the example's server"
    ]


def test_send_over_smtp_refuses_the_example_sender(cli, bakery, db_path):
    example = (REPO / "campaigns.example.yaml").read_text(encoding="utf-8")
    sender = example[example.index("sender:") : example.index("transport:")]
    ours = SHOP_CONFIG.format(locale="en_GB")
    text = ours.split("sender:")[0] + sender + "transport:" + ours.split("transport:")[1]
    with SmtpServer() as server:
        bakery.write_text(
            text.replace(
                "  type: outbox\n",
                f"  type: smtp\n  host: 127.0.0.1\n  port: {server.port}\n  security: none\n",
            ),
            encoding="utf-8",
        )
        result = cli("send", "--yes", "--config", str(bakery), "--as-of", AS_OF)
        assert result.exit_code == 1
        assert result.stderr == (
            f"Error: {bakery}: nothing was sent: sender.from, sender.reply_to, sender.address, "
            "sender.unsubscribe still hold the example's values (key 'sender.from': \"Rosie's "
            "Bakery <hello@rosies.example>\" is the example shop's name and an example address "
            "(no mail is delivered to its domain); key 'sender.reply_to': "
            "'hello@rosies.example' is an example address (no mail is delivered to its "
            "domain); key 'sender.address': 'Beispielstraße 12, 10115 Berlin' is the "
            "example's postal address; key 'sender.unsubscribe': "
            "'mailto:unsubscribe@rosies.example' is an example address (no mail is delivered "
            "to its domain)); put your shop's own name, addresses and postal address there "
            "('retain campaigns check' lists what is left), or try it out with --transport "
            "outbox\n"
        )
        assert server.received == []
        with Store.open(db_path) as store:
            assert store.conn.execute("SELECT count(*) FROM sends").fetchone() == (0,)
        # the demo's way still works: the outbox
        result = cli(
            "send", "--yes", "--transport", "outbox", "--config", str(bakery), "--as-of", AS_OF
        )
        assert result.exit_code == 0, result.output
        assert len(list((bakery.parent / "outbox").rglob("*.eml"))) == 3


def test_readme_documents_every_template_variable():
    """The README's template context reference lists exactly what a template sees."""
    from retain_cli.campaigns.config import load_config
    from retain_cli.campaigns.context import sample_context

    context = sample_context(load_config(REPO / "campaigns.example.yaml"))
    names = {"campaign.name", "campaign.step", "campaign.steps"}
    for key, value in context.items():
        if key in ("shop", "customer", "metrics"):
            names |= {f"{key}.{field}" for field in value}
        else:
            names.add(key)
    names |= {f"order.{field}" for field in context["last_order"]}
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("**Template context reference.**", 1)[1].split("\n\n", 2)[1]
    rows = [line.split("|")[1:5] for line in section.splitlines() if line.startswith("| `")]
    assert {row[0].strip().strip("`") for row in rows} == names
    items = next(row[2] for row in rows if row[0].strip() == "`order.items`")
    for field in context["last_order"]["items"][0]:
        assert f"`{field}`" in items, field
    assert all(row[1].strip() and row[2].strip() for row in rows)  # a type and a meaning each


def test_report_lift_in_percentage_points():
    from retain_cli.measure.present import Units

    units = Units("EUR", "en_GB")
    assert units.money(1234.5) == "€1,234.50"
    assert units.percent(0.125) == "12.5%"
    assert units.points(-0.025) == "-2.5 pp"
    assert units.money(2.5, sign=True) == "+€2.50"
    assert Units("EUR", "de_DE").money(1234.5) == "1.234,50\u00a0€"


def test_check_warning_wraps_at_80_columns(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("campaigns", "check", "--config", str(REPO / "campaigns.example.yaml"))
    lines = result.stderr.splitlines()
    assert all(len(line) <= 80 for line in lines if "/" not in line), lines
    assert lines[-2:] == [
        "  sender.unsubscribe: 'mailto:unsubscribe@rosies.example' is an example address",
        "    (no mail is delivered to its domain)",
    ]
