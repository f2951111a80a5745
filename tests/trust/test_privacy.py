"""Privacy: export one person's data, erase it (the figures unchanged, nothing left in the
file), purge customers long gone, the audit log, and a private database file."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from trust_shop import Person, add_people, copy_campaigns, small_shop

from retain_cli.store import Store


@pytest.fixture
def shop(tmp_path: Path, store: Store) -> Path:
    add_people(store, small_shop())
    # Ada once had another address (merged) and a platform id; a sent message; a reply
    store.conn.execute(
        "INSERT INTO customer_aliases (email, customer_ref, customer_id, merged_at) "
        "VALUES ('ada.old@example.com', 1, 'ada.old@example.com', '2025-02-01T00:00:00Z')"
    )
    store.add_customer_sources([("shopify", "7001", 1)])
    store.ledger_record(
        [
            {
                "send_key": "hello:1:C1:1",
                "campaign": "hello",
                "step": 1,
                "customer_ref": 1,
                "occurrence": "1",
                "email": "ada@example.com",
                "state": "planned",
            }
        ],
        "2025-05-01T07:00:00Z",
    )
    (send_id,) = store.conn.execute("SELECT id FROM sends").fetchone()
    store.ledger_settle(
        send_id,
        "sent",
        "2025-05-01T07:00:05Z",
        reply="250 ok queued for <ada@example.com>",
        message_id="<abc@kornblume-backstube.de>",
    )
    store.conn.execute(
        "INSERT INTO inbox_messages (message_key, source, processed_at, from_email, subject, "
        "classification, reason, email, customer_ref, action, excerpt) VALUES "
        "('mid:<r1>', 'maildir:x', '2025-05-02T00:00:00Z', 'ada@example.com', "
        "'Re: Hello Ada Lovelace', 'reply', 'a reply', 'ada@example.com', 1, 'recorded', "
        "'Thanks! Ada Lovelace')"
    )
    return copy_campaigns(tmp_path)


def _file_holds(db: Path, *needles: str) -> list[str]:
    """Which needles are anywhere in the database file, its -wal or -journal (bytes)."""
    found = []
    for suffix in ("", "-wal", "-journal", "-shm"):
        part = Path(f"{db}{suffix}")
        if part.exists():
            data = part.read_bytes()
            found += [f"{n} in {part.name}" for n in needles if n.encode() in data]
    return found


def _metrics(cli) -> dict:
    result = cli("metrics", "--as-of", "2025-06-20", "--period", "year", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize("grep", [True, False], ids=["grep", "no-grep"])
def test_erase_keeps_the_figures_and_leaves_nothing_in_the_file(
    cli, shop, db_path, monkeypatch, grep
):
    if not grep:  # a machine without grep: Python's own search finds the old copy
        monkeypatch.setattr("retain_cli.trust.privacy.shutil.which", lambda name: None)
    segments_before = cli("segments", "--as-of", "2025-06-20", "--format", "json").output
    before = _metrics(cli)
    # an earlier change left an old copy of her in the file's free space (a page freed
    # without being zeroed), and her name was changed once
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA secure_delete=OFF")
        conn.execute("CREATE TABLE scratch (x TEXT)")
        conn.execute("INSERT INTO scratch VALUES ('ada@example.com AdelheidLovelace')")
        conn.commit()
        conn.execute("DROP TABLE scratch")
        conn.execute("UPDATE customers SET first_name = 'Adelheid' WHERE id = 1")
        conn.execute("UPDATE customers SET first_name = 'Ada' WHERE id = 1")
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert _file_holds(db_path, "AdelheidLovelace")

    result = cli("customers", "erase", "ada@example.com", "--yes")
    assert result.exit_code == 0, result.output
    assert "Erased ada@example.com: now erased-1." in result.output
    assert "Kept 3 order(s) and 1 message record(s) without the address" in result.output
    assert "An old copy was found in the file's free space, so the file was rewritten." in (
        result.output
    )

    assert _metrics(cli) == before
    assert cli("segments", "--as-of", "2025-06-20", "--format", "json").output == segments_before
    assert (
        _file_holds(
            db_path, "ada@example.com", "ada.old@example.com", "Lovelace", "Adelheid", "AdaLovelace"
        )
        == []
    )
    with Store.open(db_path) as store:
        row = store.customer_row(1)
        assert row["customer_id"] == "erased-1"
        assert all(row[c] is None for c in ("email", "first_name", "last_name", "birthday"))
        assert store.conn.execute(
            "SELECT count(*) FROM orders WHERE customer_ref = 1"
        ).fetchone() == (3,)
        sends = store.rows_about("sends", 1)
        assert [(s["send_key"], s["email"], s["state"], s["reply"]) for s in sends] == [
            ("hello:1:erased-1:1", "", "sent", None)
        ]
        assert store.rows_about("customer_sources", 1) == []
        assert store.conn.execute("SELECT count(*) FROM inbox_messages").fetchone() == (0,)
        assert store.conn.execute("SELECT count(*) FROM erasures").fetchone() == (2,)
        entries = store.audit_entries(actions=("erase",))
        assert len(entries) == 1 and entries[0]["subject"] == "customer #1"
        assert "ada" not in json.dumps(entries).lower()


def test_an_import_that_brings_an_erased_address_back_does_not_mail_it(cli, shop, tmp_path):
    assert cli("customers", "erase", "ada@example.com", "--yes").exit_code == 0
    export = tmp_path / "customers.csv"
    export.write_text(
        "Email,First Name,Last Name,Accepts Email Marketing\n"
        "ada@example.com,Ada,Lovelace,yes\n"
        "new@example.com,New,Person,yes\n",
        encoding="utf-8",
    )
    result = cli("import", "customers", str(export))
    assert result.exit_code == 0, result.output
    with Store.open(tmp_path / "retain.db") as store:
        opt_outs = store.suppressions_of(["ada@example.com", "new@example.com"])
        assert [(o["email"], o["source"]) for o in opt_outs] == [("ada@example.com", "erasure")]
        assert opt_outs[0]["reason"].startswith("erased on ")
    plan = cli("plan", "hello", "--config", str(shop), "--format", "json")
    reasons = {r["email"]: r["reason"] for r in json.loads(plan.output)["items"]}
    assert reasons["ada@example.com"] == "opted out"
    assert reasons["new@example.com"] == ""


def test_erase_asks_in_a_terminal_and_refuses_without_one(cli, shop, db_path, monkeypatch):
    result = cli("customers", "erase", "ada@example.com")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "Error: erasing ada@example.com cannot be undone; run it in a terminal to confirm, "
        "or pass --yes"
    )
    monkeypatch.setattr("retain_cli.cli.trust._interactive", lambda: True)
    result = cli("customers", "erase", "ada@example.com", input="n\n")
    assert result.exit_code == 1
    assert "This erases ada@example.com (Ada Lovelace): 3 order(s)" in result.output
    assert "Nothing was erased." in result.output
    with Store.open(db_path) as store:
        assert store.customer_row(1)["email"] == "ada@example.com"
    again = cli("customers", "erase", "ada@example.com", input="y\n")
    assert again.exit_code == 0
    assert cli("customers", "erase", "C1", "--yes").exit_code == 1  # C1 is no more
    twice = cli("customers", "erase", "erased-1", "--yes")
    assert twice.exit_code == 2
    assert twice.output.strip() == "Error: customer #1 was erased already (they are erased-1 now)"


def test_export_holds_everything_about_the_person(cli, shop, tmp_path):
    out = tmp_path / "ada.json"
    result = cli("customers", "export", "ada@example.com", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["customer"]["email"] == "ada@example.com"
    assert data["platform_ids"] == [{"source": "shopify", "source_id": "7001", "customer_ref": 1}]
    assert [o["order_id"] for o in data["orders"]] == ["#1", "#2", "#3"]
    assert data["orders"][0]["items"][0]["name"] == "Rye loaf"
    assert [m["campaign"] for m in data["messages"]] == ["hello"]
    assert data["mailbox"][0]["subject"] == "Re: Hello Ada Lovelace"
    assert data["old_addresses"][0]["email"] == "ada.old@example.com"
    log = cli("audit", "log", "--action", "export", "--format", "json")
    entries = json.loads(log.output)
    assert [(e["action"], e["subject"]) for e in entries] == [("export", "customer #1")]
    assert entries[0]["detail"] == "3 orders, 1 messages; written to ada.json"
    screen = cli("customers", "export", "C2")
    assert json.loads(screen.output)["customer"]["email"] == "bob@example.com"


def test_purge_dry_run_then_erase(cli, shop, store, db_path):
    add_people(
        store,
        [
            Person(
                "OLD1",
                "old1@example.com",
                "Otto",
                "Oldman",
                orders=[("2020-03-01T10:00:00Z", 900, 0, False)],
            ),
            Person("OLD2", "old2@example.com", "Olga", "Olden", signed_up="2019-01-01T00:00:00Z"),
        ],
        created="2019-01-01T00:00:00Z",
    )
    dry = cli("purge", "--older-than", "3y", "--dry-run", "--now", "2025-06-20T10:00")
    assert dry.exit_code == 0, dry.output
    assert "2 customer(s) would be erased (dry run: nothing changed)." in dry.output
    assert "OLD1" in dry.output and "OLD2" in dry.output and "C4" not in dry.output
    assert store.customer_row(6)["email"] == "old1@example.com"
    refused = cli("purge", "--older-than", "3y")
    assert refused.exit_code == 2
    done = cli("purge", "--older-than", "3y", "--yes", "--now", "2025-06-20T10:00")
    assert done.exit_code == 0, done.output
    assert "Erased 2 customer(s) with no sign of life since 2022-06-20" in done.output
    assert _file_holds(db_path, "old1@example.com", "Oldman", "Olden") == []
    entries = json.loads(cli("audit", "log", "--action", "purge", "--format", "json").output)
    assert sorted(e["subject"] for e in entries) == ["customer #6", "customer #7"]
    bad = cli("purge", "--older-than", "three years", "--dry-run")
    assert bad.exit_code == 2
    assert "Error: --older-than 'three years' is not an age; write 3y" in bad.output


def test_audit_log_of_imports_consent_and_sends(cli, tmp_path):
    export = tmp_path / "customers.csv"
    header = "Email,First Name,Accepts Email Marketing\n"
    export.write_text(header + "ann@example.com,Ann,yes\nbo@example.com,Bo,yes\n")
    assert cli("import", "customers", str(export)).exit_code == 0
    # the first import created the database: private, as 'retain init' makes it
    assert stat.S_IMODE((tmp_path / "retain.db").stat().st_mode) == 0o600
    export.write_text(header + "ann@example.com,Ann,no\n", encoding="utf-8")
    assert cli("import", "customers", str(export)).exit_code == 0
    assert cli("unsubscribe", "bo@example.com").exit_code == 0
    entries = json.loads(cli("audit", "log", "--format", "json").output)
    kinds = [(e["action"], e["actor"], e["subject"], e["detail"]) for e in entries]
    assert kinds[0] == ("consent", "retain (by hand)", "customer #2", "opted out (source: cli)")
    assert kinds[1][:3] == ("import", "retain import", "import #2")
    assert sorted(kinds[2:4]) == [
        ("consent", "retain import #2", "customer #1", "accepts marketing: yes -> no"),
        ("consent", "retain import #2", "customer #1", "opted out (source: generic_customers)"),
    ]
    assert kinds[4] == (
        "import",
        "retain import",
        "import #1",
        "customers (generic_customers) from customers.csv: 2 rows, 2 new, 0 updated, 0 rejected",
    )
    assert "ann" not in json.dumps(entries) and "bo@" not in json.dumps(entries)
    with sqlite3.connect(tmp_path / "retain.db") as conn, pytest.raises(sqlite3.DatabaseError):
        conn.execute("DELETE FROM audit_log")
    table = cli("audit", "log", "--customer", "ann@example.com")
    assert table.exit_code == 0 and "accepts marketing: yes -> no" in table.output


def test_the_database_is_private_and_status_warns_when_it_is_not(cli, tmp_path):
    assert cli("init", "shop").exit_code == 0
    db = tmp_path / "shop" / "retain.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert "Warning" not in cli("--db", str(db), "status").output
    os.chmod(db, 0o644)
    result = cli("--db", str(db), "status")
    assert result.exit_code == 0
    assert (
        "Warning: other users of this machine can read retain.db (mode 0644), retain.db-wal "
        "(mode 0644), retain.db-shm (mode 0644): it holds your customers' names and "
        f"addresses; make it private with: chmod 600 {db} {db}-wal {db}-shm"
    ) in " ".join(result.output.split())


def test_erase_rewrites_the_file_and_says_so_when_the_address_is_found_elsewhere(cli, shop, store):
    # the shop named an import after her: live data outside her records
    store.start_import("customers", "test", "ada@example.com.csv", "0" * 64)
    result = cli("customers", "erase", "ada@example.com", "--yes")
    assert result.exit_code == 0
    assert "An old copy" not in result.output
    assert "Warning: the address or name still appears elsewhere in the database file" in (
        " ".join(result.output.split())
    )


def test_erase_is_not_fooled_by_another_address_that_holds_this_one(cli, shop, store, db_path):
    """nada@example.com holds ada@example.com: her copies are no old copy of Ada's, so the
    file is not rewritten and nothing is said about it."""
    add_people(store, [Person("C9", "nada@example.com", "Nada", "Noor")])
    result = cli("customers", "erase", "ada@example.com", "--yes")
    assert result.exit_code == 0, result.output
    assert "An old copy" not in result.output
    assert "Warning" not in result.output
    for suffix in ("", "-wal"):
        part = Path(f"{db_path}{suffix}")
        if part.exists():
            data = part.read_bytes()
            assert data.count(b"ada@example.com") == data.count(b"nada@example.com")
    assert _file_holds(db_path, "nada@example.com")
    with Store.open(db_path) as opened:
        assert opened.customer_row(6)["email"] == "nada@example.com"


def test_an_opt_out_lifted_by_hand_is_exported_and_erased(cli, shop, db_path):
    """suppression_log keeps an opt-out lifted by hand with the address and the owner's
    note: the export holds it, the erasure keeps the record under the pseudonym only."""
    lifted = cli(
        "suppressions", "remove", "sue@example.com", "--note", "Sue Smith called", "--force"
    )
    assert lifted.exit_code == 0, lifted.output
    data = json.loads(cli("customers", "export", "sue@example.com").output)
    assert [(r["email"], r["reason"], r["note"]) for r in data["opt_outs_lifted"]] == [
        ("sue@example.com", "asked by phone", "Sue Smith called")
    ]
    result = cli("customers", "erase", "sue@example.com", "--yes")
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.output
    assert _file_holds(db_path, "sue@example.com", "Sue Smith", "SueSmith") == []
    with Store.open(db_path) as store:
        rows = store.conn.execute(
            "SELECT email, action, reason, note FROM suppression_log"
        ).fetchall()
    assert rows == [("erased-4", "removed", "asked by phone", "")]


def test_export_erase_purge_and_the_audit_log_on_the_demo_shop(cli, tmp_path):
    demo = cli("demo", "demo", "--customers", "60", "--seed", "2", "--today", "2025-10-10")
    assert demo.exit_code in (0, 3), demo.output
    db = tmp_path / "demo" / "retain.db"
    listed = cli("--db", str(db), "customers", "list", "--format", "json", "--limit", "1")
    assert listed.exit_code == 0, listed.output
    top = json.loads(listed.output)[0]
    email = top["email"]
    metrics = [
        "--db",
        str(db),
        "metrics",
        "--period",
        "year",
        "--as-of",
        "2025-10-09",
        "-f",
        "json",
    ]
    before = cli(*metrics).output

    export = cli("--db", str(db), "customers", "export", email)
    assert export.exit_code == 0, export.output
    data = json.loads(export.output)
    assert data["customer"]["email"] == email
    assert len(data["orders"]) >= top["orders"] > 0  # cancelled orders are exported too
    with Store.open(db) as store:
        (ref,) = store.conn.execute("SELECT id FROM customers WHERE email = ?", (email,)).fetchone()

    erase = cli("--db", str(db), "customers", "erase", email, "--yes")
    assert erase.exit_code == 0, erase.output
    assert f"Erased {email}: now erased-{ref}." in erase.output
    assert "Warning" not in erase.output
    assert cli(*metrics).output == before
    assert _file_holds(db, email) == []

    purge = cli("--db", str(db), "purge", "--older-than", "3y", "--dry-run")
    assert purge.exit_code == 0, purge.output
    log = json.loads(cli("--db", str(db), "audit", "log", "--format", "json").output)
    actions = [(e["action"], e["subject"]) for e in log]
    assert actions[:2] == [("erase", f"customer #{ref}"), ("export", f"customer #{ref}")]
    assert {"import", "send"} <= {a for a, _ in actions}
    assert email not in json.dumps(log)


def test_export_holds_a_message_waiting_for_approval(cli, shop, tmp_path):
    text = shop.read_text(encoding="utf-8")
    line = "  - name: birthday\n"
    shop.write_text(text.replace(line, f"{line}    approval: required\n", 1), encoding="utf-8")
    now = "2025-06-20T10:00"
    sent = cli("send", "--yes", "--config", str(shop), "--now", now, "-f", "json")
    assert sent.exit_code in (0, 3), sent.output
    assert json.loads(sent.stdout)["waiting for approval"] == 1
    result = cli("customers", "export", "ada@example.com")
    assert result.exit_code == 0, result.output
    (queued,) = json.loads(result.output)["other"]["approval_queue"]
    assert queued["state"] == "pending"
    assert "To: Ada Lovelace <ada@example.com>" in queued["message"]
