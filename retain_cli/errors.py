"""Errors the library raises. The CLI turns each into ``Error: ...`` and its exit code.

Exit codes: 0 ok, 1 failed (nothing changed), 2 usage error, 3 finished with some rows,
values or messages not processed (that one is not an error: commands return it from their
results).
"""

from __future__ import annotations

import errno

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3


class RetainError(Exception):
    """Base class: something failed; the message says what and how to fix it."""

    exit_code = EXIT_FAILED


class UsageError(RetainError):
    """The command line asked for something that cannot be done as asked."""

    exit_code = EXIT_USAGE


class NoDatabase(RetainError):
    """The database file does not exist (and the command does not create one)."""


class ImportFileError(RetainError):
    """An import file cannot be used at all; the database is left as it was."""


class ConfigError(RetainError):
    """A campaign or segment file is invalid; the message names file, item and key."""


class NotFound(RetainError):
    """A customer, campaign or other named thing does not exist."""


class SendError(RetainError):
    """Sending could not start or could not go on (lock held, transport unusable)."""


class MailboxError(RetainError):
    """The mailbox cannot be read (server unreachable, login refused, no such folder)."""


class StoreError(RetainError):
    """The database cannot be used just now: busy, read-only, disk full, not a database."""


_OS_HINTS = {
    errno.ENOSPC: "the disk is full; free some space and run this again",
    errno.EDQUOT: "the disk quota is used up; free some space and run this again",
    errno.EROFS: "that file system is read-only; use a folder on a writable disk",
    errno.EACCES: "check the permissions of that file and its folder",
    errno.EPERM: "check the permissions of that file and its folder",
}


def os_error_text(exc: OSError) -> str:
    """What an OSError means, in one line: the cause, the file, and what to do
    ("No space left on device: orders.rejects.csv; the disk is full; free some space ...")."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    names = [str(name) for name in (exc.filename, exc.filename2) if name is not None]
    text = f"{reason}: {' -> '.join(names)}" if names else reason
    hint = _OS_HINTS.get(exc.errno) if exc.errno is not None else None
    return f"{text}; {hint}" if hint else text
