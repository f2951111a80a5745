"""Database faults reach the owner as their true cause, never as a traceback nor as "not a
retain database": a database locked by another writer (for longer than RETAIN_BUSY_TIMEOUT),
a read-only file or folder, a full disk, a file that is no database. And commits are durable
(synchronous=FULL)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from retain_cli.cli.main import app
from retain_cli.errors import StoreError, UsageError
from retain_cli.store import Store
from retain_cli.store.errors import busy_timeout, database_error


def test_commits_are_durable(db_path):
    with Store.open(db_path) as store:
        assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_busy_timeout_defaults_to_30_s_and_reads_the_environment(monkeypatch):
    monkeypatch.delenv("RETAIN_BUSY_TIMEOUT", raising=False)
    assert busy_timeout() == 30.0
    monkeypatch.setenv("RETAIN_BUSY_TIMEOUT", "0.5")
    assert busy_timeout() == 0.5
    monkeypatch.setenv("RETAIN_BUSY_TIMEOUT", "soon")
    with pytest.raises(UsageError, match=r"^RETAIN_BUSY_TIMEOUT='soon' is not a number of"):
        busy_timeout()


def test_bad_busy_timeout_through_the_cli_is_a_usage_error(cli, store, monkeypatch):
    monkeypatch.setenv("RETAIN_BUSY_TIMEOUT", "-1")
    result = cli("customers", "list")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: RETAIN_BUSY_TIMEOUT='-1' is not a number of seconds")


LOCKED = (
    "is locked: another program (another retain command, such as an import or a send) is "
    "writing to it, and retain waited 0.2 s for it to finish; run this again once it is done, "
    "or set RETAIN_BUSY_TIMEOUT (seconds) to wait longer\n"
)


def test_write_to_a_database_another_connection_holds_says_locked(cli, db_path, monkeypatch):
    Store.open(db_path).close()
    monkeypatch.setenv("RETAIN_BUSY_TIMEOUT", "0.2")
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # WAL: readers go on, writers wait
    try:
        began = time.monotonic()
        result = cli("unsubscribe", "ada@example.com", "--force")
        waited = time.monotonic() - began
        assert cli("customers", "list").exit_code == 0  # reading still works
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 1
    assert result.stderr == f"Error: {db_path} {LOCKED}"
    assert 0.2 <= waited < 5
    with Store.open(db_path) as store:
        assert not store.is_suppressed("ada@example.com")


def test_open_during_a_bulk_import_in_rollback_mode_says_locked(cli, db_path, monkeypatch):
    """A big import switches the database to a rollback journal, where its lock keeps
    readers out too: a command opening it meanwhile waits, then says why it stopped."""
    Store.open(db_path).close()
    monkeypatch.setenv("RETAIN_BUSY_TIMEOUT", "0.2")
    holder = sqlite3.connect(db_path, isolation_level=None)
    assert holder.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("DELETE FROM suppressions")  # the exclusive lock is taken at a write
    try:
        result = cli("customers", "list")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 1
    assert result.stderr == f"Error: {db_path} {LOCKED}"


def test_file_that_is_not_a_database_says_so(cli, tmp_path):
    junk = tmp_path / "orders.csv"
    junk.write_text("order_id,email\n" * 200)
    result = cli("customers", "list", "--db", str(junk))
    assert result.exit_code == 1
    assert result.stderr == f"Error: {junk} is not a retain database (file is not a database)\n"


def _fill_the_disk(store: Store) -> None:
    """The database may not grow by one page more (as if the disk were full)."""
    (pages,) = store.conn.execute("PRAGMA page_count").fetchone()
    store.conn.execute(f"PRAGMA max_page_count={pages}")


def test_full_disk_during_an_import_says_the_disk_is_full(cli, db_path, tmp_path, monkeypatch):
    orders = tmp_path / "orders.csv"
    lines = [f"A-{i},c{i}@example.com,2025-03-01,19.99" for i in range(3000)]
    orders.write_text("order_id,email,date,amount\n" + "\n".join(lines) + "\n")
    real_open = Store.open.__func__  # type: ignore[attr-defined]

    def open_on_a_full_disk(cls: type[Store], path: Path | str, **kw: Any) -> Store:
        store = real_open(cls, path, **kw)
        _fill_the_disk(store)
        return store

    monkeypatch.setattr(Store, "open", classmethod(open_on_a_full_disk))
    result = cli("import", "orders", "--currency", "USD", str(orders))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"Error: the disk holding {db_path} is full; nothing from orders.csv was imported"
    )
    monkeypatch.undo()
    with Store.open(db_path) as store:
        assert store.conn.execute("SELECT count(*) FROM orders").fetchone() == (0,)


def test_database_error_reads_real_sqlite_errors(tmp_path, db_path):
    Store.open(db_path).close()
    read_only = sqlite3.connect(db_path.as_uri() + "?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as caught:
        read_only.execute("DELETE FROM customers")
    read_only.close()
    assert str(database_error(caught.value, db_path)).startswith(
        f"{db_path} is read-only: retain cannot write to it (attempt to write a readonly "
        "database); make the file writable"
    )
    with Store.open(db_path) as store:
        _fill_the_disk(store)
        with pytest.raises(sqlite3.OperationalError) as full:
            store.conn.executemany(
                "INSERT INTO suppressions (email, reason, source, created_at) "
                "VALUES (?, 'x', 'cli', '2025-01-01')",
                ((f"a{i}@example.com",) for i in range(5000)),
            )
    assert isinstance(database_error(full.value, db_path), StoreError)
    assert "is full" in str(database_error(full.value, db_path))


def test_os_error_escaping_a_command_is_an_error_line(cli, store, monkeypatch):
    import retain_cli.cli.customers as customers_cli

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "export.csv")

    monkeypatch.setattr(customers_cli, "list_customers", full)
    result = cli("customers", "list")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: No space left on device: export.csv; the disk is full; free some space and "
        "run this again\n"
    )


def test_a_bug_keeps_its_traceback(cli, store, monkeypatch):
    import retain_cli.cli.customers as customers_cli

    def bug(*args: object, **kwargs: object) -> None:
        raise TypeError("a bug")

    monkeypatch.setattr(customers_cli, "list_customers", bug)
    with pytest.raises(TypeError, match="a bug"):
        cli("customers", "list")


# --- read-only files and folders ------------------------------------------------------------
#
# The tests run as root, for whom file permissions do not apply (chmod 444 is ignored, and
# SQLite could write anyway). So as root each case runs in a forked child that has dropped to
# the user nobody (uid 65534), where the permissions hold as for any owner; as another user
# it runs in the test process itself.

NOBODY = 65534


def as_unprivileged(work: Callable[[], Any]) -> Any:
    """``work()`` without root's rights (in a child process as nobody when run as root);
    its result must be JSON."""
    if os.geteuid() != 0:
        return work()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 0
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            payload = json.dumps({"result": work()})
        except BaseException as exc:  # report it to the parent
            payload = json.dumps({"error": f"{type(exc).__name__}: {exc}"})
            code = 1
        with os.fdopen(write, "w") as out:
            out.write(payload)
        os._exit(code)
    os.close(write)
    with os.fdopen(read) as incoming:
        payload = incoming.read()
    os.waitpid(pid, 0)
    answer = json.loads(payload)
    assert "error" not in answer, answer["error"]
    return answer["result"]


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder nobody can reach (SQLite opens a file by its absolute path, and pytest's
    tmp_path lies in a folder only root may enter); the test's cwd, paths are relative."""
    folder = Path(tempfile.mkdtemp(prefix="retain-test-"))
    folder.chmod(0o755)
    if not all(parent.stat().st_mode & 0o001 for parent in folder.parents):
        pytest.skip(f"{folder.parent} cannot be entered by other users")
    monkeypatch.chdir(folder)
    yield folder
    for path in folder.rglob("*"):
        if path.is_dir():
            path.chmod(0o755)
    shutil.rmtree(folder, ignore_errors=True)


def run(cli: Any, *args: str) -> list[Any]:
    """``retain ARGS`` as exit code, stdout and stderr (JSON, to cross from the child)."""
    result = cli.runner.invoke(app, list(args))
    return [result.exit_code, result.stdout, result.stderr]


def test_read_only_database_file_reads_but_refuses_writes(cli, shared, monkeypatch):
    folder = shared / "shop"
    folder.mkdir()
    Store.open(folder / "retain.db").close()
    folder.chmod(0o777)  # the folder is writable (for -wal and -shm); the file is not
    (folder / "retain.db").chmod(0o444)
    monkeypatch.setenv("RETAIN_DB", "shop/retain.db")

    written, listed = as_unprivileged(
        lambda: [
            run(cli, "unsubscribe", "ada@example.com", "--force"),
            run(cli, "customers", "list"),
        ]
    )
    assert written[0] == 1
    assert written[2] == (
        "Error: shop/retain.db is read-only: retain cannot write to it (attempt to write a "
        "readonly database); make the file writable (and its folder, for the -wal and -shm "
        "files beside it), or copy it to a writable disk and pass --db\n"
    )
    assert listed[0] == 0, listed  # reading needs no write


def test_database_in_a_read_only_folder_says_the_folder(cli, shared, monkeypatch):
    folder = shared / "shop"
    folder.mkdir()
    Store.open(folder / "retain.db").close()
    (folder / "retain.db").chmod(0o666)
    folder.chmod(0o555)
    monkeypatch.setenv("RETAIN_DB", "shop/retain.db")

    code, _, stderr = as_unprivileged(lambda: run(cli, "customers", "list"))
    assert code == 1
    assert stderr == (
        "Error: cannot open shop/retain.db: folder shop is read-only, and SQLite must create "
        "retain.db-wal and retain.db-shm beside the database; make the folder writable, or "
        "copy the database to a writable disk and pass --db\n"
    )


def test_new_database_in_a_read_only_folder(shared):
    folder = shared / "shop"
    folder.mkdir()
    folder.chmod(0o555)

    def create() -> str:
        try:
            Store.open(Path("shop/new.db"))
        except StoreError as exc:
            return str(exc)
        return "opened"

    assert as_unprivileged(create) == (
        "cannot create shop/new.db: folder shop is read-only; pass --db with a path in a "
        "folder you can write"
    )
