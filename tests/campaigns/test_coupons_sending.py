"""A campaign with a coupon pool: one code per message, given with the claim, through the
CLI (outbox and a real SMTP server killed mid-send)."""

from __future__ import annotations

import email
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from smtp_servers import SHOP_AS_OF, Behaviour, SmtpServer, kill_after, make_shop

from retain_cli.campaigns.planner import holdout_score
from retain_cli.store import Store

DATA = Path(__file__).parent / "data" / "sending"
CONSENTING = {f"c{i:02d}@example.org" for i in range(20)}
HELD = {e for e in CONSENTING if holdout_score("hello", e.split("@")[0].upper()) < 0.2}
DUE = CONSENTING - HELD
CODE = re.compile(r"Your code: (\S+)")


def write_codes(folder: Path, name: str, count: int, start: int = 1) -> Path:
    path = folder / name
    path.write_text("".join(f"WB-{i:04d}\n" for i in range(start, start + count)))
    return path


@pytest.fixture
def shop(db_path: Path, tmp_path: Path) -> Path:
    """The sending tests' shop; campaign 'hello' gives a code of pool WINBACK."""
    with Store.open(db_path) as store:
        make_shop(store)
    folder = tmp_path / "shop"
    shutil.copytree(DATA, folder)
    (folder / "templates" / "coupon.txt.j2").write_text(
        "Hi {{ customer.first_name }},\n\nYour code: {{ coupon.code }} (pool {{ coupon.pool }})\n"
    )
    config = folder / "campaigns.yaml"
    config.write_text(
        config.read_text().replace(
            "    template: templates/hello.txt.j2\n    holdout: 20%\n",
            "    template: templates/coupon.txt.j2\n    holdout: 20%\n    coupon_pool: winback\n",
        )
    )
    return config


def use_smtp(config: Path, port: int, limits: str = "") -> None:
    """The campaign file sends through the server on ``port`` (with ``limits``, YAML)."""
    text = config.read_text().replace(
        "  type: outbox\n",
        f"  type: smtp\n  host: 127.0.0.1\n  port: {port}\n  security: none\n  timeout: 5\n",
    )
    config.write_text(text.replace("campaigns:\n", f"{limits}campaigns:\n", 1))


def given(db_path: Path) -> dict[str, str]:
    """email -> the code its 'hello' message carries (ledger)."""
    with Store.open(db_path) as store:
        rows = store.conn.execute(
            "SELECT s.email, k.code FROM sends s JOIN coupon_codes k ON k.id = s.coupon_ref "
            "WHERE s.campaign = 'hello'"
        )
        return dict(rows.fetchall())


def states(db_path: Path) -> dict[str, str]:
    with Store.open(db_path) as store:
        rows = store.conn.execute("SELECT email, state FROM sends WHERE campaign = 'hello'")
        return dict(rows.fetchall())


def outbox_codes(folder: Path) -> dict[str, str]:
    """recipient -> the code in their .eml file."""
    out = {}
    for path in (folder / "outbox" / "hello").glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes())
        body = message.get_payload(decode=True).decode()
        found = CODE.search(body)
        assert found, body
        out[message["To"].split("<")[-1].rstrip(">")] = found.group(1)
    return out


def send(cli, config: Path, *extra: str):
    return cli("send", "hello", "--yes", "--config", str(config), "--as-of", SHOP_AS_OF, *extra)


def test_each_message_carries_its_own_code_and_the_ledger_says_which(cli, shop, db_path, tmp_path):
    cli("coupons", "import", str(write_codes(tmp_path, "codes.txt", 40)), "--pool", "WINBACK")
    result = send(cli, shop)
    assert result.exit_code == 0, result.output
    mailed = outbox_codes(shop.parent)
    assert set(mailed) == DUE
    assert len(set(mailed.values())) == len(DUE)  # never two customers one code
    assert given(db_path) == mailed  # the ledger agrees with what went out
    # given in the order they were imported
    assert sorted(mailed.values()) == [f"WB-{i:04d}" for i in range(1, len(DUE) + 1)]
    pools = json.loads(cli("coupons", "-f", "json").stdout)
    assert pools == [
        {
            "pool": "WINBACK",
            "total": 40,
            "assigned": len(DUE),
            "redeemed": 0,
            "used_elsewhere": 0,
            "left": 40 - len(DUE),
        }
    ]
    assert "Warning" not in result.stderr


def test_an_empty_pool_leaves_the_rest_planned_and_more_codes_send_them(
    cli, shop, db_path, tmp_path
):
    cli("coupons", "import", str(write_codes(tmp_path, "few.txt", 5)), "--pool", "WINBACK")
    plan = cli("plan", "hello", "--config", str(shop), "--as-of", SHOP_AS_OF)
    assert plan.exit_code == 0
    waiting = len(DUE) - 5
    assert (
        f"Warning: pool WINBACK has 5 codes left for {len(DUE)} messages due (hello): "
        f"{waiting} will wait, not sent; import more with 'retain coupons import FILE --pool "
        "WINBACK'" in " ".join(plan.stderr.split())
    )
    dry = send(cli, shop, "--dry-run", "-f", "json")
    assert dry.exit_code == 3
    assert json.loads(dry.stdout)["would wait for a coupon code"] == waiting
    assert given(db_path) == {}  # a plan and a dry run give nothing

    result = send(cli, shop, "-f", "json")
    assert result.exit_code == 3  # cron mails the owner
    summary = json.loads(result.stdout)
    assert summary["sent"] == 5
    assert summary["waiting for a coupon code"] == waiting
    assert (
        f"Warning: pool WINBACK ran out: {waiting} messages of hello that need a code were "
        "not sent and wait for the next run" in " ".join(result.stderr.split())
    )
    ledger = states(db_path)
    assert Counter(v for v in ledger.values() if v != "held_out") == {
        "sent": 5,
        "planned": waiting,
    }
    with Store.open(db_path) as store:
        (error,) = {
            r[0] for r in store.conn.execute("SELECT error FROM sends WHERE state = 'planned'")
        }
    assert error.startswith("waits for a coupon code: pool WINBACK has none left")
    assert len(outbox_codes(shop.parent)) == 5  # never sent with an empty code

    cli(
        "coupons",
        "import",
        str(write_codes(tmp_path, "more.txt", 30, start=6)),
        "--pool",
        "WINBACK",
    )
    again = send(cli, shop, "-f", "json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["sent"] == waiting
    mailed = outbox_codes(shop.parent)
    assert set(mailed) == DUE and len(set(mailed.values())) == len(DUE)
    assert given(db_path) == mailed


def test_a_pool_running_low_is_warned_about(cli, shop, tmp_path):
    cli(
        "coupons",
        "import",
        str(write_codes(tmp_path, "codes.txt", len(DUE) + 1)),
        "--pool",
        "winback",
    )
    result = send(cli, shop)
    assert result.exit_code == 0
    total = len(DUE) + 1
    assert (
        f"Warning: pool WINBACK is running low: 1 of {total} codes left (5%); import more with "
        "'retain coupons import FILE --pool WINBACK'" in " ".join(result.stderr.split())
    )


def test_a_pool_with_no_codes_is_named_by_plan(cli, shop):
    plan = cli("plan", "hello", "--config", str(shop), "--as-of", SHOP_AS_OF)
    assert plan.exit_code == 0
    assert (
        "Warning: pool WINBACK (hello) has no codes: messages that need one are not sent; "
        "import the shop's codes with 'retain coupons import FILE --pool WINBACK'"
        in " ".join(plan.stderr.split())
    )


def test_preview_shows_the_next_codes_without_giving_them(cli, shop, db_path, tmp_path):
    cli("coupons", "import", str(write_codes(tmp_path, "codes.txt", 40)), "--pool", "WINBACK")
    result = cli("preview", "hello", "--config", str(shop), "--as-of", SHOP_AS_OF)
    assert result.exit_code == 0, result.output
    assert "Your code: WB-0001 (pool WINBACK)" in result.stdout
    assert "Your code: WB-0002 (pool WINBACK)" in result.stdout
    assert given(db_path) == {}
    check = cli("campaigns", "check", "--config", str(shop))
    assert check.exit_code == 0, check.output


def test_campaign_file_errors_name_the_key(cli, shop):
    text = shop.read_text()
    shop.write_text(text.replace("coupon_pool: winback", "coupon_pool: win back"))
    result = cli("plan", "--config", str(shop))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"Error: {shop}: campaign 'hello': key 'coupon_pool': 'win back' is not a pool name"
    )
    shop.write_text(text.replace("coupon_pool: winback", "coupon_pool: W\n    offer_code: X10"))
    result = cli("plan", "--config", str(shop))
    assert result.exit_code == 1
    assert "a campaign offers one code to everyone (offer_code) or a code of its own" in (
        " ".join(result.stderr.split())
    )
    shop.write_text(text.replace("    coupon_pool: winback\n", ""))
    check = cli("campaigns", "check", "--config", str(shop), "-f", "json")
    assert check.exit_code == 1
    (row,) = [r for r in json.loads(check.stdout) if r["campaign"] == "hello"]
    assert "undefined: 'coupon' (only a campaign with a coupon_pool has one" in row["problems"]


def test_killed_mid_send_no_code_is_given_twice_and_a_retry_keeps_its_code(
    cli, shop, db_path, tmp_path
):
    """SIGKILL a real `retain send` after a few messages, run it again, then retry the one
    whose outcome is unknown: every message carries a code of its own, the ledger agrees,
    and the retried message carries the same code again."""
    cli("coupons", "import", str(write_codes(tmp_path, "codes.txt", 40)), "--pool", "WINBACK")
    with SmtpServer(Behaviour(delay=0.2)) as server:
        use_smtp(shop, server.port, "limits:\n  batch_size: 4\n")
        command = [sys.executable, "-m", "retain_cli", "--db", str(db_path), "send", "hello"]
        command += ["--yes", "--config", str(shop), "--as-of", SHOP_AS_OF]
        before = kill_after(command, server, 6)
        assert 6 <= before < len(DUE)
        server.behaviour.delay = 0.0
        again = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert again.returncode == 3, again.stderr  # the one in flight is ambiguous
        ledger = states(db_path)
        (unknown,) = [e for e, s in ledger.items() if s == "ambiguous"]
        retry = cli("sends", "resolve", "--campaign", "hello", "--as", "retry")
        assert retry.exit_code == 0
        last = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert last.returncode == 0, last.stderr
        received = [
            (item.rcpt_tos[0], CODE.search(item.message.get_payload(decode=True).decode()))
            for item in server.received
        ]
    assert all(found for _, found in received)
    mail = [(to, found.group(1)) for to, found in received if found]
    codes_of: dict[str, set[str]] = {}
    for to, code in mail:
        codes_of.setdefault(to, set()).add(code)
    assert all(len(codes) == 1 for codes in codes_of.values())  # one code per customer
    owners = Counter(code for codes in codes_of.values() for code in codes)
    assert all(n == 1 for n in owners.values())  # no code to two customers
    ledger_codes = given(db_path)
    assert {to: next(iter(codes)) for to, codes in codes_of.items()} == ledger_codes
    assert set(states(db_path).items()) >= {(e, "sent") for e in DUE}
    assert set(ledger_codes) == DUE
    # the retried message went out again with its code (if the killed one arrived, twice)
    assert Counter(to for to, _ in mail)[unknown] in (1, 2)


def add_coded_order(db_path: Path, email: str, code: str, *, days: int = 1, **extra: object):
    """An order of ``email`` with discount ``code``, ``days`` after the codes were given."""
    with Store.open(db_path) as store:
        (ref,) = store.conn.execute("SELECT id FROM customers WHERE email = ?", (email,)).fetchone()
        (given_at,) = store.conn.execute("SELECT max(claimed_at) FROM sends").fetchone()
        at = given_at or "2025-06-01T00:00:00Z"
        store.conn.execute(
            "INSERT INTO orders (order_key, source, order_id, customer_ref, ordered_at, "
            "currency, total_minor, discount_minor, discount_code, cancelled_at) "
            "VALUES (?, 'test', ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', ?, ?), 'USD', 4500, "
            "500, ?, ?)",
            (
                f"test:{email}:{code}",
                f"#{code}",
                ref,
                at,
                f"{days} days",
                code,
                extra.get("cancelled_at"),
            ),
        )


def test_report_counts_redemptions_by_the_customer_the_code_was_sent_to(
    cli, shop, db_path, tmp_path
):
    cli("coupons", "import", str(write_codes(tmp_path, "codes.txt", 40)), "--pool", "WINBACK")
    assert send(cli, shop).exit_code == 0
    mailed = given(db_path)
    first, second, third = sorted(mailed)[:3]
    add_coded_order(db_path, first, mailed[first].lower())  # codes ignore case
    add_coded_order(db_path, "n1@example.org", mailed[second])  # forwarded to someone else
    add_coded_order(db_path, third, mailed[third], cancelled_at="2026-01-01T00:00:00Z")
    result = cli("report", "hello", "--config", str(shop), "-f", "json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert {k: v for k, v in row.items() if "coupon" in k} == {
        "coupon_pool": "WINBACK",
        "coupons_sent": len(DUE),
        "coupons_redeemed": 1,
        "coupon_redemption_rate": round(1 / len(DUE), 4),
        "coupon_discount": 5.0,
        "coupons_used_by_others": 1,
        "coupon_discount_by_others": 5.0,
    }
    text = " ".join(cli("report", "hello", "--config", str(shop)).stdout.split())
    assert (
        f"Coupons (pool WINBACK): {len(DUE)} codes sent, 1 redeemed by the customer it was "
        f"sent to ({1 / len(DUE):.1%}), giving away $5.00. 1 order of other customers used a "
        "code sent to someone else (forwarded), giving away $5.00 more: not counted as redeemed."
    ) in text
    pools = json.loads(cli("coupons", "-f", "json").stdout)
    assert pools[0]["redeemed"] == 1 and pools[0]["assigned"] == len(DUE)


def test_a_code_an_order_used_already_is_never_given(cli, shop, db_path, tmp_path):
    cli("coupons", "import", str(write_codes(tmp_path, "codes.txt", 40)), "--pool", "WINBACK")
    add_coded_order(db_path, "n1@example.org", "wb-0001", days=-30)
    assert send(cli, shop).exit_code == 0
    assert "WB-0001" not in given(db_path).values()
    (pool,) = json.loads(cli("coupons", "-f", "json").stdout)
    assert pool["used_elsewhere"] == 1
    assert pool["left"] == 40 - len(DUE) - 1


def test_a_message_queued_for_approval_carries_its_code_from_then_on(cli, shop, db_path, tmp_path):
    cli("coupons", "import", str(write_codes(tmp_path, "codes.txt", 40)), "--pool", "WINBACK")
    shop.write_text(
        shop.read_text().replace(
            "coupon_pool: winback\n", "coupon_pool: winback\n    approval: required\n"
        )
    )
    queued = send(cli, shop, "-f", "json")
    assert json.loads(queued.stdout)["waiting for approval"] == len(DUE)
    at_queue = given(db_path)
    assert set(at_queue) == DUE and len(set(at_queue.values())) == len(DUE)
    listed = json.loads(cli("queue", "list", "-f", "json").stdout)
    shown = cli("queue", "show", str(listed[0]["id"]))
    assert f"Your code: {at_queue[listed[0]['email']]} (pool WINBACK)" in shown.stdout
    assert cli("queue", "approve", "--all").exit_code == 0
    result = send(cli, shop, "-f", "json")
    assert json.loads(result.stdout)["sent"] == len(DUE)
    assert outbox_codes(shop.parent) == at_queue == given(db_path)  # sent as approved


def test_a_message_deferred_after_its_claim_keeps_its_code(cli, shop, db_path, tmp_path):
    cli("coupons", "import", str(write_codes(tmp_path, "codes.txt", 40)), "--pool", "WINBACK")
    with SmtpServer(Behaviour(data_replies=["451 4.3.0 try again later"])) as server:
        use_smtp(shop, server.port)
        first = send(cli, shop, "--retries", "0", "-f", "json")
        assert json.loads(first.stdout)["sent"] == len(DUE) - 1
        (waiting,) = [e for e, s in states(db_path).items() if s == "planned"]
        code = given(db_path)[waiting]  # claimed with its code, then deferred
        second = send(cli, shop, "-f", "json")
        assert json.loads(second.stdout)["sent"] == 1, second.output
        received = {
            item.rcpt_tos[0]: CODE.search(item.message.get_payload(decode=True).decode())
            for item in server.received
        }
    assert received[waiting] and received[waiting].group(1) == code
    assert given(db_path)[waiting] == code
    assert len(set(given(db_path).values())) == len(DUE)
