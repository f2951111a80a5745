"""What an SQLite error means for the owner: its true cause and what to do about it.

SQLite reports a busy database, a read-only file or folder, a full disk and a file that is
no database alike, as ``sqlite3.OperationalError`` or ``DatabaseError``. :func:`database_error`
tells them apart (by SQLite's error code, then its message) and names the file;
:func:`explain_failure` does the same for anything that escapes a command (the CLI prints it
as ``Error: ...``), and returns None for what is no fault of the surroundings (a bug).

How long retain waits for another connection's write to finish is ``RETAIN_BUSY_TIMEOUT``
(seconds, default 30).
"""

from __future__ import annotations

import math
import os
import shutil
import sqlite3
from pathlib import Path

from retain_cli.errors import RetainError, StoreError, UsageError, os_error_text

BUSY_TIMEOUT_ENV = "RETAIN_BUSY_TIMEOUT"
DEFAULT_BUSY_TIMEOUT = 30.0


def busy_timeout() -> float:
    """Seconds to wait for a lock another connection holds (``RETAIN_BUSY_TIMEOUT``)."""
    text = os.environ.get(BUSY_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_BUSY_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise UsageError(
            f"{BUSY_TIMEOUT_ENV}={text!r} is not a number of seconds; set it to e.g. 30, "
            "or unset it"
        )
    return value


def _kind(exc: sqlite3.Error) -> str:
    """SQLite's primary error name (SQLITE_READONLY for SQLITE_READONLY_DIRECTORY ...)."""
    name = getattr(exc, "sqlite_errorname", None) or ""
    if name.startswith("SQLITE_"):
        return "_".join(name.split("_")[:2])
    message = str(exc).lower()
    for needle, kind in (
        ("locked", "SQLITE_BUSY"),
        ("readonly", "SQLITE_READONLY"),
        ("read-only", "SQLITE_READONLY"),
        ("is full", "SQLITE_FULL"),
        ("not a database", "SQLITE_NOTADB"),
        ("malformed", "SQLITE_CORRUPT"),
        ("unable to open", "SQLITE_CANTOPEN"),
        ("disk i/o error", "SQLITE_IOERR"),
    ):
        if needle in message:
            return kind
    return ""


def fault(exc: sqlite3.Error, folder: Path) -> str:
    """The cause of an SQLite error on a database in ``folder``, as SQLite's primary error
    name: SQLITE_BUSY, SQLITE_READONLY, SQLITE_FULL ... ("" when SQLite names none)."""
    kind = _kind(exc)
    if kind == "SQLITE_IOERR" and nearly_full(folder):
        return "SQLITE_FULL"  # SQLite reports some writes that do not fit as a mere I/O error
    return kind


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK)


def database_error(exc: sqlite3.Error, path: Path | str) -> StoreError:
    """The :class:`StoreError` (cause and fix) for an SQLite error on the database ``path``."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    kind = fault(exc, folder)
    detail = str(exc)
    extended = getattr(exc, "sqlite_errorname", None) or ""
    if kind in ("SQLITE_BUSY", "SQLITE_LOCKED"):
        return StoreError(
            f"{path} is locked: another program (another retain command, such as an import "
            f"or a send) is writing to it, and retain waited {busy_timeout():g} s for it to "
            "finish; run this again once it is done, or set RETAIN_BUSY_TIMEOUT (seconds) to "
            "wait longer"
        )
    if kind == "SQLITE_READONLY" or (
        kind == "SQLITE_CANTOPEN" and path.exists() and not _writable(path)
    ):
        if extended == "SQLITE_READONLY_DIRECTORY" or (_writable(path) and not _writable(folder)):
            return _folder_read_only(path, folder)
        return StoreError(
            f"{path} is read-only: retain cannot write to it ({detail}); make the file "
            "writable (and its folder, for the -wal and -shm files beside it), or copy it "
            "to a writable disk and pass --db"
        )
    if kind == "SQLITE_CANTOPEN":
        if path.is_dir():
            return StoreError(f"{path} is a folder, not a database file; pass --db FILE")
        if not _writable(folder):
            if not path.exists():
                return StoreError(
                    f"cannot create {path}: folder {folder} is read-only; pass --db with a "
                    "path in a folder you can write"
                )
            return _folder_read_only(path, folder)
        return StoreError(f"cannot open {path} ({detail}); check the file and its folder")
    template = _SIMPLE.get(kind, "database error in {path}: {detail}")
    return StoreError(template.format(path=path, folder=folder, detail=detail))


# Causes whose message needs no look at the file system.
_SIMPLE = {
    "SQLITE_FULL": "the disk holding {path} is full; retain cannot write to it ({detail}); "
    "free some space on the disk that holds {folder} and run this again (the unfinished "
    "change was undone)",
    "SQLITE_NOTADB": "{path} is not a retain database ({detail})",
    "SQLITE_CORRUPT": "{path} is damaged ({detail}); restore it from a backup (the sqlite3 "
    "shell's '.recover' command may save what is left)",
    "SQLITE_IOERR": "cannot read or write {path} ({detail}); check the disk (is it full, "
    "removed, or failing?) and run this again",
}


def nearly_full(folder: Path) -> bool:
    """Whether the disk holding ``folder`` has less than a megabyte left."""
    try:
        return shutil.disk_usage(folder).free < 1 << 20
    except OSError:
        return False


def _folder_read_only(path: Path, folder: Path) -> StoreError:
    return StoreError(
        f"cannot open {path}: folder {folder} is read-only, and SQLite must create "
        f"{path.name}-wal and {path.name}-shm beside the database; make the folder writable, "
        "or copy the database to a writable disk and pass --db"
    )


def explain_failure(exc: BaseException, database: Path | str) -> RetainError | None:
    """The error to show for ``exc`` escaping a command that used ``database``: a database
    fault (busy, read-only, full, not a database ...) or an OSError (disk full, no
    permission); None for anything else, which is a bug and keeps its traceback."""
    if isinstance(exc, RetainError):
        return exc
    if isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError:
        return database_error(exc, database)
    if isinstance(exc, OSError):
        return RetainError(os_error_text(exc))
    return None
