"""Fixtures for the mailbox tests: a real Dovecot on 127.0.0.1 (one per session, a fresh user
and mailbox per test), skipped with a clear message where Dovecot is not installed."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from dovecot import MISSING, Dovecot, dovecot_binary

_users = itertools.count(1)
USERS = 200


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[Dovecot]:
    if dovecot_binary() is None:
        pytest.skip(MISSING)
    with Dovecot() as server:
        for n in range(1, USERS + 1):  # all at once: Dovecot re-reads the file by its mtime
            server.add_user(f"shop{n}", f"pw-shop{n}-secret")
        yield server


@dataclass
class Imap:
    server: Dovecot
    user: str
    password: str

    @property
    def port(self) -> int:
        return self.server.port

    def append(self, *messages: bytes, folder: str = "INBOX") -> None:
        self.server.append(self.user, self.password, list(messages), folder)

    def flags(self, folder: str = "INBOX") -> dict[int, set[str]]:
        """UID -> flags of every message in the folder."""
        import re

        client = self.server.connect(self.user, self.password)
        try:
            client.select(folder, readonly=True)
            _typ, data = client.uid("FETCH", "1:*", "(FLAGS)")
            out: dict[int, set[str]] = {}
            for line in data:
                if not isinstance(line, bytes):
                    continue
                match = re.search(rb"UID (\d+) FLAGS \(([^)]*)\)", line)
                if match:
                    out[int(match.group(1))] = set(match.group(2).decode().split())
            return out
        finally:
            client.logout()


@pytest.fixture
def imap(dovecot_server: Dovecot, monkeypatch: pytest.MonkeyPatch) -> Imap:
    """A fresh mailbox user on the session's Dovecot; its password in RETAIN_IMAP_PASSWORD."""
    user = f"shop{next(_users)}"
    password = f"pw-{user}-secret"
    monkeypatch.setenv("RETAIN_IMAP_PASSWORD", password)
    return Imap(dovecot_server, user, password)
