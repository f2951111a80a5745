"""Loyalty through the CLI: the ``loyalty:`` section, ``retain loyalty [CUSTOMER]``, the
``tier_upgraded``/``tier_at_risk``/``points_expiring`` triggers and what their messages say,
sent to a real SMTP server and checked against the database."""

from __future__ import annotations

import json
import math
import re
from datetime import date, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from smtp_servers import SmtpServer

from retain_cli.store import Store

AS_OF = "2025-06-25"

CONFIG = """\
shop:
  locale: en_GB
  timezone: Europe/Berlin
sender:
  from: "Kornblume Bakery <hello@kornblume-backstube.de>"
  address: "Kastanienallee 7, 10435 Berlin"
  unsubscribe: "mailto:unsubscribe@kornblume-backstube.de"
transport:
  type: outbox
  outbox: outbox
loyalty:
  points_per_unit: 1
  recalculate: monthly
  expiry: 365d
  notice: 30d
  tiers:
    - {name: Crumb, min_spend: 0}
    - {name: Loaf, min_spend: 100}
    - {name: Golden Crust, min_spend: 300}
  rewards:
    - {name: Free coffee, points: 50, code: LOYAL-COFFEE}
campaigns:
  - name: tier-up
    trigger: {after: tier_upgraded}
    subject: "Welcome to {{ loyalty.tier }}"
    template: templates/up.txt.j2
  - name: tier-risk
    trigger: {after: tier_at_risk}
    subject: "Keep your {{ loyalty.tier }} status"
    template: templates/risk.txt.j2
  - name: points-expiring
    trigger: {after: points_expiring}
    subject: "Your points expire soon"
    template: templates/expiring.txt.j2
"""

TEMPLATES = {
    "up.txt.j2": "TIER={{ loyalty.tier }}\nSINCE={{ loyalty.upgraded_on }}\n"
    "POINTS={{ loyalty.points }}\nNEXT={{ loyalty.next_tier or 'top' }}\n"
    "MORE={{ loyalty.to_next_tier_minor | money }}\n"
    "{% for r in loyalty.rewards %}REWARD={{ r.name }}\n{% endfor %}",
    "risk.txt.j2": "TIER={{ loyalty.tier }}\nBY={{ loyalty.recalculation_on }}\n"
    "KEEP={{ loyalty.to_keep_tier_minor | money }}\n"
    "THEN={{ loyalty.tier_after_recalculation }}\n",
    "expiring.txt.j2": "POINTS={{ loyalty.points_expiring }}\n"
    "ON={{ loyalty.points_expire_on | date }}\n",
}

# (email, ordered_at, total, refunded, cancelled, discount code)
ORDERS = [
    # ann: 80 + 60 reach Loaf on 5 March, 200 more reach Golden Crust on 20 June; a coffee
    ("ann@example.com", "2025-01-10T10:00:00Z", 8000, 0, False, None),
    ("ann@example.com", "2025-03-05T10:00:00Z", 6000, 0, False, None),
    ("ann@example.com", "2025-06-20T10:00:00Z", 20000, 0, False, None),
    ("ann@example.com", "2025-06-22T10:00:00Z", 1000, 0, False, "loyal-coffee"),
    # ben: one order a year ago keeps Loaf until 1 July; his points expire on 28 June
    ("ben@example.com", "2024-06-28T10:00:00Z", 15000, 0, False, None),
    # cat: 120 less a 30 refund is 90, not Loaf; a cancelled 500 counts for nothing
    ("cat@example.com", "2025-06-01T10:00:00Z", 12000, 3000, False, None),
    ("cat@example.com", "2025-06-02T10:00:00Z", 50000, 0, True, None),
]


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    with Store.open(tmp_path / "retain.db") as store:
        refs: dict[str, int] = {}
        for n, (email, at, total, refunded, cancelled, code) in enumerate(ORDERS, start=1):
            if email not in refs:
                refs[email] = len(refs) + 1
                store.db["customers"].insert(
                    {
                        "id": refs[email],
                        "customer_id": email,
                        "email": email,
                        "first_name": email.split("@")[0].title(),
                        "accepts_marketing": 1,
                        "source": "test",
                        "created_at": "2024-01-01T00:00:00Z",
                        "updated_at": "2024-01-01T00:00:00Z",
                    }
                )
            store.db["orders"].insert(
                {
                    "order_key": f"test:{n}",
                    "source": "test",
                    "order_id": f"#{1000 + n}",
                    "customer_ref": refs[email],
                    "ordered_at": at,
                    "currency": "EUR",
                    "total_minor": total,
                    "refunded_minor": refunded,
                    "cancelled_at": at if cancelled else None,
                    "discount_code": code,
                }
            )
    folder = tmp_path / "shop"
    (folder / "templates").mkdir(parents=True)
    for name, text in TEMPLATES.items():
        (folder / "templates" / name).write_text(text, encoding="utf-8")
    config = folder / "campaigns.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    return config


def test_loyalty_counts_customers_per_tier(cli, shop):
    result = cli("loyalty", "-c", str(shop), "--as-of", AS_OF, "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    tiers = {row["tier"]: row for row in data["tiers"]}
    assert {name: row["customers"] for name, row in tiers.items()} == {
        "Crumb": 1,  # cat
        "Loaf": 1,  # ben, at risk
        "Golden Crust": 1,  # ann
    }
    assert tiers["Loaf"]["at_risk"] == 1
    assert tiers["Golden Crust"]["points"] == 80 + 60 + 200 + 10 - 50
    assert data["next_recalculation"] == "2025-07-01"
    assert data["points_outstanding"] == 300 + 150 + 90


def test_loyalty_table_fits_80_columns(cli, shop, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("loyalty", "-c", str(shop), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert all(len(line) <= 80 for line in result.stdout.splitlines())
    assert "Golden Crust" in result.stdout
    shown = cli("loyalty", "ann@example.com", "-c", str(shop), "--as-of", AS_OF)
    assert shown.exit_code == 0, shown.output
    assert all(len(line) <= 80 for line in shown.stdout.splitlines())
    assert "reward: Free coffee" in shown.stdout


def test_loyalty_of_a_customer_says_balance_history_and_next_tier(cli, shop):
    result = cli("loyalty", "cat@example.com", "-c", str(shop), "--as-of", AS_OF, "-f", "json")
    assert result.exit_code == 0, result.output
    cat = json.loads(result.stdout)
    # the refund subtracts and the cancelled order counts for nothing
    assert cat["points"] == 90
    assert cat["tier"] == "Crumb"
    assert cat["next_tier"] == "Loaf"
    assert cat["to_next_tier"] == 10.0
    assert cat["points_expire_on"] == "2026-06-01"
    assert [(h["event"], h["points"]) for h in cat["history"]] == [("order", 90)]

    ann = json.loads(
        cli("loyalty", "ann@example.com", "-c", str(shop), "--as-of", AS_OF, "-f", "json").stdout
    )
    assert [(h["date"], h["event"], h["points"], h["balance"]) for h in ann["history"]] == [
        ("2025-01-10", "order", 80, 80),
        ("2025-03-05", "order; reached Loaf", 60, 140),
        ("2025-06-20", "order; reached Golden Crust", 200, 340),
        ("2025-06-22", "order", 10, 350),
        ("2025-06-22", "reward: Free coffee", -50, 300),
    ]
    assert ann["tier"] == "Golden Crust" and ann["next_tier"] is None
    assert ann["upgraded_on"] == "2025-06-20"

    csv = cli("loyalty", "ben@example.com", "-c", str(shop), "--as-of", AS_OF, "-f", "csv")
    assert csv.stdout.splitlines()[0] == "date,event,order_id,amount,points,balance,tier"


def test_points_expire_after_a_year_without_an_order(cli, shop):
    result = cli("loyalty", "ben@example.com", "-c", str(shop), "--as-of", "2025-07-02")
    ben = json.loads(
        cli(
            "loyalty", "ben@example.com", "-c", str(shop), "--as-of", "2025-07-02", "-f", "json"
        ).stdout
    )
    assert result.exit_code == 0
    assert ben["points"] == 0
    assert ben["tier"] == "Crumb"  # recalculated on 1 July
    assert [h["event"] for h in ben["history"]] == [
        "order; reached Loaf",
        "points expired",
        "recalculated: Loaf -> Crumb",
    ]


def test_unknown_customer_and_missing_section_are_errors(cli, shop, tmp_path):
    result = cli("loyalty", "zed@example.com", "-c", str(shop))
    assert result.exit_code == 1
    assert "Error: no customer with e-mail or id 'zed@example.com'" in result.stderr
    bare = tmp_path / "bare.yaml"
    bare.write_text(CONFIG.split("loyalty:")[0] + "campaigns: []\n", encoding="utf-8")
    result = cli("loyalty", "-c", str(bare))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {bare}: no loyalty: section; add one")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("points_per_unit: 1", "points_per_unit: lots"),
            "key 'loyalty.points_per_unit': must be a number such as 1, not the text 'lots'",
        ),
        (
            ("points_per_unit: 1", "points_per_unit: 5000"),
            "key 'loyalty.points_per_unit': 5000 is more than 1000 points per unit of money",
        ),
        (
            ("{name: Loaf, min_spend: 100}", "{name: Loaf, min_orders: 3}"),
            "key 'loyalty.tiers[2].min_orders': every tier counts the same thing; the first "
            "tier uses min_spend, so write min_spend here too",
        ),
        (
            ("min_spend: 300", "min_spend: 50"),
            "key 'loyalty.tiers[3].min_spend': 50 is not above the tier before (Loaf: 100); "
            "list tiers lowest first, each higher than the last",
        ),
        (
            ("recalculate: monthly", "recalculate: weekly"),
            "key 'loyalty.recalculate': must be one of monthly, quarterly, yearly, not 'weekly'",
        ),
        (
            ("notice: 30d", "notice: 400d"),
            "key 'loyalty.notice': 400 days is not shorter than the expiry (365 days)",
        ),
        (
            ("expiry: 365d", "expire: 365d"),
            "key 'loyalty.expire': unknown key; did you mean 'expiry'?",
        ),
        (
            ("points: 50, code: LOYAL-COFFEE", "points: 0"),
            "key 'loyalty.rewards[1].points': must be a whole number of points above 0",
        ),
    ],
)
def test_bad_loyalty_section_names_file_key_and_fix(cli, shop, change, message):
    shop.write_text(CONFIG.replace(*change), encoding="utf-8")
    result = cli("loyalty", "-c", str(shop))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {shop}: {message}"), result.stderr
    assert "Traceback" not in result.output


def test_a_loyalty_trigger_without_the_section_is_an_error(cli, shop):
    text = CONFIG.replace(CONFIG[CONFIG.index("loyalty:") : CONFIG.index("campaigns:")], "")
    shop.write_text(text, encoding="utf-8")
    result = cli("campaigns", "check", "-c", str(shop))
    assert result.exit_code == 1
    assert (
        f"Error: {shop}: campaign 'tier-up': key 'trigger.after': tier_upgraded needs a "
        "loyalty: section at the top of the file" in result.stderr
    )


def _use_smtp(config: Path, port: int) -> None:
    text = config.read_text().replace(
        "  type: outbox\n",
        f"  type: smtp\n  host: 127.0.0.1\n  port: {port}\n  security: none\n  timeout: 5\n",
    )
    config.write_text(text)


def _bodies(server: SmtpServer) -> dict[tuple[str, str], dict[str, str]]:
    """(recipient, subject) -> the KEY=value lines of each message's text."""
    out = {}
    for item in server.received:
        message = message_from_bytes(item.data, policy=policy.default)
        body = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
        text = body.get_content().split("\n-- \n")[0]
        fields: dict[str, str] = {}
        for line in text.splitlines():
            key, _, value = line.partition("=")
            if key.isupper() and value:
                fields[key] = fields[key] + "|" + value if key in fields else value
        out[(item.rcpt_tos[0], str(message["Subject"]))] = fields
    return out


def _facts_from_db(db_path: Path, email: str) -> dict[str, object]:
    """The figures a message may state, computed here straight from the orders table."""
    with Store.open(db_path) as store:
        rows = store.conn.execute(
            "SELECT o.ordered_at, o.total_minor - o.refunded_minor, o.discount_code "
            "FROM orders o JOIN customers c ON c.id = o.customer_ref "
            "WHERE c.email = ? AND o.cancelled_at IS NULL ORDER BY o.ordered_at",
            (email,),
        ).fetchall()
    earned = sum(math.floor(net / 100) for _, net, _ in rows)
    spent = 50 * sum(1 for *_, code in rows if (code or "").upper() == "LOYAL-COFFEE")
    last = date.fromisoformat(rows[-1][0][:10])
    return {"points": earned - spent, "expires": last + timedelta(days=365), "rows": rows}


def test_loyalty_messages_state_what_the_database_holds_and_go_once(cli, shop, db_path):
    with SmtpServer() as server:
        _use_smtp(shop, server.port)
        result = cli("send", "--yes", "-c", str(shop), "--as-of", AS_OF)
        assert result.exit_code == 0, result.output
        got = _bodies(server)
        # a second run, and one two days later, send nothing again
        again = cli("send", "--yes", "-c", str(shop), "--as-of", AS_OF)
        later = cli("send", "--yes", "-c", str(shop), "--as-of", "2025-06-27")
        assert again.exit_code == 0 and later.exit_code == 0
        assert len(server.received) == len(got) == 3

    ann = _facts_from_db(db_path, "ann@example.com")
    up = got[("ann@example.com", "Welcome to Golden Crust")]
    assert up["POINTS"] == str(ann["points"]) == "300"
    # the order that reached the tier: the running 365-day spend crossed 300 on it
    rows = ann["rows"]
    assert isinstance(rows, list)
    running = 0
    for at, net, _ in rows:
        running += net
        if running >= 30000:
            assert up["SINCE"] == at[:10]
            break
    assert up["TIER"] == "Golden Crust" and up["NEXT"] == "top"
    assert up["REWARD"] == "Free coffee"

    ben = _facts_from_db(db_path, "ben@example.com")
    risk = got[("ben@example.com", "Keep your Loaf status")]
    # 150 from 28 June 2024 leaves the 365 days before 1 July 2025: 100 needed to keep Loaf
    assert risk == {"TIER": "Loaf", "BY": "2025-07-01", "KEEP": "€100.00", "THEN": "Crumb"}
    expiring = got[("ben@example.com", "Your points expire soon")]
    assert expiring["POINTS"] == str(ben["points"]) == "150"
    assert expiring["ON"] == f"{ben['expires']:%-d %B %Y}" == "28 June 2025"

    with Store.open(db_path) as store:
        sent = store.conn.execute(
            "SELECT campaign, email, occurrence, state FROM sends ORDER BY campaign, email"
        ).fetchall()
    assert sent == [
        ("points-expiring", "ben@example.com", "2025-06-28", "sent"),
        ("tier-risk", "ben@example.com", "2025-07-01 Loaf", "sent"),
        ("tier-up", "ann@example.com", "2025-06-20 Golden Crust", "sent"),
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", str(ann["expires"]))


def test_a_new_order_is_a_new_expiry_and_a_new_upgrade(cli, shop, db_path):
    """After ben orders again the old expiry is gone and the new one is months away; cat's
    next order reaches Loaf: a new event, sent once."""
    with SmtpServer() as server:
        _use_smtp(shop, server.port)
        assert cli("send", "--yes", "-c", str(shop), "--as-of", AS_OF).exit_code == 0
        with Store.open(db_path) as store:
            store.db["orders"].insert(
                {
                    "order_key": "test:new",
                    "source": "test",
                    "order_id": "#2000",
                    "customer_ref": 3,
                    "ordered_at": "2025-06-26T09:00:00Z",
                    "currency": "EUR",
                    "total_minor": 1000,
                    "refunded_minor": 0,
                }
            )
        before = len(server.received)
        result = cli("send", "--yes", "-c", str(shop), "--as-of", "2025-06-26")
        assert result.exit_code == 0, result.output
        new = server.received[before:]
    assert [(m.rcpt_tos[0], message_from_bytes(m.data)["Subject"]) for m in new] == [
        ("cat@example.com", "Welcome to Loaf")
    ]


def test_each_upgrade_is_its_own_message(cli, shop, db_path):
    """Loyalty triggers repeat for every new event unless the file says repeat: never: ann
    hears about Loaf in March and about Golden Crust in June."""
    with SmtpServer() as server:
        _use_smtp(shop, server.port)
        march = cli("send", "--yes", "tier-up", "-c", str(shop), "--now", "2025-03-06T09:00")
        june = cli("send", "--yes", "tier-up", "-c", str(shop), "--now", "2025-06-25T09:00")
        assert march.exit_code == 0 and june.exit_code == 0, june.output
        subjects = [str(message_from_bytes(m.data)["Subject"]) for m in server.received]
    assert subjects == ["Welcome to Loaf", "Welcome to Golden Crust"]
    shop.write_text(
        CONFIG.replace(
            "template: templates/up.txt.j2", "template: templates/up.txt.j2\n    repeat: never"
        ),
        encoding="utf-8",
    )
    listed = cli("campaigns", "list", "-c", str(shop), "-f", "json")
    repeats = {c["name"]: c["repeat"] for c in json.loads(listed.stdout)}
    assert repeats == {"tier-up": "never", "tier-risk": "1d", "points-expiring": "1d"}


def test_a_queued_warning_is_dropped_once_the_tier_is_safe(cli, shop, db_path):
    """A tier_at_risk message held back by quiet hours is not sent after the order that
    keeps the tier: the message would no longer be true."""
    text = shop.read_text().replace(
        "campaigns:\n", 'limits:\n  quiet_hours: "21:00-08:00"\ncampaigns:\n', 1
    )
    shop.write_text(text, encoding="utf-8")
    with SmtpServer() as server:
        _use_smtp(shop, server.port)
        night = cli("send", "--yes", "tier-risk", "-c", str(shop), "--now", "2025-06-25T22:00")
        assert night.exit_code == 3, night.output  # held back by the quiet hours
        with Store.open(db_path) as store:
            (state,) = store.conn.execute("SELECT state FROM sends").fetchone()
            assert state == "planned"
            store.db["orders"].insert(
                {
                    "order_key": "test:keep",
                    "source": "test",
                    "order_id": "#3000",
                    "customer_ref": 2,
                    "ordered_at": "2025-06-26T06:00:00Z",
                    "currency": "EUR",
                    "total_minor": 10000,
                    "refunded_minor": 0,
                }
            )
        morning = cli("send", "--yes", "tier-risk", "-c", str(shop), "--now", "2025-06-26T09:00")
        assert morning.exit_code == 0, morning.output
        assert server.received == []
    with Store.open(db_path) as store:
        row = store.conn.execute("SELECT email, state, error FROM sends").fetchone()
    assert row[:2] == ("ben@example.com", "skipped")
    assert "no tier_at_risk any more" in str(row[2])


def test_explain_agrees_with_plan_on_the_loyalty_triggers(cli, shop):
    """explain plans one customer, whose loyalty is computed from their orders alone: the
    same decisions as 'retain plan', which computes every customer's."""
    now = "2025-06-25T10:00"
    result = cli("plan", "--config", str(shop), "--now", now, "--format", "json")
    assert result.exit_code == 0, result.output
    planned = sorted(
        (r["customer_id"], r["campaign"], r["step"], r["status"], r["reason"], r["key"])
        for r in json.loads(result.output)["items"]
    )
    assert {(p[0], p[1]) for p in planned if p[3] == "due"} >= {
        ("ann@example.com", "tier-up"),
        ("ben@example.com", "tier-risk"),
    }
    explained = []
    for who in ("ann@example.com", "ben@example.com", "cat@example.com"):
        shown = cli("explain", who, "--config", str(shop), "--now", now, "--format", "json")
        assert shown.exit_code == 0, shown.output
        explained += [
            (who, d["campaign"], d["step"], d["status"], d["reason"], d["key"])
            for d in json.loads(shown.output)["campaigns"]
            if d["key"] is not None
        ]
    assert sorted(explained) == planned
