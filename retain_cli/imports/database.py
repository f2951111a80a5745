"""Where an import writes: the database, created safely, and what its faults mean.

:func:`build_new` runs the first import into a database (for
:func:`retain_cli.imports.importer.import_into`). A new database is built under a temporary
name in the same folder and takes its name only once the import has committed, with a hard
link, which never replaces a file. So:

- a failed or interrupted first import leaves no database behind, and never removes one
  that another command created or wrote meanwhile (it only ever removes its own temporary
  file, which no other process knows);
- no command reads a half-imported database: until the import ends there is none;
- should another command create the database meanwhile (two first imports at once), the
  file is imported again into that one (a pipe, which cannot be read twice, fails instead
  and says so).

:func:`database_error` turns SQLite's errors during an import (the database locked by
another command for longer than retain waits, a full disk, a read-only file) into an
``Error:`` with the cause and the fix; an import is one transaction, so the database is
left as it was.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from retain_cli.errors import RetainError
from retain_cli.store.errors import fault

if TYPE_CHECKING:
    from retain_cli.imports.options import ImportResult
    from retain_cli.store import Store

_SUFFIXES = ("", "-wal", "-shm", "-journal")


def exists(path: Path) -> bool:
    """Whether there is a file (or a link, even a broken one) at ``path``."""
    return path.exists() or path.is_symlink()


def build_new(db: Path, file: Path, run: Callable[[Store], ImportResult]) -> ImportResult | None:
    """``run`` (the import of ``file``) on a new database at a temporary name, which is then
    published as ``db``; None when ``db`` was created by another command meanwhile (nothing
    published: import into that one)."""
    from retain_cli.store import Store

    folder = db.parent
    if not folder.is_dir():
        raise RetainError(f"cannot create {db}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise RetainError(
            f"cannot create {db}: folder {folder} is not writable (read-only, or owned by "
            "someone else); pass --db with a path in a folder you can write to"
        )
    temporary = folder / f".{db.name}.{os.getpid()}-{secrets.token_hex(4)}.new"
    try:
        try:
            store = Store.open(temporary, create=True)
        except RetainError as exc:
            raise RetainError(str(exc).replace(str(temporary), str(db))) from None
        except sqlite3.Error as exc:  # setting up the tables on a full disk, say
            raise explain(exc, db, file, created=False) or exc from None
        store.private = True
        store.published_as = db
        with store:
            result = run(store)
            try:
                store.checkpoint()
            except sqlite3.Error as exc:
                raise database_error(exc, store, file) or exc from None
        return result if _publish(temporary, db) else None
    finally:
        for suffix in _SUFFIXES:
            Path(f"{temporary}{suffix}").unlink(missing_ok=True)


def _publish(temporary: Path, db: Path) -> bool:
    """Give the built database its name, never replacing a file; False if there is one."""
    try:
        os.link(temporary, db)
    except FileExistsError:
        return False
    except OSError as exc:
        # a file system without hard links (FAT, some network shares): a rename, which would
        # replace a file created in the instant between the check and the rename
        if exists(db):
            return False
        try:
            os.replace(temporary, db)
        except OSError:
            raise RetainError(
                f"cannot create {db} ({exc.strerror}); pass --db with a path in a folder you "
                "can write to"
            ) from None
    return True


def database_error(exc: sqlite3.Error, store: Store, file: Path) -> RetainError | None:
    """What an SQLite error during the import of ``file`` means, and its fix (None for an
    error that is not the machine's: a bug, shown as it is)."""
    wait = store.busy_seconds
    return explain(exc, store.shown_path, file, created=not store.private, wait=wait)


def explain(
    exc: sqlite3.Error,
    db: Path,
    file: Path,
    *,
    created: bool,
    wait: Callable[[], float] | None = None,
) -> RetainError | None:
    """:func:`database_error` for the database at ``db`` (``created``: it existed before
    the import); ``wait``: how long a write waits for a lock. The cause is
    :func:`retain_cli.store.errors.fault`'s; the words say what became of the import."""
    kind = fault(exc, db.parent)
    was = "the database is as it was" if created else f"{db} was not created"
    nothing = f"nothing from {file.name} was imported ({was})"
    if kind in ("SQLITE_BUSY", "SQLITE_LOCKED"):
        waited = f" ({wait():g} s)" if wait is not None else ""
        return RetainError(
            f"{db} is locked: another program (another retain import or send?) has been "
            f"writing to it for longer than retain waits{waited}; {nothing}. Run the import "
            "again when it has finished"
        )
    if kind == "SQLITE_FULL":
        return RetainError(
            f"the disk holding {db} is full; {nothing}. Free some space (an import needs "
            "room for the new rows and a journal of about their size) and run it again"
        )
    if kind == "SQLITE_READONLY":
        return RetainError(
            f"{db} cannot be written (a read-only file, folder or disk); {nothing}. Make it "
            "writable, or pass --db with a database you can write to"
        )
    if kind == "SQLITE_IOERR":
        return RetainError(
            f"writing {db} failed ({exc}): the disk may be full, removed or failing; "
            f"{nothing}. Check the disk and run the import again"
        )
    return None
