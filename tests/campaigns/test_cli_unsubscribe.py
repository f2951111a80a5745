"""`retain unsubscribe` refuses an address that no customer has (a typo would leave the real
customer mailable), naming the close ones; --force blocks it anyway."""

from __future__ import annotations

import sqlite3
from pathlib import Path

REAL = "hildburg.kohler@example.com"
TYPO = "hildburg.kohler@example.co"


def query(folder: Path, sql: str, *args: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(folder / "retain.db")
    try:
        return [tuple(r) for r in conn.execute(sql, args).fetchall()]
    finally:
        conn.close()


def consent(folder: Path, email: str) -> list[tuple[object, ...]]:
    return query(folder, "SELECT consent FROM customer_consent WHERE email = ?", email)


def test_a_typo_is_refused_with_the_close_addresses(cli, demo):
    assert consent(demo, REAL) == [(1,)]
    result = cli("unsubscribe", TYPO)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: no customer has the address '{TYPO}'. Did you mean {REAL}, "
        "hildburgk@post.example or adelgunde.kohler@example.com? Nothing was changed; to "
        "block an address that is not imported yet, add --force.\n"
    )
    assert query(demo, "SELECT * FROM suppressions WHERE email = ?", TYPO) == []
    assert consent(demo, REAL) == [(1,)]  # the real customer is still mailable


def test_the_real_address_and_force(cli, demo):
    result = cli("unsubscribe", REAL.upper())
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Unsubscribed {REAL}: no campaign will write to it.\n"
    assert consent(demo, REAL) == [(0,)]
    forced = cli("unsubscribe", "new.person@example.net", "--force", "--reason", "asked")
    assert forced.exit_code == 0, forced.output
    assert query(
        demo, "SELECT reason, source FROM suppressions WHERE email = 'new.person@example.net'"
    ) == [("asked", "cli")]
    # blocked before it is imported: saying it again is no error, nothing to do
    again = cli("unsubscribe", "new.person@example.net")
    assert again.exit_code == 0
    assert again.stdout == "new.person@example.net was already unsubscribed.\n"
    unknown = cli("unsubscribe", "zz-nobody-like-this@nowhere.example")
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith(
        "Error: no customer has the address 'zz-nobody-like-this@nowhere.example'. Nothing "
        "was changed; to block"
    )
