"""A ledger and orders made to measure: customers, sends and orders written straight into
the test database, so each report figure is known in advance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from retain_cli.store import Store

CONFIG = """\
sender:
  from: "Rosie's Bakery <hello@rosies.example>"
  address: "12 Baker St, Springfield"
  unsubscribe: "mailto:unsubscribe@rosies.example"
campaigns:
  - name: offer
    audience: all
    subject: "A treat for you"
    template: hello.txt.j2
    holdout: 50%
    offer_code: WINBACK10
  - name: series
    audience: all
    steps:
      - {days: 0, subject: "One", template: hello.txt.j2}
      - {days: 7, subject: "Two", template: hello.txt.j2}
    holdout: 20%
"""


class Shop:
    """Customers, ledger rows and orders for the report tests."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.count = 0

    def customers(self, prefix: str, n: int) -> list[int]:
        refs = []
        for i in range(n):
            email = f"{prefix}{i:03d}@example.org"
            cursor = self.store.conn.execute(
                "INSERT INTO customers (customer_id, email, accepts_marketing, source, "
                "created_at, updated_at) VALUES (?, ?, 1, 'test', '2025-01-01T00:00:00Z', "
                "'2025-01-01T00:00:00Z')",
                (email.upper(), email),
            )
            refs.append(int(cursor.lastrowid or 0))
        return refs

    def send(
        self,
        campaign: str,
        refs: list[int],
        at: str,
        *,
        state: str = "sent",
        step: int = 1,
        variant: str | None = None,
    ):
        for ref in refs:
            self.count += 1
            self.store.conn.execute(
                "INSERT INTO sends (send_key, campaign, step, customer_ref, occurrence, email, "
                "state, planned_at, sent_at, updated_at, variant) VALUES (?, ?, ?, ?, '1', 'x', "
                "?, ?, ?, ?, ?)",
                (
                    f"{campaign}:{step}:{ref}:{self.count}",
                    campaign,
                    step,
                    ref,
                    state,
                    at,
                    at if state == "sent" else None,
                    at,
                    variant,
                ),
            )

    def order(self, ref: int, at: str, total_minor: int, **extra: Any) -> None:
        self.count += 1
        columns = {
            "order_key": f"test:{self.count}",
            "source": "test",
            "order_id": str(self.count),
            "customer_ref": ref,
            "ordered_at": at,
            "currency": "EUR",
            "total_minor": total_minor,
            **extra,
        }
        names = ", ".join(columns)
        marks = ", ".join("?" * len(columns))
        self.store.conn.execute(
            f"INSERT INTO orders ({names}) VALUES ({marks})", list(columns.values())
        )


@pytest.fixture
def shop(store: Store) -> Shop:
    return Shop(store)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "hello.txt.j2").write_text("Hello\n")
    path = tmp_path / "campaigns.yaml"
    path.write_text(CONFIG)
    return path
