"""What migrations are made of: the ``Migration`` type, running a script inside the caller's
transaction, and rebuilding a table SQLite cannot ALTER in place."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Execute several statements inside the caller's transaction.

    (``Connection.executescript`` would COMMIT first, breaking all-or-nothing migrations.)
    """
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""
    if statement.strip():
        conn.execute(statement)


def rebuild_table(conn: sqlite3.Connection, table: str, sql: str) -> None:
    """Replace ``table`` by one created with ``sql`` (its ``CREATE TABLE``), keeping
    its rows, ids, indexes and triggers, the views over it and the rows of every table whose
    foreign keys point at it (SQLite's documented way to change a column's constraints).

    Foreign keys stay enforced inside the migration's transaction, so dropping the old table
    would cascade to its children: they are set aside and put back around the swap."""
    children = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        if any(row[2] == table for row in conn.execute(f'PRAGMA foreign_key_list("{name}")'))
    ]
    owned = [table, *children]
    every_view = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY rowid"
    ).fetchall()
    over = set(owned)  # the views over these tables, and the views over those views
    while True:
        views = [
            (name, create)
            for name, create in every_view
            if any(re.search(rf"\b{re.escape(t)}\b", create) for t in over)
        ]
        if over >= {name for name, _ in views}:
            break
        over |= {name for name, _ in views}
    around = [*owned, *(name for name, _ in views)]
    marks = ", ".join("?" for _ in around)
    extras = conn.execute(
        f"SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
        f"AND type IN ('index', 'trigger') AND tbl_name IN ({marks})",
        around,
    ).fetchall()
    tables = {
        name: conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()[0]
        for name in children
    }
    for name, _create in views:
        conn.execute(f'DROP VIEW "{name}"')
    for name in children:
        conn.execute(f'CREATE TABLE "_keep_{name}" AS SELECT * FROM "{name}"')
        conn.execute(f'DROP TABLE "{name}"')
    # copied aside and back, not renamed: ALTER TABLE RENAME leaves the connection with a
    # temp schema on which a later wal_checkpoint of every database fails ("database table
    # is locked")
    conn.execute(f'CREATE TABLE "_keep_{table}" AS SELECT * FROM "{table}"')
    conn.execute(f'DROP TABLE "{table}"')
    conn.execute(sql)
    conn.execute(f'INSERT INTO "{table}" SELECT * FROM "_keep_{table}"')
    conn.execute(f'DROP TABLE "_keep_{table}"')
    for name, create in tables.items():
        conn.execute(create)
        conn.execute(f'INSERT INTO "{name}" SELECT * FROM "_keep_{name}"')
        conn.execute(f'DROP TABLE "_keep_{name}"')
    for _name, create in views:
        conn.execute(create)
    for _kind, _name, create in extras:
        conn.execute(create)
