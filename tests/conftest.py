"""Shared fixtures. Every test runs in its own temporary folder with its own database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retain_cli.cli.main import app
from retain_cli.store import Store

TESTS = Path(__file__).parent


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every path retain writes to at tmp_path, so tests never touch real files."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RETAIN_DB", str(tmp_path / "retain.db"))
    monkeypatch.setenv("RETAIN_CONFIG", str(tmp_path / "campaigns.yaml"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("RETAIN_SMTP_PASSWORD", raising=False)
    return tmp_path


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "retain.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    with Store.open(db_path) as opened:
        yield opened


class Cli:
    """Runs ``retain`` in-process, the way a user would type it."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None):
        return self.runner.invoke(app, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture
def campaign_shop(tmp_path: Path) -> Path:
    """tests/campaigns/data/campaigns copied to tmp_path, and a small shop in the database.

    Customers (internal ids 1-5): ada (2 orders + 1 cancelled, consent), bob (no first
    name, 1 order, consent), eve (a newline in her name, no consent), sue (consent but
    suppressed), nora (no orders, consent). Returns the campaign file's path.
    """
    import shutil

    shutil.copytree(TESTS / "campaigns" / "data" / "campaigns", tmp_path / "shop")
    now = "2025-01-01T00:00:00Z"
    with Store.open(tmp_path / "retain.db") as opened:
        people = [
            (1, "C1", "ada@example.com", "Ada", "Lovelace", 1),
            (2, "C2", "bob@example.com", None, None, 1),
            (3, "C3", "eve@example.com", "Eve\r\nBcc: victim@evil.example", "X", 0),
            (4, "C4", "sue@example.com", "Sue", "Smith", 1),
            (5, "C5", "nora@example.com", "Nora", None, 1),
        ]
        opened.db["customers"].insert_all(
            {
                "id": ref,
                "customer_id": cid,
                "email": email,
                "first_name": first,
                "last_name": last,
                "accepts_marketing": consent,
                "birthday": "1990-06-15" if ref == 1 else None,
                "source": "test",
                "created_at": now,
                "updated_at": now,
            }
            for ref, cid, email, first, last, consent in people
        )
        opened.db["suppressions"].insert(
            {"email": "sue@example.com", "reason": "asked", "source": "cli", "created_at": now}
        )
        orders = [
            (1, 1, "#1001", "2025-03-01T10:00:00Z", 2500, 0, None),
            (2, 1, "#1002", "2025-05-01T10:00:00Z", 4000, 1000, None),
            (3, 1, "#1003", "2025-06-01T10:00:00Z", 9900, 0, "2025-06-02T10:00:00Z"),
            (4, 2, "#1004", "2025-04-10T10:00:00Z", 1250, 0, None),
            (5, 3, "#1005", "2025-04-11T10:00:00Z", 500, 0, None),
            (6, 4, "#1006", "2025-04-12T10:00:00Z", 700, 0, None),
        ]
        opened.db["orders"].insert_all(
            {
                "id": ref,
                "order_key": f"test:{oid}",
                "source": "test",
                "order_id": oid,
                "customer_ref": cust,
                "ordered_at": at,
                "currency": "USD",
                "total_minor": total,
                "refunded_minor": refunded,
                "cancelled_at": cancelled,
            }
            for ref, cust, oid, at, total, refunded, cancelled in orders
        )
        opened.db["order_items"].insert_all(
            [
                {
                    "order_ref": 2,
                    "line_no": 1,
                    "sku": "RYE",
                    "name": "Rye loaf",
                    "quantity": 2,
                    "price_minor": 1500,
                },
                {
                    "order_ref": 2,
                    "line_no": 2,
                    "sku": "BUN",
                    "name": "Cinnamon buns",
                    "quantity": 1,
                    "price_minor": 1000,
                },
                {
                    "order_ref": 3,
                    "line_no": 1,
                    "sku": "CAKE",
                    "name": "Cake",
                    "quantity": 1,
                    "price_minor": 9900,
                },
            ]
        )
    return tmp_path / "shop" / "campaigns.yaml"


class OrderMaker:
    """Puts orders straight into a store (for analytics tests that need exact shapes).

    ``add("ann@example.com", "2025-01-10", 10.0, refunded=0.0, cancelled=False)``; the
    customer is created on first sight (internal ids in order of first appearance).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.refs: dict[str, int] = {}
        self.count = 0

    def customer(self, email: str, *, accepts_marketing: int | None = 1) -> int:
        if email not in self.refs:
            ref = len(self.refs) + 1
            self.store.db["customers"].insert(
                {
                    "id": ref,
                    "customer_id": email,
                    "email": email,
                    "accepts_marketing": accepts_marketing,
                    "source": "test",
                    "created_at": "2020-01-01T00:00:00Z",
                    "updated_at": "2020-01-01T00:00:00Z",
                }
            )
            self.refs[email] = ref
        return self.refs[email]

    def add(
        self,
        email: str,
        when: str,
        amount: float,
        *,
        refunded: float = 0.0,
        cancelled: bool = False,
        currency: str = "EUR",
    ) -> None:
        ref = self.customer(email)
        self.count += 1
        at = when if "T" in when else f"{when}T12:00:00Z"
        self.store.db["orders"].insert(
            {
                "order_key": f"test:{self.count}",
                "source": "test",
                "order_id": str(self.count),
                "customer_ref": ref,
                "ordered_at": at,
                "currency": currency,
                "total_minor": round(amount * 100),
                "refunded_minor": round(refunded * 100),
                "cancelled_at": at if cancelled else None,
            }
        )


@pytest.fixture
def orders(store: Store) -> OrderMaker:
    """Add orders to the test database one by one (see :class:`OrderMaker`)."""
    return OrderMaker(store)


def write_maildir(root: Path, messages: list[bytes]) -> Path:
    """A maildir folder (cur/, new/, tmp/) with ``messages`` in new/, for ``retain inbox
    --from-maildir``."""
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i, raw in enumerate(messages):
        (root / "new" / f"{i:04d}.eml").write_bytes(raw)
    return root


@pytest.fixture
def maildir(tmp_path: Path):
    """``maildir(messages)`` writes them to a fresh maildir under tmp_path (see
    :func:`write_maildir`)."""
    count = iter(range(1000))
    return lambda messages: write_maildir(tmp_path / f"Mail{next(count)}", messages)


#: the demo shop the README's examples are made from (docs/readme_examples.py)
DEMO_SEED = 1
DEMO_TODAY = "2026-11-24"


@pytest.fixture(scope="session")
def demo_settings() -> tuple[int, str]:
    """(seed, today) of the session's demo shop, for tests that must match it."""
    return DEMO_SEED, DEMO_TODAY


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``retain demo`` (500 customers, seed 1, today 2026-11-24) built once per session;
    tests that write use :func:`demo`, their own copy."""
    from datetime import date

    from retain_cli.demo import run_demo

    folder = tmp_path_factory.mktemp("demo") / "demo"
    run_demo(folder, seed=DEMO_SEED, today=date.fromisoformat(DEMO_TODAY))
    return folder


@pytest.fixture
def demo(demo_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own copy of the demo shop, as the current folder and the default --db."""
    import shutil

    folder = tmp_path / "demo"
    shutil.copytree(demo_folder, folder)
    monkeypatch.chdir(folder)
    monkeypatch.setenv("RETAIN_DB", str(folder / "retain.db"))
    monkeypatch.setenv("RETAIN_CONFIG", str(folder / "campaigns.yaml"))
    return folder
