"""An address change without a platform id: spotted by the import, joined by
``retain customers merge OLD NEW`` (issue 11)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from retain_cli.store import Store

CAMPAIGNS = """\
sender:
  from: "Rosie's Bakery <hello@rosies.example>"
  address: "12 Baker St, Springfield"
  unsubscribe: "mailto:unsubscribe@rosies.example"
transport: {type: outbox, outbox: outbox}
limits: {timezone: Europe/Berlin}
campaigns:
  - name: welcome
    trigger: {after: signup}
    subject: "Welcome"
    template: hello.txt.j2
  - name: thank-you
    trigger: {after: first_order, days: 3}
    subject: "Thank you"
    template: hello.txt.j2
  - name: hello
    audience: all
    subject: "Hello"
    template: hello.txt.j2
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def rows_of(stdout: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(stdout)))


def shop(cli, tmp_path: Path, monkeypatch) -> Path:
    """Bob Stone ordered as bob@old.example; then his orders come from bob@new.example."""
    write(tmp_path / "hello.txt.j2", "Hi {{ customer.first_name }}\n")
    config = write(tmp_path / "campaigns.yaml", CAMPAIGNS)
    monkeypatch.setenv("RETAIN_NOW", "2025-06-01T12:00:00Z")
    first = write(
        tmp_path / "first.csv",
        "order id,email,name,date,amount,accepts marketing\n"
        "1,bob@old.example,Bob Stone,2025-01-10,20.00,yes\n"
        "2,bob@old.example,Bob Stone,2025-03-05,25.00,yes\n"
        "3,ann@example.org,Ann Lee,2025-03-06,12.00,yes\n",
    )
    assert cli("import", "orders", "--currency", "EUR", str(first)).exit_code == 0
    monkeypatch.setenv("RETAIN_NOW", "2025-06-02T08:00:00Z")
    assert cli("send", "--yes", "-c", str(config)).exit_code == 0  # hello to both
    return config


def test_an_import_says_when_an_address_looks_changed(cli, db_path, tmp_path, monkeypatch):
    config = shop(cli, tmp_path, monkeypatch)
    monkeypatch.setenv("RETAIN_NOW", "2025-06-10T12:00:00Z")
    later = write(
        tmp_path / "later.csv",
        "order id,email,name,date,amount,accepts marketing\n"
        "4,bob@new.example,Bob Stone,2025-06-09,30.00,yes\n"
        "5,cy@example.org,Cy Twombly,2025-06-09,30.00,yes\n",
    )
    result = cli("import", "orders", "--currency", "EUR", str(later))
    assert result.exit_code == 0, result.output
    assert " ".join(result.stderr.split()) == (
        "Looks like an address change: bob@old.example -> bob@new.example (Bob Stone; same "
        "name; the new address's orders begin after the old one's end). If it is one person, "
        "merge them: retain customers merge bob@old.example bob@new.example"
    )
    as_json = cli("import", "orders", "--currency", "EUR", str(later), "--dry-run", "-f", "json")
    assert json.loads(as_json.stdout).get("address_changes") is None  # nothing new this time
    # unmerged, Bob is a new customer: welcomed and thanked for a "first" order
    monkeypatch.setenv("RETAIN_NOW", "2025-06-12T08:00:00Z")
    plan = cli("plan", "welcome", "thank-you", "hello", "-c", str(config), "-f", "csv")
    bob = {(r["campaign"], r["status"]) for r in rows_of(plan.stdout) if "bob" in r["email"]}
    assert {("welcome", "due"), ("thank-you", "due"), ("hello", "due")} <= bob


def test_merge_moves_history_ledger_and_opt_outs(cli, db_path, tmp_path, monkeypatch):
    config = shop(cli, tmp_path, monkeypatch)
    with Store.open(db_path) as store:
        store.suppress("bob@old.example", "asked by phone", "cli")
    monkeypatch.setenv("RETAIN_NOW", "2025-06-10T12:00:00Z")
    later = write(
        tmp_path / "later.csv",
        "order id,email,name,date,amount,accepts marketing\n"
        "4,bob@new.example,Bob Stone,2025-06-09,30.00,yes\n",
    )
    assert cli("import", "orders", "--currency", "EUR", str(later)).exit_code == 0
    merged = cli("customers", "merge", "bob@old.example", "BOB@new.example")
    assert merged.exit_code == 0, merged.output
    assert " ".join(merged.stdout.split()) == (
        "Merged bob@old.example into bob@new.example: 2 order(s) and 1 send(s) moved; later "
        "imports of bob@old.example find bob@new.example. bob@old.example had opted out, so "
        "bob@new.example is unsubscribed too."
    )
    with Store.open(db_path) as store:
        rows = store.conn.execute(
            "SELECT c.email, count(o.id), min(o.ordered_at) FROM customers c "
            "JOIN orders o ON o.customer_ref = c.id GROUP BY c.id ORDER BY c.email"
        ).fetchall()
        assert rows == [
            ("ann@example.org", 1, "2025-03-06T00:00:00Z"),
            ("bob@new.example", 3, "2025-01-10T00:00:00Z"),
        ]
        assert store.conn.execute(
            "SELECT s.campaign, s.email, c.email FROM sends s "
            "JOIN customers c ON c.id = s.customer_ref WHERE s.email LIKE 'bob%'"
        ).fetchall() == [("hello", "bob@old.example", "bob@new.example")]
        assert store.conn.execute(
            "SELECT reason, source FROM suppressions WHERE email = 'bob@new.example'"
        ).fetchone() == ("opted out as bob@old.example (merged)", "merge")
        created = store.conn.execute(
            "SELECT created_at FROM customers WHERE email = 'bob@new.example'"
        ).fetchone()[0]
        assert created == "2025-06-01T12:00:00Z"  # the old sign-up: no welcome
    monkeypatch.setenv("RETAIN_NOW", "2025-06-12T08:00:00Z")
    plan = cli("plan", "-c", str(config), "-f", "csv")
    bob = [
        (r["campaign"], r["status"], r["reason"])
        for r in rows_of(plan.stdout)
        if r["email"] == "bob@new.example"
    ]
    assert bob == [("hello", "left_out", "already sent (this occurrence)")]
    # the old export imported again: the old address finds the merged customer
    again = cli("import", "orders", "--currency", "EUR", str(tmp_path / "first.csv"), "-f", "json")
    assert again.exit_code == 0
    assert json.loads(again.stdout)["customers_created"] == 0
    with Store.open(db_path) as store:
        assert store.conn.execute("SELECT count(*) FROM customers").fetchone()[0] == 2


def test_merge_needs_two_different_customers(cli, db_path, tmp_path, monkeypatch):
    shop(cli, tmp_path, monkeypatch)
    missing = cli("customers", "merge", "nobody@example.org", "bob@old.example")
    assert missing.exit_code == 1
    assert missing.stderr.strip() == (
        "Error: OLD 'nobody@example.org' is not a customer; give an e-mail address or a "
        "customer id (see 'retain customers list')"
    )
    same = cli("customers", "merge", "bob@old.example", "bob@old.example")
    assert same.exit_code == 2
    assert same.stderr.strip() == (
        "Error: 'bob@old.example' and 'bob@old.example' are the same customer; nothing to merge"
    )
