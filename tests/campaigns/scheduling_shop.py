"""Helpers for the scheduling tests: a campaign file written per test, and what the ledger
says was sent."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from retain_cli.store import Store

DATA = Path(__file__).parent / "data" / "sending"

HEAD = """\
sender:
  from: "Kornblume Bakery <hello@kornblume-backstube.de>"
  address: "Kastanienallee 7, 10435 Berlin"
  unsubscribe: "mailto:unsubscribe@kornblume-backstube.de"
transport:
  type: outbox
  outbox: outbox
"""


def write_config(tmp_path: Path, limits: str, campaigns: str, transport: str = "") -> Path:
    """shop/campaigns.yaml with these limits and campaigns (YAML text, already indented),
    templates hello / thanks / follow_up beside it."""
    folder = tmp_path / "shop"
    if not folder.exists():
        shutil.copytree(DATA / "templates", folder / "templates")
    path = folder / "campaigns.yaml"
    head = HEAD + transport
    path.write_text(f"{head}limits:\n{limits}campaigns:\n{campaigns}", encoding="utf-8")
    return path


def sent(db: Path, at: str | None = None) -> list[tuple[str, int, str]]:
    """(campaign, step, email) of the messages sent (at ``at``, a UTC timestamp), sorted."""
    with Store.open(db) as store:
        rows = store.conn.execute(
            "SELECT campaign, step, email FROM sends WHERE state = 'sent' "
            "AND (? IS NULL OR sent_at = ?) ORDER BY campaign, step, email",
            (at, at),
        )
        return [tuple(r) for r in rows.fetchall()]


def ledger(db: Path, *columns: str) -> list[tuple[Any, ...]]:
    """Every ledger row's ``columns``, oldest first."""
    with Store.open(db) as store:
        cols = ", ".join(columns)
        return [tuple(r) for r in store.conn.execute(f"SELECT {cols} FROM sends ORDER BY id")]


def customers(db: Path, people: list[tuple[str, str, str | None]], **extra: Any) -> None:
    """Insert consenting customers (email, first name, birthday) directly."""
    with Store.open(db) as store:
        store.db["customers"].insert_all(
            {
                "customer_id": email,
                "email": email,
                "first_name": first,
                "accepts_marketing": 1,
                "birthday": birthday,
                "source": "test",
                "created_at": "2025-01-01T00:00:00Z",
                "updated_at": "2025-01-01T00:00:00Z",
                **extra,
            }
            for email, first, birthday in people
        )


def order(db: Path, email: str, at: str, total_minor: int = 5000) -> None:
    with Store.open(db) as store:
        ref = store.conn.execute("SELECT id FROM customers WHERE email = ?", (email,)).fetchone()
        store.conn.execute(
            "INSERT INTO orders (order_key, source, order_id, customer_ref, ordered_at, "
            "currency, total_minor, refunded_minor) VALUES (?, 'test', ?, ?, ?, 'EUR', ?, 0)",
            (f"test:{email}:{at}", f"{email}:{at}", ref[0], at, total_minor),
        )
