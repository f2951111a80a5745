"""``recommendations()`` and the replenishment trigger in real sends to aiosmtpd on
127.0.0.1: what each message says is checked against the database with SQL of its own."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

from product_shop import add_orders, make_product_shop
from smtp_servers import SmtpServer

from retain_cli.store import Store

CAMPAIGNS = """\
sender:
  from: "Kornblume Bakery <hello@kornblume-backstube.de>"
  address: "Kastanienallee 7, 10435 Berlin"
  unsubscribe: "mailto:unsubscribe@kornblume-backstube.de"
transport:
  type: smtp
  host: 127.0.0.1
  port: {port}
  security: none
  timeout: 5
campaigns:
  - name: {name}
{body}
"""
THANKS = """\
    audience: all
    subject: "Thank you"
    template: thanks.txt.j2
"""
THANKS_TEMPLATE = """\
Hello {{ customer.first_name }},
{% for p in recommendations(2) %}
* {{ p.name }} | {{ p.because }} | {{ (p.confidence * 100) | round | int }}% | {{ p.lift }}
{% else %}
(nothing to suggest)
{% endfor %}
"""
REFILL = """\
    trigger: {after: replenishment, days: 0}
    repeat: 1d
    subject: "Time for more {{ replenishment.name }}?"
    template: refill.txt.j2
"""
REFILL_TEMPLATE = """\
You bought {{ replenishment.name }} on {{ replenishment.last_bought }}; you usually buy it \
every {{ replenishment.interval_days }} days.
"""


def campaign_file(folder: Path, port: int, name: str, body: str, template: str) -> Path:
    (folder / f"{'thanks' if name == 'thanks' else 'refill'}.txt.j2").write_text(template)
    path = folder / "campaigns.yaml"
    path.write_text(CAMPAIGNS.format(port=port, name=name, body=body))
    return path


def send(cli, config: Path, as_of: str) -> dict:
    result = cli("send", "--yes", "--config", str(config), "--as-of", as_of, "-f", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def body(message) -> str:
    from email import message_from_bytes, policy

    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    return parsed.get_body(("plain",)).get_content()


def test_recommendations_in_a_thank_you_are_true(cli, db_path, tmp_path):
    with Store.open(db_path) as store:
        make_product_shop(store)
    with SmtpServer() as server:
        config = campaign_file(tmp_path, server.port, "thanks", THANKS, THANKS_TEMPLATE)
        assert send(cli, config, "2026-09-10")["sent"] == 9
    found = 0
    with Store.open(db_path) as store:
        sql = store.conn.execute
        for received in server.received:
            email = received.message["To"].split("<")[-1].rstrip(">")
            for name, because, percent, lift in re.findall(
                r"^\* (.+) \| (.+) \| (\d+)% \| ([\d.]+)$", body(received.message), re.M
            ):
                found += 1

                def orders_with(*products: str) -> int:
                    # countable orders holding every product, by name or SKU, variants included
                    rule = " AND ".join(
                        "EXISTS (SELECT 1 FROM order_items i WHERE i.order_ref = o.id AND "
                        "(lower(replace(i.name, '  ', ' ')) LIKE lower(?) || '%' OR i.sku = ?))"
                        for _ in products
                    )
                    params = [v for p in products for v in (p, p)]
                    return sql(
                        f"SELECT count(*) FROM orders o WHERE o.cancelled_at IS NULL AND {rule}",
                        params,
                    ).fetchone()[0]

                # they bought what it goes with
                assert sql(
                    "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_ref "
                    "JOIN order_items i ON i.order_ref = o.id WHERE c.email = ? "
                    "AND lower(replace(i.name, '  ', ' ')) LIKE lower(?) || '%'",
                    (email, because),
                ).fetchone()[0]
                # ... and not the suggestion itself
                assert not sql(
                    "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_ref "
                    "JOIN order_items i ON i.order_ref = o.id WHERE c.email = ? "
                    "AND lower(i.name) LIKE lower(?) || '%'",
                    (email, name),
                ).fetchone()[0]
                both, base = orders_with(because, name), orders_with(because)
                baskets = sql(
                    "SELECT count(*) FROM orders o WHERE o.cancelled_at IS NULL AND EXISTS "
                    "(SELECT 1 FROM order_items i WHERE i.order_ref = o.id)"
                ).fetchone()[0]
                assert int(percent) == round(100 * both / base)
                expected_lift = (both / base) / (orders_with(name) / baskets)
                assert float(lift) == round(expected_lift, 2)
                assert both >= 3  # minimum support
                # it sold in the 90 days before the send
                last = sql(
                    "SELECT max(o.ordered_at) FROM orders o JOIN order_items i "
                    "ON i.order_ref = o.id WHERE o.cancelled_at IS NULL "
                    "AND lower(i.name) LIKE lower(?) || '%'",
                    (name,),
                ).fetchone()[0]
                assert date.fromisoformat(last[:10]) > date(2026, 9, 10) - timedelta(days=90)
    assert found == 6  # the loaf's buyers without jam get jam, the jam buyers get the loaf
    by_email = {
        r.message["To"].split("<")[-1].rstrip(">"): body(r.message) for r in server.received
    }
    assert "* Sourdough loaf | Plum jam | 75% | 1.22" in by_email["fay@example.com"]
    assert "(nothing to suggest)" in by_email["ada@example.com"]  # bought both already


def test_replenishment_reminds_once_per_purchase_and_not_after_a_reorder(cli, db_path, tmp_path):
    with Store.open(db_path) as store:
        make_product_shop(store, repeats=True)
    with SmtpServer() as server:
        config = campaign_file(tmp_path, server.port, "refill", REFILL, REFILL_TEMPLATE)
        assert send(cli, config, "2026-12-02")["sent"] == 1
        assert send(cli, config, "2026-12-04")["sent"] == 0  # once per purchase
    (message,) = [r.message for r in server.received]
    assert message["To"] == "Ada <ada@example.com>"
    assert message["Subject"] == "Time for more Coffee beans?"
    text = body(message)
    assert text.startswith(
        "You bought Coffee beans on 2026-11-02; you usually buy it every 30 days."
    )
    with Store.open(db_path) as store:
        days = [
            row[0][:10]
            for row in store.conn.execute(
                "SELECT o.ordered_at FROM orders o JOIN order_items i ON i.order_ref = o.id "
                "WHERE o.customer_ref = 1 AND i.name LIKE 'Coffee beans%' "
                "AND o.ordered_at <= '2026-12-03' ORDER BY o.ordered_at"
            )
        ]
        assert days == ["2026-09-03", "2026-10-03", "2026-11-02"]  # gaps of 30 days
        (occurrence,) = store.conn.execute(
            "SELECT occurrence FROM sends WHERE campaign = 'refill' AND state = 'sent'"
        ).fetchone()
        assert occurrence == "2026-11-02 coffee beans"
        # she reorders: due again a month after the new order, not before
        add_orders(store, [("ada", "2026-12-04", ["Coffee beans - 250g"])])

    def due(as_of: str) -> list[str]:
        result = cli("plan", "refill", "--config", str(config), "--as-of", as_of, "-f", "json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        return [r["key"] for r in data["items"] if r["status"] == "due"]

    assert due("2027-01-02") == []
    assert due("2027-01-03") == ["refill:1:ada@example.com:2026-12-04 coffee beans"]


def test_a_planned_reminder_is_dropped_after_a_reorder(cli, db_path, tmp_path):
    with Store.open(db_path) as store:
        make_product_shop(store, repeats=True)
        # an earlier run planned ada's reminder for her purchase of 2 November ...
        store.ledger_record(
            [
                {
                    "send_key": "refill:1:ada@example.com:2026-11-02 coffee beans",
                    "campaign": "refill",
                    "step": 1,
                    "customer_ref": 1,
                    "occurrence": "2026-11-02 coffee beans",
                    "email": "ada@example.com",
                    "state": "planned",
                }
            ],
            "2026-12-02T06:00:00Z",
        )
        # ... and she bought beans again before it went
        add_orders(store, [("ada", "2026-12-02", ["Coffee beans - 1kg"])])
    with SmtpServer() as server:
        config = campaign_file(tmp_path, server.port, "refill", REFILL, REFILL_TEMPLATE)
        assert send(cli, config, "2026-12-02")["sent"] == 0
    assert server.received == []
    with Store.open(db_path) as store:
        rows = store.conn.execute("SELECT state, error FROM sends").fetchall()
    assert rows == [("skipped", "bought Coffee beans again on 2026-12-02")]
