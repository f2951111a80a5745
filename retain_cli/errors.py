"""Errors the library raises. The CLI turns each into ``Error: ...`` and its exit code.

Exit codes: 0 ok, 1 failed (nothing changed), 2 usage error, 3 finished with some rows,
values or messages not processed (that one is not an error: commands return it from their
results).
"""

from __future__ import annotations

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
