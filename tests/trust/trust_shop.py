"""A small shop for the trust tests: customers, orders, opt-outs and the campaign file in
tests/trust/data/shop (one campaign of each kind the planner knows)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retain_cli.store import Store

DATA = Path(__file__).parent / "data"


@dataclass
class Person:
    customer_id: str
    email: str | None
    first_name: str | None = None
    last_name: str | None = None
    consent: int | None = 1
    suppressed: bool = False
    birthday: str | None = None
    signed_up: str | None = None  # source_created_at
    city: str | None = None
    country: str | None = None
    # (UTC timestamp, total in cents, refunded cents, cancelled)
    orders: list[tuple[str, int, int, bool]] = field(default_factory=list)


def copy_campaigns(tmp_path: Path) -> Path:
    """tests/trust/data/shop copied to tmp_path/shop; returns the campaign file's path."""
    shutil.copytree(DATA / "shop", tmp_path / "shop", dirs_exist_ok=True)
    return tmp_path / "shop" / "campaigns.yaml"


def add_people(store: Store, people: list[Person], created: str = "2024-01-01T00:00:00Z") -> None:
    """Insert customers (ids 1, 2 ... in order), their orders (with one line item each) and
    opt-outs, straight into the store."""
    start = store.max_customer_ref()
    order_no = int(store.conn.execute("SELECT coalesce(max(id), 0) FROM orders").fetchone()[0])
    rows: list[dict[str, Any]] = []
    orders: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    for number, p in enumerate(people, start=start + 1):
        rows.append(
            {
                "id": number,
                "customer_id": p.customer_id,
                "email": p.email,
                "first_name": p.first_name,
                "last_name": p.last_name,
                "accepts_marketing": p.consent,
                "birthday": p.birthday,
                "source_created_at": p.signed_up,
                "city": p.city,
                "country": p.country,
                "source": "test",
                "created_at": created,
                "updated_at": created,
            }
        )
        for at, total, refunded, cancelled in p.orders:
            order_no += 1
            orders.append(
                {
                    "id": order_no,
                    "order_key": f"test:#{order_no}",
                    "source": "test",
                    "order_id": f"#{order_no}",
                    "customer_ref": number,
                    "ordered_at": at,
                    "currency": "EUR",
                    "total_minor": total,
                    "refunded_minor": refunded,
                    "cancelled_at": at if cancelled else None,
                }
            )
            items.append(
                {
                    "order_ref": order_no,
                    "line_no": 1,
                    "sku": "RYE",
                    "name": "Rye loaf",
                    "quantity": 1,
                    "price_minor": total,
                }
            )
    store.db["customers"].insert_all(rows)
    if orders:
        store.db["orders"].insert_all(orders)
        store.db["order_items"].insert_all(items)
    for p in people:
        if p.suppressed and p.email:
            store.suppress(p.email, "asked by phone", "cli")


def small_shop() -> list[Person]:
    """Five customers with something to explain each."""
    return [
        Person(
            "C1",
            "ada@example.com",
            "Ada",
            "Lovelace",
            birthday="1990-06-20",
            city="Berlin",
            country="DE",
            orders=[
                ("2025-01-10T10:00:00Z", 2500, 0, False),
                ("2025-03-01T10:00:00Z", 4000, 1000, False),
                ("2025-04-01T10:00:00Z", 9900, 0, True),
            ],
        ),
        Person(
            "C2",
            "bob@example.com",
            "Bob",
            "Baker",
            city="Hamburg",
            country="DE",
            orders=[("2025-06-14T09:00:00Z", 1250, 0, False)],
        ),
        Person(
            "C3",
            "eve@example.com",
            "Eve",
            "Evans",
            consent=0,
            city="Wien",
            country="AT",
            orders=[("2025-05-01T09:00:00Z", 3000, 0, False)],
        ),
        Person(
            "C4",
            "sue@example.com",
            "Sue",
            "Smith",
            suppressed=True,
            city="Wien",
            country="AT",
            orders=[("2024-12-01T09:00:00Z", 700, 0, False)],
        ),
        Person("C5", "nora@example.com", "Nora", None, signed_up="2025-06-19T12:00:00Z"),
    ]
