"""`retain init`, `retain demo`, `retain customers list/show` and `retain status`, end to end."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from retain_cli import resources
from retain_cli.store import Store

FIXTURES = Path(__file__).parent / "data" / "customers"
REPO = Path(__file__).resolve().parents[2]
TODAY = "2026-06-30"


@pytest.fixture
def fake_examples(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Bundled examples replaced by a small stand-in set (one config, two templates)."""
    root = FIXTURES / "resources"
    monkeypatch.setattr(resources, "resource_roots", lambda: [root])
    return root


@pytest.fixture
def no_examples(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "no-examples"
    empty.mkdir()
    monkeypatch.setattr(resources, "resource_roots", lambda: [empty])


def _count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


# -- init ----------------------------------------------------------------------------------


def test_init_creates_database_config_and_templates(cli, tmp_path, fake_examples):
    result = cli("init", "shop")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "created shop",
        "created shop/retain.db",
        "created shop/campaigns.yaml",
        "created shop/segments.yaml",
        "created shop/templates",
        "created shop/templates/hello.html.j2",
        "created shop/templates/hello.txt.j2",
    ]
    shop = tmp_path / "shop"
    assert (shop / "campaigns.yaml").read_bytes() == (
        fake_examples / "campaigns.example.yaml"
    ).read_bytes()
    assert (shop / "segments.yaml").read_bytes() == (
        fake_examples / "segments.example.yaml"
    ).read_bytes()
    assert (shop / "templates" / "hello.txt.j2").read_text() == "Hello {{ customer.first_name }}\n"
    with Store.open(shop / "retain.db", create=False) as store:
        assert "m001_initial" in store.applied_migrations()


def test_init_twice_keeps_every_file(cli, tmp_path, fake_examples):
    assert cli("init", "shop").exit_code == 0
    shop = tmp_path / "shop"
    (shop / "campaigns.yaml").write_text("# my own campaigns\n")
    (shop / "templates" / "hello.txt.j2").write_text("Hi there\n")
    (shop / "templates" / "hello.html.j2").unlink()

    result = cli("init", "shop")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "created shop/templates/hello.html.j2",
        "kept    shop/retain.db (already there)",
        "kept    shop/campaigns.yaml (already there)",
        "kept    shop/segments.yaml (already there)",
        "kept    shop/templates/hello.txt.j2 (already there)",
    ]
    assert (shop / "campaigns.yaml").read_text() == "# my own campaigns\n"
    assert (shop / "templates" / "hello.txt.j2").read_text() == "Hi there\n"


def test_init_keeps_the_data_in_an_existing_database(cli, tmp_path, fake_examples):
    assert cli("init", "shop").exit_code == 0
    db = tmp_path / "shop" / "retain.db"
    conn = sqlite3.connect(db)
    conn.execute(
        "INSERT INTO customers (customer_id, email, source, created_at, updated_at) "
        "VALUES ('c1', 'a@example.com', 'test', 'x', 'x')"
    )
    conn.commit()
    conn.close()
    assert cli("init", "shop").exit_code == 0
    assert _count(db, "SELECT count(*) FROM customers") == 1


def test_init_defaults_to_the_current_folder(cli, tmp_path, fake_examples):
    result = cli("init")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "created retain.db"
    assert (tmp_path / "retain.db").exists()
    assert (tmp_path / "campaigns.yaml").exists()


def test_init_without_bundled_examples_still_creates_the_database(cli, tmp_path, no_examples):
    result = cli("init", "shop")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "created shop",
        "created shop/retain.db",
        "No example campaign file or templates in this install.",
    ]
    assert sorted(p.name for p in (tmp_path / "shop").iterdir()) == ["retain.db"]


def test_init_on_a_file_fails_and_changes_nothing(cli, tmp_path, fake_examples):
    (tmp_path / "shop").write_text("not a folder")
    result = cli("init", "shop")
    assert result.exit_code == 1
    assert result.stderr == "Error: shop is a file, not a folder; pass another folder to init\n"
    assert (tmp_path / "shop").read_text() == "not a folder"


def test_init_on_a_file_that_is_not_a_database_fails(cli, tmp_path, fake_examples):
    (tmp_path / "shop").mkdir()
    junk = b"these are not the bytes of a SQLite database, " * 4
    (tmp_path / "shop" / "retain.db").write_bytes(junk)
    result = cli("init", "shop")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: shop/retain.db is not a retain database (file is not a database)\n"
    )
    assert (tmp_path / "shop" / "retain.db").read_bytes() == junk
    assert not (tmp_path / "shop" / "campaigns.yaml").exists()


def test_init_says_when_the_other_commands_will_use_another_database(cli, tmp_path, fake_examples):
    # init always creates DIR/retain.db; a --db (or RETAIN_DB) pointing elsewhere would
    # leave the owner with "no database at shop.db; run 'retain init'" right after init
    result = cli("--db", "shop.db", "init", "myshop")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "myshop" / "retain.db").exists()
    assert not (tmp_path / "shop.db").exists()
    assert result.stderr == (
        "Note: init created myshop/retain.db, but --db/RETAIN_DB points the other commands "
        "at shop.db; run them with --db myshop/retain.db (or change RETAIN_DB)\n"
    )
    # RETAIN_DB (tmp_path/retain.db, set by the isolated fixture) is the folder's database
    result = cli("init")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_init_copies_the_repositorys_examples(cli, tmp_path):
    example = REPO / "campaigns.example.yaml"
    templates = sorted((REPO / "templates").glob("*.j2"))
    assert example.exists() and templates, "the repository ships its examples"
    assert cli("init", "shop").exit_code == 0
    shop = tmp_path / "shop"
    assert (shop / "campaigns.yaml").read_bytes() == example.read_bytes()
    assert sorted(p.name for p in (shop / "templates").iterdir()) == [p.name for p in templates]


def test_resources_are_found_at_the_repo_root_then_under_share():
    roots = resources.resource_roots()
    assert roots[0] == REPO
    assert any(r.parts[-2:] == ("share", "retain") for r in roots[1:])
    assert resources.example_campaigns() == REPO / "campaigns.example.yaml"
    assert REPO / "templates" / "win_back.txt.j2" in resources.template_files()


def test_resources_from_an_installed_share_folder(monkeypatch, tmp_path):
    share = tmp_path / "prefix" / "share" / "retain"
    (share / "templates").mkdir(parents=True)
    (share / "campaigns.example.yaml").write_text("sender: {}\n")
    (share / "templates" / "a.txt.j2").write_text("a\n")
    monkeypatch.setattr(resources, "resource_roots", lambda: [tmp_path / "site", share])
    assert resources.example_campaigns() == share / "campaigns.example.yaml"
    assert resources.template_files() == [share / "templates" / "a.txt.j2"]


# -- a small shop imported from Shopify exports ---------------------------------------------


@pytest.fixture
def shop(db_path: Path) -> Path:
    """tests/analytics/data/customers: 4 customers, 5 orders (one cancelled, one partly
    refunded) and one order from a walk-in customer who is not in the customers export."""
    from retain_cli.imports import ImportOptions, import_file

    with Store.open(db_path) as store:
        for kind, name, source in (
            ("customers", "customers_export.csv", "shopify_customers"),
            ("orders", "orders_export_1.csv", "shopify_orders"),
        ):
            result = import_file(store, FIXTURES / name, kind, ImportOptions(source=source))
            assert result.rejected == 0
    return db_path


LIST_HEADER = (
    "customer_id,email,first_name,last_name,orders,total_spent,first_order_at,last_order_at"
)


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_list_csv_biggest_spenders_first_with_net_spend(cli, shop):
    result = cli("customers", "list", "--format", "csv")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == LIST_HEADER
    rows = _csv_rows(result.stdout)
    assert [r["email"] for r in rows] == [
        "ada@example.com",  # 53.91 + 24.00 - 6.00 refunded; the cancelled 12.00 left out
        "walkin@example.com",
        "grace@example.com",
        "zoe@example.org",  # no orders: 0, then by customer_id
        "linus@example.net",
    ]
    assert lines[1] == (
        "7283748237101,ada@example.com,Ada,Lovelace,2,71.91,"
        "2025-10-07T07:50:26Z,2026-01-15T07:30:00Z"
    )
    assert rows[1]["customer_id"] == "walkin@example.com"  # no platform id: the e-mail
    assert (rows[1]["orders"], rows[1]["total_spent"]) == ("1", "30.0")
    assert rows[2]["customer_id"] == "7283748237102"
    assert (rows[2]["orders"], rows[2]["total_spent"]) == ("1", "10.5")
    assert rows[2]["first_order_at"] == "2025-11-02T15:05:00Z"
    assert rows[3] == {
        "customer_id": "7283748237103",
        "email": "zoe@example.org",
        "first_name": "Zoë",
        "last_name": "[red]O'Brien[/red]",
        "orders": "0",
        "total_spent": "0.0",
        "first_order_at": "",
        "last_order_at": "",
    }


def test_list_json_limit_and_sorts(cli, shop):
    result = cli("customers", "list", "--format", "json", "--limit", "2")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [list(d) for d in data] == [LIST_HEADER.split(",")] * 2
    assert [(d["email"], d["orders"], d["total_spent"]) for d in data] == [
        ("ada@example.com", 2, 71.91),
        ("walkin@example.com", 1, 30.0),
    ]

    def emails(*args: str) -> list[str]:
        out = cli("customers", "list", "-f", "csv", *args)
        assert out.exit_code == 0, out.output
        return [r["email"] for r in _csv_rows(out.stdout)]

    assert emails("--sort", "last_order")[:3] == [
        "ada@example.com",
        "walkin@example.com",
        "grace@example.com",
    ]
    assert emails("--sort", "first_order")[:3] == [
        "ada@example.com",
        "grace@example.com",
        "walkin@example.com",
    ]
    assert emails("--sort", "email") == sorted(emails())
    # "[red]O'Brien[/red]" sorts before letters; the walk-in without a name comes last
    assert emails("--sort", "name") == [
        "zoe@example.org",
        "grace@example.com",
        "ada@example.com",
        "linus@example.net",
        "walkin@example.com",
    ]


def test_list_as_of_ignores_later_orders(cli, shop):
    result = cli("customers", "list", "-f", "json", "--as-of", "2025-12-31")
    assert result.exit_code == 0, result.output
    by_email = {d["email"]: d for d in json.loads(result.stdout)}
    assert (by_email["ada@example.com"]["orders"], by_email["ada@example.com"]["total_spent"]) == (
        1,
        53.91,
    )
    assert by_email["ada@example.com"]["last_order_at"] == "2025-10-07T07:50:26Z"


def test_list_table_escapes_names_and_stops_at_the_table_limit(cli, shop, monkeypatch):
    from retain_cli.cli import customers as customers_cli

    result = cli("customers", "list")
    assert result.exit_code == 0, result.output
    assert "[red]O'Brien[/red]" in result.stdout  # printed as text, not as Rich markup
    assert "71.91" in result.stdout and "First" not in result.stdout
    assert "2026-01-15" in result.stdout and "2026-01-15T" not in result.stdout  # dates only
    assert cli("customers", "list", "--limit", "0").stdout == "Nothing to show.\n"

    monkeypatch.setattr(customers_cli, "TABLE_LIMIT", 2)
    result = cli("customers", "list")
    assert result.exit_code == 0
    assert "walkin@example.com" in result.stdout and "grace@example.com" not in result.stdout
    assert "First 2 shown; use --limit N, or --format csv for all." in result.stdout
    assert len(_csv_rows(cli("customers", "list", "-f", "csv").stdout)) == 5


def test_list_bad_options_are_usage_errors(cli, shop):
    assert cli("customers", "list", "--sort", "height").exit_code == 2
    assert cli("customers", "list", "--limit", "-1").exit_code == 2
    result = cli("customers", "list", "--as-of", "yesterday")
    assert result.exit_code == 2
    assert result.stderr == "Error: --as-of 'yesterday' is not a date; use YYYY-MM-DD\n"


def test_list_empty_database(cli, tmp_path, fake_examples):
    assert cli("init").exit_code == 0
    result = cli("customers", "list")
    assert result.exit_code == 0
    assert result.stdout == "No customers yet; import some with 'retain import'.\n"
    assert cli("customers", "list", "-f", "csv").stdout == LIST_HEADER + "\n"
    assert cli("customers", "list", "-f", "json").stdout == "[]\n"


def test_show_json_profile_and_history(cli, shop):
    result = cli("customers", "show", "ada@example.com", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["customer_id"] == "7283748237101"
    assert (data["first_name"], data["last_name"]) == ("Ada", "Lovelace")
    assert data["address"] == "12 Analytical Way, N1 9GU London, GB"
    assert data["tags"] == ["vip", "newsletter"]
    assert data["accepts_marketing"] is True
    assert (data["suppressed"], data["suppression"], data["can_email"]) == (False, None, True)
    assert "7283748237101" in [s["source_id"] for s in data["sources"]]
    assert (data["orders"], data["total_spent"], data["refunded"]) == (2, 71.91, 6.0)
    assert (data["cancelled_orders"], data["currency"]) == (1, "EUR")
    assert (data["first_order_at"], data["last_order_at"]) == (
        "2025-10-07T07:50:26Z",
        "2026-01-15T07:30:00Z",
    )
    history = data["orders_history"]
    assert [o["order_id"] for o in history] == ["#1001", "#1004", "#1005"]
    assert history[0]["items"] == "2× Rye Sourdough Loaf, 1× Cinnamon Buns (box of 4)"
    assert (history[0]["total"], history[0]["net"], history[0]["cancelled_at"]) == (
        53.91,
        53.91,
        None,
    )
    assert (history[1]["total"], history[1]["refunded"], history[1]["net"]) == (24.0, 6.0, 18.0)
    assert history[2]["cancelled_at"] == "2026-02-01T11:00:00Z"
    assert (history[2]["total"], history[2]["net"]) == (12.0, 0.0)


@pytest.mark.parametrize(
    "key", ["7283748237101", "'7283748237101", "ADA@example.com", "  ada@example.com "]
)
def test_show_finds_by_id_or_any_case_email(cli, shop, key):
    result = cli("customers", "show", key, "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["email"] == "ada@example.com"


def test_show_csv_is_the_order_history(cli, shop):
    result = cli("customers", "show", "grace@example.com", "-f", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "order_id,ordered_at,status,cancelled_at,items,total,refunded,net,currency",
        "#1002,2025-11-02T15:05:00Z,paid,,3× Butter Croissant,10.5,0.0,10.5,EUR",
    ]


def test_show_table_has_profile_and_orders(cli, shop):
    result = cli("customers", "show", "zoe@example.org")
    assert result.exit_code == 0, result.output
    assert "Customer 7283748237103" in result.stdout
    assert "Zoë [red]O'Brien[/red]" in result.stdout
    assert "No orders yet." in result.stdout
    result = cli("customers", "show", "grace@example.com")
    assert "3× Butter Croissant" in result.stdout
    assert "accepts_marketing" in result.stdout and "1 Compiler Rd" in result.stdout


def test_show_a_suppressed_customer(cli, shop):
    with Store.open(shop) as store:
        assert store.suppress("linus@example.net", "asked to stop", "cli") is True
    result = cli("customers", "show", "linus@example.net", "-f", "json")
    data = json.loads(result.stdout)
    assert data["accepts_marketing"] is True
    assert data["suppressed"] is True and data["can_email"] is False
    assert data["suppression"]["reason"] == "asked to stop"
    assert data["suppression"]["source"] == "cli"
    table = cli("customers", "show", "linus@example.net").stdout
    assert "yes: asked to stop (cli," in table


def test_show_unknown_customer_suggests_near_matches(cli, shop):
    result = cli("customers", "show", "ada@exmaple.com")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: no customer with e-mail or id 'ada@exmaple.com'; did you mean ada@example.com?\n"
    )
    result = cli("customers", "show", "lovelace")
    assert result.exit_code == 1
    assert "did you mean ada@example.com" in result.stderr
    result = cli("customers", "show", "nobody-like-this")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: no customer with e-mail or id 'nobody-like-this'; "
        "see 'retain customers list' for the customers in this database\n"
    )


def test_status_json(cli, shop):
    result = cli("status", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    imports = data.pop("recent_imports")
    assert data == {
        "database": str(shop),
        "customers": 5,
        "with_consent": 3,  # ada, zoe, linus (grace said no; the walk-in never said)
        "suppressed": 0,
        "orders": 5,
        "cancelled": 1,
        "refunded": 1,
        "line_items": 6,
        "first_order_at": "2025-10-07T07:50:26Z",
        "last_order_at": "2026-02-01T09:00:00Z",
        "currency": "EUR",
        "revenue": 112.41,  # 53.91 + 10.50 + 30.00 + (24.00 - 6.00)
    }
    assert [(i["kind"], i["file_name"]) for i in imports] == [
        ("orders", "orders_export_1.csv"),
        ("customers", "customers_export.csv"),
    ]
    assert list(imports[0]) == [
        "started_at",
        "kind",
        "source",
        "file_name",
        "rows",
        "inserted",
        "updated",
        "unchanged",
        "rejected",
        "warnings",
    ]


def test_status_counts_suppressions_and_table(cli, shop):
    with Store.open(shop) as store:
        store.suppress("ada@example.com", "asked to stop", "cli")
    data = json.loads(cli("status", "-f", "json").stdout)
    assert (data["with_consent"], data["suppressed"]) == (2, 1)
    result = cli("status")
    assert result.exit_code == 0
    assert "with_consent" in result.stdout and "112.41" in result.stdout
    assert "Recent imports" in result.stdout and "orders_export_1.csv" in result.stdout
    rows = _csv_rows(cli("status", "-f", "csv").stdout)
    assert len(rows) == 1 and rows[0]["revenue"] == "112.41"


@pytest.mark.parametrize(
    "args", [("status",), ("customers", "list"), ("customers", "show", "ada@example.com")]
)
def test_read_commands_need_a_database(cli, tmp_path, args):
    missing = tmp_path / "missing.db"
    result = cli(*args, "--db", str(missing))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: no database at {missing}; run 'retain init' or 'retain import' first, "
        "or pass --db PATH (or set RETAIN_DB)\n"
    )
    assert not missing.exists()


# -- demo ----------------------------------------------------------------------------------


def _demo(cli, folder: str, *extra: str):
    return cli("demo", folder, "--customers", "60", "--seed", "3", "--today", TODAY, *extra)


def test_demo_is_deterministic_and_the_database_matches_its_files(cli, tmp_path, fake_examples):
    first = _demo(cli, "one")
    assert first.exit_code == 0, first.output
    second = _demo(cli, "two")
    assert second.exit_code == 0, second.output
    for name in ("customers_export.csv", "orders_export_1.csv"):
        one = (tmp_path / "one" / "exports" / name).read_bytes()
        assert one == (tmp_path / "two" / "exports" / name).read_bytes()

    folder = tmp_path / "one"
    assert (folder / "campaigns.yaml").exists() and (folder / "templates").is_dir()
    customers = _csv_rows((folder / "exports" / "customers_export.csv").read_text())
    lines = _csv_rows((folder / "exports" / "orders_export_1.csv").read_text())
    orders = [r for r in lines if r["Financial Status"]]
    db = folder / "retain.db"
    signups = _csv_rows((folder / "exports" / "newsletter_signups.csv").read_text())
    assert len(customers) == 60 and len(signups) == 2
    assert _count(db, "SELECT count(*) FROM customers") == len(customers) + len(signups)
    assert _count(db, "SELECT count(*) FROM customers WHERE source_created_at IS NOT NULL") == 2
    assert _count(db, "SELECT count(*) FROM orders") == len({r["Name"] for r in lines})
    assert _count(db, "SELECT count(*) FROM orders") == len(orders)
    assert _count(db, "SELECT count(*) FROM order_items") == len(lines)
    cancelled = sum(1 for r in orders if r["Cancelled at"])
    assert _count(db, "SELECT count(*) FROM orders WHERE cancelled_at IS NOT NULL") == cancelled
    refunds = sum(int(r["Refunded Amount"].replace(".", "")) for r in orders)
    assert _count(db, "SELECT sum(refunded_minor) FROM orders") == refunds
    assert _count(db, "SELECT count(*) FROM customers WHERE accepts_marketing = 0") == sum(
        1 for c in customers if c["Accepts Email Marketing"] == "no"
    )
    spent = sum(int(c["Total Spent"].replace(".", "")) for c in customers)
    assert _count(db, "SELECT sum(net_minor) FROM order_facts") == spent
    club = _csv_rows((folder / "exports" / "birthday_club.csv").read_text())
    assert club and set(club[0]) == {"Email", "Birthday"}
    assert _count(db, "SELECT count(*) FROM customers WHERE birthday IS NOT NULL") == len(club)
    gone = _csv_rows((folder / "exports" / "unsubscribes.csv").read_text())
    assert _count(db, "SELECT count(*) FROM suppressions") == len(gone)
    status = json.loads(cli("status", "--db", str(db), "-f", "json").stdout)
    consenting = {c["Email"] for c in customers if c["Accepts Email Marketing"] == "yes"}
    assert status["suppressed"] == len(gone)
    consenting |= {s["Email"] for s in signups}
    assert status["with_consent"] == len(consenting - {g["Email"] for g in gone})

    out = first.stdout
    assert "created one/retain.db" in out
    assert "wrote   one/exports/customers_export.csv" in out
    assert "Next, try:" in out and "  cd one" in out and "  retain status" in out
    assert f"{len(orders)}" in out


def test_demo_again_in_the_same_folder_changes_nothing(cli, tmp_path, fake_examples):
    assert _demo(cli, "shop").exit_code == 0
    db = tmp_path / "shop" / "retain.db"
    before = _count(db, "SELECT count(*) FROM orders")
    again = _demo(cli, "shop")
    assert again.exit_code == 0, again.output
    assert "created" not in again.stdout
    assert "imported orders_export_1.csv" in again.stdout and "0 new" in again.stdout
    assert _count(db, "SELECT count(*) FROM orders") == before


def test_demo_refuses_to_mix_two_shops(cli, tmp_path, fake_examples):
    assert _demo(cli, "shop").exit_code == 0
    orders = (tmp_path / "shop" / "exports" / "orders_export_1.csv").read_bytes()
    result = cli("demo", "shop", "--customers", "60", "--seed", "4", "--today", TODAY)
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: shop/retain.db already holds 62 customers that are not this demo's "
        "(another seed, size or day); pass another folder, or delete this one first\n"
    )
    assert (tmp_path / "shop" / "exports" / "orders_export_1.csv").read_bytes() == orders


def test_demo_bad_today_is_a_usage_error(cli, tmp_path):
    result = cli("demo", "shop", "--today", "30/06/2026")
    assert result.exit_code == 2
    assert result.stderr == "Error: --today '30/06/2026' is not a date; use YYYY-MM-DD\n"
    assert not (tmp_path / "shop").exists()


def test_customers_group_help_has_an_example(cli):
    result = cli("customers", "--help")
    assert result.exit_code == 0
    assert "Example: retain customers show ada@example.com" in result.stdout
    # the parent's command list keeps only the one-line summary
    listing = cli("--help").stdout
    assert "customers   " in listing and "Example: retain customers" not in listing
