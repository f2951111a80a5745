"""An old database upgrades itself: orders may then have no customer (m010), the shop's
settings (m011) and refunds (m012) exist, and nothing stored before is lost."""

from __future__ import annotations

import json
import sqlite3

import pytest

from retain_cli.store import Store
from retain_cli.store import migrations as m


@pytest.fixture
def old_database(db_path, monkeypatch):
    """A database as m001-m009 left it, with a customer, an order with a line item and a
    segment snapshot."""
    with monkeypatch.context() as patch:
        patch.setattr("retain_cli.store.base.MIGRATIONS", m.MIGRATIONS[:9])
        opened = Store.open(db_path)
    with opened as store:
        conn = store.conn
        conn.execute(
            "INSERT INTO customers (customer_id, email, source, created_at, updated_at) "
            "VALUES ('C1', 'a@x.com', 'generic_orders', 'now', 'now')"
        )
        conn.execute(
            "INSERT INTO orders (order_key, source, order_id, customer_ref, ordered_at, "
            "total_minor) VALUES ('generic:1', 'generic_orders', '1', 1, "
            "'2025-01-01T00:00:00Z', 1250)"
        )
        conn.execute("INSERT INTO order_items (order_ref, line_no, name) VALUES (1, 1, 'Rye')")
        conn.execute(
            "INSERT INTO segment_snapshots (scheme, as_of, customer_ref, segment) "
            "VALUES ('rfm', '2025-01-01', 1, 'new')"
        )
    return db_path


def test_an_old_database_upgrades_and_keeps_its_rows(old_database, cli):
    with Store.open(old_database) as store:
        conn = store.conn
        applied = store.applied_migrations()
        assert applied[applied.index("m010_orders_without_customer") :][:3] == [
            "m010_orders_without_customer",
            "m011_settings",
            "m012_order_refunds",
        ]
        assert conn.execute("SELECT order_key, customer_ref FROM orders").fetchall() == [
            ("generic:1", 1)
        ]
        assert conn.execute("SELECT order_ref, name FROM order_items").fetchall() == [(1, "Rye")]
        assert conn.execute("SELECT customer_ref, net_minor FROM order_facts").fetchall() == [
            (1, 1250)
        ]
        # the trigger on the snapshots view, and the orders' own, are still there
        conn.execute(
            "INSERT INTO segment_snapshots (scheme, as_of, customer_ref, segment) "
            "VALUES ('rfm', '2025-01-01', 2, 'new')"
        )
        conn.execute("UPDATE orders SET refunded_minor = 250")
        assert conn.execute("SELECT orders_version FROM analytics_state").fetchone() == (1,)
        conn.execute(
            "INSERT INTO orders (order_key, source, order_id, customer_ref, ordered_at, "
            "total_minor) VALUES ('generic:2', 'generic_orders', '2', NULL, "
            "'2025-01-02T00:00:00Z', 500)"
        )
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        with pytest.raises(sqlite3.IntegrityError):  # cascades still hold
            conn.execute("DELETE FROM customers")
    shown = cli("status", "--format", "json")
    assert shown.exit_code == 0, shown.output
    status = json.loads(shown.stdout)
    assert (status["orders"], status["orders_without_customer"], status["customers"]) == (2, 1, 1)


def test_a_new_database_takes_a_first_bulk_import(cli, db_path, tmp_path):
    """m010 rebuilds the orders table without renaming one (a rename left the connection
    with a temp schema on which the checkpoint before publishing a new database failed:
    'database table is locked')."""
    export = tmp_path / "big.csv"
    lines = ["order_id,email,date,amount"]
    lines += [
        f"B{i},c{i % 500}@x.com,2025-01-{1 + i % 28:02d},{i % 90 + 1}.50" for i in range(60_000)
    ]
    export.write_text("\n".join(lines) + "\n")
    result = cli("import", "orders", str(export), "--currency", "EUR", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inserted"] == 60_000
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*), min(currency) FROM orders").fetchone() == (
            60_000,
            "EUR",
        )
