"""A/B variants: read from the campaign file (errors name file, campaign and key), drawn by
a hash of campaign, salt and customer apart from the holdout, recorded in the ledger, and sent
with the variant's own subject and template through a real SMTP server."""

from __future__ import annotations

import json
import shutil
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from smtp_servers import SHOP_AS_OF, SmtpServer, make_shop

from retain_cli.campaigns.config import load_config
from retain_cli.campaigns.due import assign_variant, variant_score
from retain_cli.campaigns.planner import holdout_score
from retain_cli.errors import ConfigError
from retain_cli.store import Store

DATA = Path(__file__).parent / "data" / "sending"
CONSENTING = {f"c{i:02d}@example.org" for i in range(20)}
HELD = {e for e in CONSENTING if holdout_score("hello", e.split("@")[0].upper()) < 0.2}
HELLO = """    holdout: 20%
"""
VARIANTS = """    holdout: 20%
    variants:
      - name: A
        share: 50%
      - name: B
        share: 50%
        subject: "Fresh bread for you, {{ customer.first_name }}"
        template: templates/hello_b.txt.j2
"""


@pytest.fixture
def shop(db_path: Path, tmp_path: Path) -> Path:
    with Store.open(db_path) as store:
        make_shop(store)
    shutil.copytree(DATA, tmp_path / "shop")
    (tmp_path / "shop" / "templates" / "hello_b.txt.j2").write_text(
        "Dear {{ customer.first_name }},\n\nvariant B's bread is waiting.\n"
    )
    config = tmp_path / "shop" / "campaigns.yaml"
    config.write_text(config.read_text().replace(HELLO, VARIANTS, 1))
    return config


def use_smtp(config: Path, port: int) -> Path:
    text = config.read_text().replace(
        "  type: outbox\n",
        f"  type: smtp\n  host: 127.0.0.1\n  port: {port}\n  security: none\n  timeout: 5\n",
    )
    config.write_text(text)
    return config


def by_email(db_path: Path, sql: str, *params: object) -> dict[str, tuple]:
    """email -> the rest of each row of ``sql`` (its first column is the e-mail)."""
    with Store.open(db_path) as store:
        return {row[0]: tuple(row[1:]) for row in store.conn.execute(sql, params)}


def expected_variant(email: str, salt: str = "") -> str:
    score = variant_score("hello", salt, email.split("@")[0].upper())
    return "A" if score < 0.5 else "B"


def test_the_variant_read_from_the_file(shop):
    config = load_config(shop)
    hello = config.campaign("hello")
    assert [(v.name, v.share, v.own) for v in hello.variants] == [
        ("A", 0.5, True),
        ("B", 0.5, False),
    ]
    a, b = (v.steps[0] for v in hello.variants)
    assert a.subject == hello.steps[0].subject and a.template == hello.steps[0].template
    assert b.subject == "Fresh bread for you, {{ customer.first_name }}"
    assert b.template == shop.parent / "templates" / "hello_b.txt.j2"
    assert (a.variant, b.variant) == ("A", "B")
    assert hello.variant_salt == ""
    # the draw: shares in file order over a hash of campaign, salt and customer
    assert assign_variant(hello, "C00") == expected_variant("c00@example.org")


def test_send_through_smtp_each_customer_gets_their_variant_and_the_ledger_says_so(
    cli, shop, db_path
):
    with SmtpServer() as server:
        config = use_smtp(shop, server.port)
        result = cli("send", "hello", "--yes", "--config", str(config), "--as-of", SHOP_AS_OF)
    assert result.exit_code == 0, result.output
    ledger = by_email(db_path, "SELECT email, state, variant FROM sends WHERE campaign = 'hello'")
    # the holdout is drawn first, as without variants; the variants split the recipients
    assert {e for e, (state, _) in ledger.items() if state == "held_out"} == HELD
    assert all(variant is None for state, variant in ledger.values() if state == "held_out")
    due = CONSENTING - HELD
    assert {e: v for e, (s, v) in ledger.items() if s == "sent"} == {
        e: expected_variant(e) for e in due
    }
    received = {
        r.rcpt_tos[0]: message_from_bytes(r.data, policy=policy.default) for r in server.received
    }
    assert set(received) == due
    groups = {"A": 0, "B": 0}
    for email, message in received.items():
        variant = ledger[email][1]
        groups[variant] += 1
        name = f"Cust{email[1:3]}"
        body = message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
        assert message["X-Retain-Variant"] == variant
        if variant == "B":
            assert message["Subject"] == f"Fresh bread for you, {name}"
            assert body.startswith(f"Dear {name},\n\nvariant B's bread is waiting.\n")
        else:
            assert message["Subject"] == f"Hello {name}"
            assert body.startswith(f"Hi {name},\n\nwe have fresh bread every morning.\n")
    assert groups["A"] and groups["B"]  # both variants were sent
    listed = json.loads(cli("sends", "--campaign", "hello", "-f", "json").stdout)
    assert {r["email"]: r["variant"] for r in listed} == {e: v for e, (_, v) in ledger.items()}


def test_the_plan_names_each_customers_variant(cli, shop):
    result = cli("plan", "hello", "--config", str(shop), "--as-of", SHOP_AS_OF, "-f", "json")
    items = json.loads(result.stdout)["items"]
    variants = {i["email"]: i["variant"] for i in items if i["status"] == "due"}
    assert variants == {e: expected_variant(e) for e in CONSENTING - HELD}
    assert {i["variant"] for i in items if i["status"] == "held_out"} == {""}


def test_a_series_keeps_the_variant_it_began_with(cli, db_path, tmp_path):
    with Store.open(db_path) as store:
        make_shop(store)
    shutil.copytree(DATA, tmp_path / "shop")
    config = tmp_path / "shop" / "campaigns.yaml"
    series = """        template: templates/follow_up.txt.j2
"""
    config.write_text(
        config.read_text().replace(
            series,
            series
            + """    variants:
      - {name: plain, share: 50%}
      - name: warm
        share: 50%
        steps: {2: {subject: "Still enjoying it, {{ customer.first_name }}?"}}
""",
            1,
        )
    )
    first = cli("send", "thanks", "--yes", "--config", str(config), "--as-of", SHOP_AS_OF)
    assert first.exit_code == 0, first.output
    with Store.open(db_path) as store:
        began = dict(store.conn.execute("SELECT email, variant FROM sends WHERE step = 1"))
    assert set(began.values()) <= {"plain", "warm"} and len(began) == 5
    # a new salt draws a new split, but a series keeps the variant it began with
    config.write_text(
        config.read_text().replace("    variants:\n", '    variant_salt: "2"\n    variants:\n')
    )
    later = cli("send", "thanks", "--yes", "--config", str(config), "--as-of", "2025-06-17")
    assert later.exit_code == 0, later.output
    with Store.open(db_path) as store:
        kept = dict(store.conn.execute("SELECT email, variant FROM sends WHERE step = 2"))
    assert kept == began
    outbox = tmp_path / "shop" / "outbox" / "thanks"
    subjects = {}
    for path in outbox.glob("*.eml"):
        text = path.read_text()
        if "X-Retain-Step: 2" in text:
            to = text.split("\nTo: ", 1)[1].split("\n", 1)[0]
            subjects[to.split("<")[-1].rstrip(">")] = text.split("\nSubject: ", 1)[1].split("\n")[0]
    for email, variant in began.items():
        name = f"Cust{email[1:3]}"
        expected = f"Still enjoying it, {name}?" if variant == "warm" else "How is it going?"
        assert subjects[email] == expected


HEAD = """sender:
  from: "Kornblume Bakery <hello@kornblume-backstube.de>"
  address: "Kastanienallee 7, 10435 Berlin"
  unsubscribe: "mailto:unsubscribe@kornblume-backstube.de"
campaigns:
  - name: hello
    audience: all
"""
BASE = (
    HEAD
    + """    subject: "Hello"
    template: hello.txt.j2
"""
)
SERIES = (
    HEAD
    + """    steps:
      - {days: 0, subject: "One", template: hello.txt.j2}
      - {days: 7, subject: "Two", template: hello.txt.j2, channel: task}
"""
)


@pytest.mark.parametrize(
    ("base", "extra", "message"),
    [
        (
            BASE,
            "    variants:\n      - {name: A, share: 50%}\n      - {name: B, share: 40%}\n",
            "key 'variants': the shares add up to 90% (A 50%, B 40%); they must add up to 100% "
            "(or 1): the variants split the recipients, the holdout is drawn before them",
        ),
        (
            BASE,
            "    variants:\n      - {name: A, share: 0.7}\n      - {name: B, share: 0.7}\n",
            "key 'variants': the shares add up to 140% (A 70%, B 70%); they must add up to "
            "100% (or 1): the variants split the recipients, the holdout is drawn before them",
        ),
        (
            BASE,
            "    variants:\n      - {name: A, share: 0%}\n      - {name: B, share: 100%}\n",
            "key 'variants[1].share': '0%' must be more than 0% and at most 100%",
        ),
        (
            BASE,
            "    variants:\n      - {name: A, share: 50}\n      - {name: B, share: 50}\n",
            "key 'variants[1].share': 50 is more than 1; write 50% or 0.5",
        ),
        (
            BASE,
            "    variants:\n      - {name: A, share: half}\n      - {name: B}\n",
            "key 'variants[1].share': 'half' is not a share; write 50% or 0.5",
        ),
        (
            BASE,
            "    variants:\n      - {name: A, share: 50%}\n      - {name: B}\n",
            "key 'variants': variant 'B' has no share; give every variant a share (adding up "
            "to 100%), or none for an even split",
        ),
        (
            BASE,
            "    variants:\n      - {name: A}\n",
            "key 'variants': must be a list of at least two variants, each {name, share, "
            "subject and/or template}, not one",
        ),
        (
            BASE,
            "    variants:\n      - {name: A}\n      - {name: a}\n",
            "key 'variants[2].name': 'a' is used by another variant",
        ),
        (
            BASE,
            "    variants:\n      - {name: A}\n      - {name: holdout}\n",
            "key 'variants[2].name': 'holdout' is a word of the report; pick another",
        ),
        (
            BASE,
            "    variants:\n      - {name: A}\n      - {name: B, subjet: Hi}\n",
            "key 'variants[2].subjet': unknown key; did you mean 'subject'? allowed here: "
            "name, share, subject, template, html_template, steps",
        ),
        (
            BASE,
            "    variants:\n      - {name: A}\n      - {name: B, template: nowhere.txt.j2}\n",
            "key 'variants[2].template': template 'nowhere.txt.j2' not found (looked for "
            "{dir}/nowhere.txt.j2; paths are relative to the campaign file's folder)",
        ),
        (
            BASE,
            "    variants:\n      - {name: A}\n      - {name: B, steps: {1: {subject: X}}}\n",
            "key 'variants[2].steps': only applies to a campaign with steps; name subject or "
            "template",
        ),
        (
            BASE,
            "    variant_salt: spring\n",
            "key 'variant_salt': only applies to a campaign with variants",
        ),
        (
            SERIES,
            "    variants:\n      - {name: A}\n      - {name: B, subject: X}\n",
            "key 'variants[2].subject': goes inside the variant's steps when the campaign has "
            "steps, e.g. steps: {1: {subject: ...}}",
        ),
        (
            SERIES,
            "    variants:\n      - {name: A}\n      - {name: B, steps: {3: {subject: X}}}\n",
            "key 'variants[2].steps.3': is not a step of this campaign; steps are 1..2",
        ),
        (
            SERIES,
            "    variants:\n      - {name: A}\n      - {name: B, steps: {2: {subject: X}}}\n",
            "key 'variants[2].steps[2]': step 2 is a task for you (channel: task); variants "
            "change messages",
        ),
    ],
)
def test_bad_variants_name_file_campaign_and_key(tmp_path, base, extra, message):
    (tmp_path / "hello.txt.j2").write_text("Hello\n")
    path = tmp_path / "campaigns.yaml"
    path.write_text(base + extra)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    expected = f"{path}: campaign 'hello': " + message.replace("{dir}", str(tmp_path))
    assert str(caught.value) == expected


def test_a_bad_variant_is_an_error_line_through_the_cli(cli, tmp_path):
    (tmp_path / "hello.txt.j2").write_text("Hello\n")
    path = tmp_path / "campaigns.yaml"
    path.write_text(
        BASE + "    variants:\n      - {name: A, share: 60%}\n      - {name: B, share: 60%}\n"
    )
    result = cli("campaigns", "check", "--config", str(path))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {path}: campaign 'hello': key 'variants': the shares add up to 120% (A 60%, "
        "B 60%); they must add up to 100% (or 1): the variants split the recipients, the "
        "holdout is drawn before them\n"
    )


def test_even_split_and_shares_near_100_percent(tmp_path):
    (tmp_path / "hello.txt.j2").write_text("Hello\n")
    path = tmp_path / "campaigns.yaml"
    path.write_text(
        BASE + "    variant_salt: 2026\n    variants:\n      - {name: A}\n      - {name: B}\n"
        "      - {name: C}\n"
    )
    hello = load_config(path).campaign("hello")
    assert [v.share for v in hello.variants] == [1 / 3] * 3 and hello.variant_salt == "2026"
    path.write_text(
        BASE + "    variants:\n      - {name: A, share: 33.3%}\n      - {name: B, share: 33.3%}"
        "\n      - {name: C, share: 33.3%}\n"
    )
    shares = [v.share for v in load_config(path).campaign("hello").variants]
    assert shares == pytest.approx([1 / 3] * 3)
    # over many customers the draw follows the shares, and is independent of the holdout
    customers = [f"X{i}" for i in range(6000)]
    drawn = [assign_variant(load_config(path).campaign("hello"), c) for c in customers]
    held = [holdout_score("hello", c) < 0.1 for c in customers]
    for name in "ABC":
        assert abs(drawn.count(name) / 6000 - 1 / 3) < 0.03
        among_held = sum(1 for d, h in zip(drawn, held, strict=True) if h and d == name)
        assert abs(among_held / sum(held) - 1 / 3) < 0.07


def test_plan_shows_the_split_and_what_each_variant_could_detect(cli, shop, monkeypatch):
    import math

    args = ("plan", "hello", "--config", str(shop), "--as-of", SHOP_AS_OF)
    [power] = json.loads(cli(*args, "-f", "json").stdout)["measurement"]
    due = CONSENTING - HELD
    in_a = sum(expected_variant(e) == "A" for e in due)
    in_b = len(due) - in_a
    base = 1 - math.exp(-14 / 365)  # every customer ordered once in the past year
    sd = math.sqrt(base * (1 - base))

    def mde(n: int, m: int) -> float:
        return round((1.959964 + 0.841621) * sd * math.sqrt(1 / n + 1 / m), 4)

    assert power["variants"] == [
        {
            "variant": "A",
            "share": 0.5,
            "due_now": in_a,
            "recipients": in_a,
            "detectable_difference": pytest.approx(mde(in_a, len(HELD)), abs=1e-4),
            "detectable_versus_first": None,
        },
        {
            "variant": "B",
            "share": 0.5,
            "due_now": in_b,
            "recipients": in_b,
            "detectable_difference": pytest.approx(mde(in_b, len(HELD)), abs=1e-4),
            "detectable_versus_first": pytest.approx(mde(in_b, in_a), abs=1e-4),
        },
    ]
    monkeypatch.setenv("COLUMNS", "80")
    text = " ".join(cli(*args, "--limit", "0").stdout.split())
    assert (
        f"hello variants: A (50%) {in_a} due now, B (50%) {in_b} due now; the smallest "
        f"difference in conversion against the holdout: A about {mde(in_a, len(HELD)) * 100:.0f}"
        f" pp, B about {mde(in_b, len(HELD)) * 100:.0f} pp; between the variants: B against A "
        f"about {mde(in_b, in_a) * 100:.0f} pp." in text
    )


def test_campaigns_check_renders_every_variant(cli, shop):
    template = shop.parent / "templates" / "hello_b.txt.j2"
    template.write_text("Dear {{ customer.frist_name }},\n")
    result = cli("campaigns", "check", "--config", str(shop), "-f", "json")
    assert result.exit_code == 1
    [hello] = [r for r in json.loads(result.stdout) if r["campaign"] == "hello"]
    assert hello["status"] == "problem"
    assert hello["problems"] == (
        "variant B: templates/hello_b.txt.j2 line 1: undefined: 'frist_name' (no such field; "
        "check the spelling)"
    )


def test_preview_shows_each_customers_variant(cli, shop):
    result = cli("preview", "hello", "--config", str(shop), "--as-of", SHOP_AS_OF, "--limit", "20")
    assert result.exit_code == 0, result.output
    shown = result.stdout.split("=== message ")[1:]
    assert shown
    for block in shown:
        email = block.split(" to ", 1)[1].split(" ", 1)[0].split("\n")[0]
        variant = expected_variant(email)
        assert f"X-Retain-Variant: {variant}\n" in block
        subject = block.split("Subject: ", 1)[1].split("\n", 1)[0]
        assert subject.startswith("Fresh bread for you" if variant == "B" else "Hello ")


def test_queued_messages_of_a_variant_removed_from_the_file_are_skipped(cli, shop, db_path):
    args = ("send", "hello", "--yes", "--config", str(shop), "--as-of", SHOP_AS_OF)
    first = cli(*args, "--limit", "1")
    assert first.exit_code == 0, first.output  # the others wait for the next run
    with Store.open(db_path) as store:
        waiting = dict(
            store.conn.execute("SELECT email, variant FROM sends WHERE state = 'planned'")
        )
    assert "B" in waiting.values() and "A" in waiting.values()
    shop.write_text(shop.read_text().replace("      - name: B\n", "      - name: C\n", 1))
    again = cli(*args, "-f", "json")
    assert again.exit_code == 0, again.output
    after = by_email(
        db_path,
        "SELECT email, state, error FROM sends WHERE email IN (SELECT value FROM json_each(?))",
        json.dumps(list(waiting)),
    )
    for email, variant in waiting.items():
        if variant == "B":
            assert after[email] == ("skipped", "variant B is no longer in the campaign file")
        else:
            assert after[email] == ("sent", None)
