"""The program holdout in plan, send and explain: held-out customers are left out of every
marketing campaign (reason "program holdout"), transactional campaigns still reach them, and
customers who arrive later are drawn by the next send and recorded."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from smtp_servers import make_shop

from retain_cli.campaigns.program import program_score
from retain_cli.store import Store

DATA = Path(__file__).parent / "data" / "sending"
NOW = "2025-06-10T10:00"
HELD = {"C00", "C01", "C10", "C11"}


@pytest.fixture
def shop(db_path: Path, tmp_path: Path) -> Path:
    """The sending tests' shop; 'thanks' marked transactional; a program holdout begun on
    1 June 2025 that holds out c00, c01 (due a thank-you) and c10, c11 (in hello's audience)."""
    with Store.open(db_path) as store:
        make_shop(store)
        with store.transaction():
            holdout = store.program_start(0.05, "salt", "2025-06-01T00:00:00Z")
            rows = store.conn.execute("SELECT id, customer_id FROM customers").fetchall()
            store.program_record(
                holdout, [(ref, cid in HELD) for ref, cid in rows], "2025-06-01T00:00:00Z"
            )
    shutil.copytree(DATA, tmp_path / "shop")
    config = tmp_path / "shop" / "campaigns.yaml"
    text = config.read_text().replace(
        "  - name: thanks\n", "  - name: thanks\n    kind: transactional\n", 1
    )
    config.write_text(text)
    return config


def _plan(cli, config: Path) -> list[dict[str, str]]:
    result = cli("plan", "--config", str(config), "--now", NOW, "-f", "csv")
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_plan_leaves_the_program_holdout_out_of_marketing_only(cli, shop):
    rows = _plan(cli, shop)
    mine = {(r["campaign"], r["customer_id"]): (r["status"], r["reason"]) for r in rows}
    assert mine[("hello", "C10")] == ("left_out", "program holdout")
    assert mine[("hello", "C11")] == ("left_out", "program holdout")
    assert mine[("hello", "C00")] == ("left_out", "program holdout")
    # the thank-you is transactional: it still goes to them
    assert mine[("thanks", "C00")] == ("due", "")
    assert mine[("thanks", "C01")] == ("due", "")
    program = {k for k, (_, reason) in mine.items() if reason == "program holdout"}
    assert {campaign for campaign, _ in program} == {"hello"}
    table = cli("plan", "--config", str(shop), "--now", NOW)
    assert "program holdout 4" in table.output
    assert (
        " ".join(table.output.split()).count(
            "Program holdout (5%): left out 4 messages to 4 customer(s) of marketing campaigns "
            "('retain report program' compares them)."
        )
        == 1
    )
    data = json.loads(cli("plan", "--config", str(shop), "--now", NOW, "-f", "json").stdout)
    assert data["program_holdout"] == {"share": 0.05, "messages": 4, "customers": 4}


def test_send_says_how_many_the_program_holdout_left_out(cli, shop, db_path):
    result = cli("send", "--yes", "--config", str(shop), "--now", NOW, "-f", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["left out (program holdout)"] == 4
    with Store.open(db_path) as store:
        rows = store.conn.execute(
            "SELECT s.campaign, c.customer_id, s.state FROM sends s "
            "JOIN customers c ON c.id = s.customer_ref"
        ).fetchall()
    hello = {cid for campaign, cid, _ in rows if campaign == "hello"}
    assert not hello & HELD  # neither sent nor recorded as the campaign's holdout
    thanks = {cid: state for campaign, cid, state in rows if campaign == "thanks"}
    assert thanks["C00"] == thanks["C01"] == "sent"
    table = cli("send", "--yes", "--config", str(shop), "--now", NOW)
    assert "left out (program holdout)" in table.output


def test_explain_says_program_holdout(cli, shop):
    result = cli("explain", "c10@example.org", "--config", str(shop), "--now", NOW, "-f", "json")
    assert result.exit_code == 0, result.output
    decisions = {d["campaign"]: d for d in json.loads(result.stdout)["campaigns"]}
    assert (decisions["hello"]["status"], decisions["hello"]["reason"]) == (
        "left_out",
        "program holdout",
    )


def _add_new_customers(store: Store) -> None:
    """60 customers NEW0..NEW59 who arrived on 5 June, after the draw."""
    store.db["customers"].insert_all(
        {
            "customer_id": f"NEW{i}",
            "email": f"new{i}@example.org",
            "accepts_marketing": 1,
            "source": "test",
            "created_at": "2025-06-05T00:00:00Z",
            "updated_at": "2025-06-05T00:00:00Z",
        }
        for i in range(60)
    )


def test_new_customers_are_drawn_by_send_and_kept(cli, shop, db_path):
    with Store.open(db_path) as store:
        _add_new_customers(store)
        new = dict(
            store.conn.execute(
                "SELECT id, customer_id FROM customers WHERE customer_id LIKE 'NEW%'"
            )
        )
    held_new = {ref for ref, cid in new.items() if program_score("salt", cid) < 0.05}
    assert held_new  # the hash holds some out
    rows = _plan(cli, shop)
    planned = {r["customer_id"] for r in rows if r["reason"] == "program holdout"}
    assert {new[ref] for ref in held_new} <= planned
    with Store.open(db_path) as store:  # plan recorded nothing
        assert store.conn.execute(
            "SELECT count(*) FROM program_holdout_members WHERE customer_ref IN "
            f"({','.join(map(str, new))})"
        ).fetchone() == (0,)
    assert cli("send", "--yes", "--config", str(shop), "--now", NOW).exit_code == 0
    with Store.open(db_path) as store:
        drawn = {
            ref: (held, joined)
            for ref, held, joined in store.conn.execute(
                "SELECT customer_ref, held_out, joined_at FROM program_holdout_members"
            )
            if ref in new
        }
        before = store.conn.execute("SELECT count(*) FROM program_holdout_members").fetchone()
    assert {ref for ref, (held, _) in drawn.items() if held} == held_new
    assert {joined for _, joined in drawn.values()} == {"2025-06-10T10:00:00Z"}
    assert cli("send", "--yes", "--config", str(shop), "--now", "2025-06-11T10:00").exit_code == 0
    with Store.open(db_path) as store:  # drawn once: a later run changes nothing
        assert store.conn.execute("SELECT count(*) FROM program_holdout_members").fetchone() == (
            before
        )


def test_kind_must_be_marketing_or_transactional(cli, shop):
    shop.write_text(shop.read_text().replace("kind: transactional", "kind: receipt"))
    result = cli("campaigns", "check", "--config", str(shop))
    assert result.exit_code != 0
    assert "campaign 'thanks': key 'kind': must be marketing or transactional, not 'receipt'" in (
        " ".join(result.output.split())
    )


def test_a_message_queued_before_the_holdout_is_skipped_for_it(cli, shop, db_path):
    with Store.open(db_path) as store:
        (ref,) = store.conn.execute("SELECT id FROM customers WHERE customer_id = 'C10'").fetchone()
        row = {
            "send_key": "hello:1:C10:1",
            "campaign": "hello",
            "step": 1,
            "customer_ref": ref,
            "occurrence": "1",
            "email": "c10@example.org",
            "state": "planned",
        }
        assert store.ledger_record([row], "2025-06-09T10:00:00Z") == 1
    mine = {(r["campaign"], r["customer_id"]): r for r in _plan(cli, shop)}
    assert (mine[("hello", "C10")]["status"], mine[("hello", "C10")]["reason"]) == (
        "skipped",
        "program holdout",
    )
    assert cli("send", "--yes", "--config", str(shop), "--now", NOW).exit_code == 0
    with Store.open(db_path) as store:
        assert store.conn.execute(
            "SELECT state, error FROM sends WHERE send_key = 'hello:1:C10:1'"
        ).fetchone() == ("skipped", "program holdout")


def _consent_rows(output: str) -> str:
    """The Consent section of ``retain explain``, its lines joined (Rich wraps at 80)."""
    section = output.split("Consent", 1)[1].split("Segments", 1)[0]
    return " ".join(section.split())


def test_explain_says_the_program_holdout_even_when_nothing_is_due(cli, shop, db_path):
    """C12 is held out (recorded on 3 June) and, with 'hello' switched off, no campaign of
    theirs is due or left out: the consent section still says the program holdout keeps them
    out of marketing."""
    shop.write_text(
        shop.read_text().replace("    holdout: 20%\n", "    holdout: 20%\n    enabled: false\n", 1)
    )
    with Store.open(db_path) as store, store.transaction():
        (ref,) = store.conn.execute("SELECT id FROM customers WHERE customer_id = 'C12'").fetchone()
        store.conn.execute(
            "UPDATE program_holdout_members SET held_out = 1, joined_at = ? WHERE customer_ref = ?",
            ("2025-06-03T08:00:00Z", ref),
        )
        assert store.conn.execute(
            "SELECT held_out, joined_at FROM program_holdout_members WHERE customer_ref = ?",
            (ref,),
        ).fetchone() == (1, "2025-06-03T08:00:00Z")
    result = cli("explain", "c12@example.org", "--config", str(shop), "--now", NOW, "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {d["status"] for d in data["campaigns"]} <= {"not_due", "not_in_audience", "disabled"}
    expected = (
        "held out of every marketing campaign since 2025-06-03 (the program holdout, 5%; "
        "transactional campaigns still reach them)"
    )
    assert data["consent"]["program_holdout"] == expected
    text = cli("explain", "c12@example.org", "--config", str(shop), "--now", NOW)
    assert text.exit_code == 0, text.output
    assert f"program holdout {expected}" in _consent_rows(text.output)


def test_explain_says_nothing_of_the_holdout_for_those_it_does_not_hold(cli, shop):
    result = cli("explain", "c12@example.org", "--config", str(shop), "--now", NOW, "-f", "json")
    assert json.loads(result.stdout)["consent"]["program_holdout"] is None
    assert "program holdout" not in _consent_rows(
        cli("explain", "c12@example.org", "--config", str(shop), "--now", NOW).output
    )
    assert cli("config", "unset", "program_holdout").exit_code == 0
    result = cli("explain", "c10@example.org", "--config", str(shop), "--now", NOW, "-f", "json")
    assert json.loads(result.stdout)["consent"]["program_holdout"] is None


def test_explain_says_the_program_holdout_of_a_customer_not_drawn_yet(cli, shop, db_path):
    """A customer who arrived after the draw and whose hash holds them out: held out now,
    as the plan does, and the next send records the draw."""
    with Store.open(db_path) as store:
        _add_new_customers(store)
    held = [i for i in range(60) if program_score("salt", f"NEW{i}") < 0.05]
    free = next(i for i in range(60) if i not in held)
    result = cli("explain", f"new{held[0]}@example.org", "--config", str(shop), "--now", NOW)
    assert result.exit_code == 0, result.output
    assert (
        "program holdout held out of every marketing campaign (the program holdout, 5%; "
        "transactional campaigns still reach them); the holdout runs since 2025-06-01 and the "
        "next 'retain send' records their draw"
    ) in _consent_rows(result.output)
    other = cli("explain", f"new{free}@example.org", "--config", str(shop), "--now", NOW)
    assert "program holdout" not in _consent_rows(other.output)
    with Store.open(db_path) as store:  # explain recorded nothing
        assert store.conn.execute(
            "SELECT count(*) FROM program_holdout_members m JOIN customers c "
            "ON c.id = m.customer_ref WHERE c.customer_id LIKE 'NEW%'"
        ).fetchone() == (0,)
