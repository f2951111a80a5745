"""``retain import FILE`` (the kind left out) names the command the file's header suggests;
``retain import folder DIR`` imports the exports in a folder that are not imported yet."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from retain_cli.imports.guess import guess_file, guess_kind
from retain_cli.store import Store

DATA = Path(__file__).parent / "data"

ORDERS = "order id,email,date,amount\n1,ada@example.org,2025-03-01,19.99\n"
CUSTOMERS = "email,first name,last name,accepts marketing\nbo@example.org,Bo,Berg,yes\n"
OPT_OUTS = "Email,Reason\ncy@example.org,asked by phone\n"


def error_text(stderr: str) -> str:
    """The message inside the usage error's box, as one line."""
    inside = [line.strip("│ ") for line in stderr.splitlines() if line.startswith("│")]
    return " ".join(" ".join(inside).split())


def write(folder: Path, name: str, text: str, mtime: int | None = None) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.mark.parametrize(
    "name,text,command",
    [
        ("orders_export.csv", ORDERS, "orders"),
        ("people.csv", CUSTOMERS, "customers"),
        ("unsubscribed.csv", OPT_OUTS, "suppressions"),
    ],
)
def test_import_without_the_kind_names_the_command_its_header_suggests(
    cli, tmp_path, db_path, name, text, command
):
    write(tmp_path, name, text)
    result = cli("import", name, "--dry-run")
    assert result.exit_code == 2
    what = {"orders": "orders", "customers": "customers", "suppressions": "an opt-out list"}
    assert error_text(result.stderr) == (
        f"No such command '{name}': say what the file holds first. Its header looks like "
        f"{what[command]}: did you mean 'retain import {command} {name} --dry-run'?"
    )
    assert not db_path.exists()  # nothing imported, no database made


def test_import_without_the_kind_offers_both_when_the_header_says_nothing(cli, tmp_path):
    write(tmp_path, "notes.csv", "when,what\nmonday,bake\n")
    for name, why in (("notes.csv", ""), ("missing.csv", " (missing.csv does not exist)")):
        result = cli("import", name)
        assert result.exit_code == 2
        assert error_text(result.stderr) == (
            f"No such command '{name}': say what the file holds first{why}. Did you mean "
            f"'retain import orders {name}' or 'retain import customers {name}' ('retain "
            f"import suppressions {name}' for an opt-out list)?"
        )
    (tmp_path / "exports").mkdir()
    folder = cli("import", "exports")
    assert folder.exit_code == 2
    assert error_text(folder.stderr) == (
        "No such command 'exports': exports is a folder. Did you mean 'retain import folder "
        "exports' (every export in it not imported yet)?"
    )
    typo = cli("import", "ordrs")  # a misspelt command still gets Typer's suggestion
    assert typo.exit_code == 2
    assert error_text(typo.stderr) == "No such command 'ordrs'. Did you mean 'orders'?"


def test_the_kind_is_guessed_from_every_layout_retain_knows():
    expected = {
        "generic_orders.csv": "orders",
        "shopify_orders.csv": "orders",
        "shopify_orders_multi.csv": "orders",
        "stripe_payments.csv": "orders",
        "shopify_customers.csv": "customers",
        "shopify_customers_legacy.csv": "customers",
        "square_customers.csv": "customers",
        "woocommerce_customers.csv": "customers",
    }
    for name, kind in expected.items():
        assert guess_file(DATA / name) == kind, name
    assert guess_kind(["customer_id", "date", "amount"]) == "orders"  # a till's sales log
    assert guess_kind(["Email", "Reason"]) == "suppressions"
    assert guess_kind(["Email Address", "First Name", "UNSUB_TIME"]) == "suppressions"
    assert guess_kind(["Email", "Birthday"]) == "customers"
    assert guess_kind(["email"]) is None  # sign-ups or opt-outs: only the owner knows
    assert guess_kind(["when", "what"]) is None


def test_import_folder_imports_each_new_export_once(cli, tmp_path, db_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    write(exports, "customers.csv", CUSTOMERS, 1_700_000_000)
    write(exports, "orders.csv", ORDERS, 1_700_000_100)
    write(exports, "optouts.csv", OPT_OUTS, 1_700_000_200)
    write(exports, "notes.csv", "when,what\nmonday,bake\n", 1_700_000_300)
    write(exports, "orders.csv.rejects.csv", "line,reason\n", 1_700_000_400)  # an import's own

    first = cli("import", "folder", str(exports), "--currency", "EUR")
    assert first.exit_code == 3  # notes.csv is left for the owner
    rows = [re.split(r"\s*[│┃]\s*", line.strip("│┃ ")) for line in first.stdout.splitlines()]
    table = {r[0]: r[1:3] for r in rows if len(r) >= 3}
    assert table == {
        "file": ["kind", "outcome"],
        "customers.csv": ["customers", "imported"],
        "orders.csv": ["orders", "imported"],
        "optouts.csv": ["suppressions", "imported"],
        "notes.csv": ["", "not recognised"],
    }
    assert " ".join(first.stderr.split()) == (
        "notes.csv: its header is neither orders nor customers nor an opt-out list; import it "
        f"with 'retain import orders|customers|suppressions {exports / 'notes.csv'}'"
    )
    with Store.open(db_path) as store:
        emails = [r[0] for r in store.conn.execute("SELECT email FROM customers ORDER BY id")]
        orders = store.conn.execute("SELECT order_id, total_minor, currency FROM orders").fetchall()
        opt_outs = store.conn.execute("SELECT email, reason FROM suppressions").fetchall()
        imports = store.conn.execute("SELECT kind, file_name FROM imports ORDER BY id").fetchall()
    assert emails == ["bo@example.org", "ada@example.org"]
    assert orders == [("1", 1999, "EUR")]  # --currency: amounts that name none
    assert opt_outs == [("cy@example.org", "asked by phone")]
    assert imports == [
        ("customers", "customers.csv"),
        ("orders", "orders.csv"),
        ("suppressions", "optouts.csv"),
    ]

    write(exports, "orders-2.csv", "order id,email,date,amount\n2,bo@example.org,2025-03-02,5 €\n")
    again = cli("import", "folder", str(exports), "--format", "json")
    assert again.exit_code == 3
    import json

    outcomes = {r["file"]: r["outcome"] for r in json.loads(again.stdout)}
    assert outcomes == {
        "customers.csv": "already imported",
        "orders.csv": "already imported",
        "optouts.csv": "already imported",
        "notes.csv": "not recognised",
        "orders-2.csv": "imported",
    }
    with Store.open(db_path) as store:
        assert store.conn.execute("SELECT count(*) FROM imports").fetchone() == (4,)
        assert store.conn.execute("SELECT count(*) FROM orders").fetchone() == (2,)


def test_import_folder_of_a_missing_folder_says_so(cli, tmp_path):
    result = cli("import", "folder", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"Error: {tmp_path / 'nowhere'} is not a folder; give the folder your exports are saved in"
    )
