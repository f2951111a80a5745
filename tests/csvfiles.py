"""Small helpers for tests that write an export, import it, and read the database back."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def rows(db: Path, sql: str, *params: object) -> list[tuple]:
    """The rows a query gives on the database file ``db`` (a connection of its own)."""
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` as UTF-8 and return the path."""
    path.write_text(text, encoding="utf-8")
    return path


def notes(path: Path) -> list[str]:
    """The last column (``reason`` or ``warning``) of each row of a FILE.rejects.csv or
    FILE.warnings.csv."""
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        return [row[-1] for row in csv.reader(handle)][1:]
