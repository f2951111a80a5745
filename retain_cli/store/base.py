"""Opening the SQLite file, applying migrations, and transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retain_cli.errors import NoDatabase, RetainError
from retain_cli.store.errors import busy_timeout, database_error
from retain_cli.store.migrations import MIGRATIONS
from retain_cli.timeutil import utc_now_iso

if TYPE_CHECKING:
    import sqlite_utils


#: whether customer ``c`` existed by ``:until`` (UTC ISO text): they came to exist at the
#: earliest of their first order (any, even cancelled), the platform's sign-up date and their
#: first import; a customer with neither an order nor a sign-up date has always existed (a
#: prospect of unknown age). The cheap tests come first: most customers stop at the first.
EXISTED_BY = """(
    c.created_at <= :until
    OR c.source_created_at <= :until
    OR EXISTS (SELECT 1 FROM orders o WHERE o.customer_ref = c.id AND o.ordered_at <= :until)
    OR (c.source_created_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_ref = c.id))
)"""


def dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    """The rows a query returned, each as a dict keyed by its column names."""
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


class StoreBase:
    """A connection to one retain database. Use :meth:`open`, not the constructor.

    The connection is in autocommit mode; writes are grouped with :meth:`transaction`, which
    is all-or-nothing (an exception or Ctrl-C inside it rolls everything back).
    """

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn

    @cached_property
    def db(self) -> sqlite_utils.Database:
        """The same connection as a sqlite-utils Database, for introspection.

        Imported on first use: sqlite-utils pulls in pandas, which would slow every command's
        start-up by about a second.
        """
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    @classmethod
    def open(cls, path: Path | str, *, create: bool = True) -> Any:
        """Open (or create) the database and bring its schema up to date.

        Every commit is durable (``synchronous=FULL``: in WAL mode the WAL is synced at each
        commit, so a claimed or sent row in the ledger survives a power cut or an OS crash;
        NORMAL may lose the last commits). An SQLite failure becomes a :class:`StoreError`
        that names its true cause (locked, read-only, disk full, not a database).
        """
        path = Path(path)
        if not create and not path.exists():
            raise NoDatabase(
                f"no database at {path}; run 'retain init' or 'retain import' first, "
                "or pass --db PATH (or set RETAIN_DB)"
            )
        if path.parent and not path.parent.exists():
            raise RetainError(f"cannot create {path}: folder {path.parent} does not exist")
        create_private(path)
        timeout = busy_timeout()
        conn = None
        try:
            # check_same_thread=False: the SMTP transport commits a claim on a worker thread
            # while the main thread waits for the server (never both at once).
            conn = sqlite3.connect(
                path, isolation_level=None, timeout=timeout, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=FULL")
            store = cls(path, conn)
            store.migrate()
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise database_error(exc, path) from exc
        return store

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT; anything raised inside rolls back."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def migrate(self) -> list[str]:
        """Apply every migration not yet recorded; return the names applied."""
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS _retain_migrations "
            "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        done = {row[0] for row in self.conn.execute("SELECT name FROM _retain_migrations")}
        applied = []
        for migration in MIGRATIONS:
            name = migration.__name__
            if name in done:
                continue
            with self.transaction() as conn:
                migration(conn)
                conn.execute(
                    "INSERT INTO _retain_migrations (name, applied_at) VALUES (?, ?)",
                    (name, utc_now_iso()),
                )
            applied.append(name)
        return applied

    def applied_migrations(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM _retain_migrations ORDER BY 1")]

    def _everyone_existed(self, moment: str) -> bool:
        """True when every customer was imported by ``moment``, so every one existed then
        (see :data:`EXISTED_BY`): the common case, answered without looking at orders."""
        (latest,) = self.conn.execute("SELECT max(created_at) FROM customers").fetchone()
        return latest is None or latest <= moment


def create_private(path: Path) -> None:
    """Create a new database file readable and writable by its owner only (0600): it holds
    customers' names and addresses. SQLite gives its -wal and -shm files the same mode. An
    existing file is left as it is (``retain status`` and ``retain doctor`` warn)."""
    import os

    if str(path) == ":memory:":
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError:
        return  # SQLite says what is wrong when it opens the path
    os.close(fd)
