"""The store opens, migrates once, and rolls back a failed transaction completely."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

from retain_cli.errors import NoDatabase
from retain_cli.store import Store
from retain_cli.store.migrations import MIGRATIONS


def test_open_applies_every_migration_once(db_path):
    with Store.open(db_path) as store:
        assert store.applied_migrations() == sorted(m.__name__ for m in MIGRATIONS)
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with Store.open(db_path) as store:
        assert store.migrate() == []


def test_every_migration_written_is_registered_once():
    """A migration function (``mNNN_...``) in any store/migrations*.py module is in
    MIGRATIONS exactly once: forgetting to list a new one would leave it never applied."""
    import retain_cli.store as package

    written = set()
    for file in Path(package.__file__).parent.glob("migrations*.py"):
        module = importlib.import_module(f"retain_cli.store.{file.stem}")
        written |= {
            name
            for name, value in vars(module).items()
            if re.fullmatch(r"m\d{3}_\w+", name)
            and inspect.isfunction(value)
            and value.__module__ == module.__name__
        }
    registered = [m.__name__ for m in MIGRATIONS]
    assert len(registered) == len(set(registered))
    assert set(registered) == written


def test_open_without_create_refuses_missing_file(tmp_path):
    with pytest.raises(NoDatabase, match="no database at"):
        Store.open(tmp_path / "nope.db", create=False)
    assert not (tmp_path / "nope.db").exists()


def test_transaction_rolls_back_everything(store):
    with pytest.raises(RuntimeError), store.transaction() as conn:
        conn.execute(
            "INSERT INTO imports (kind, source, file_name, file_hash, started_at) "
            "VALUES ('orders', 'generic', 'x.csv', 'h', '2025-01-01T00:00:00Z')"
        )
        raise RuntimeError("boom")
    assert store.conn.execute("SELECT count(*) FROM imports").fetchone()[0] == 0
