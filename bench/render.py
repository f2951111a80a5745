"""Rendering throughput: the message builder ``retain send`` uses, written by the outbox transport.

Builds a throw-away shop of N customers (two orders each, three lines on the last one),
then for the shipped ``thank-you`` campaign (text + HTML) measures the path ``retain send``
takes for N messages, minus the ledger writes (``bench/send.py`` measures those): ledger
rows in batches of the campaign file's ``limits.batch_size`` (as ``dispatch`` takes them),
each batch given to ``send.message_builder`` (template contexts for the batch, one
Renderer, ``build_message``, the shop currency looked up once per run), every message taken
from it and written as an .eml file by the outbox transport. Prints messages/s and the ratio
to the 2,000 messages/s target measured in the same run.

Usage: .venv/bin/python bench/render.py [N] [DIR]   (default 10000 in the current folder;
       try 500 for a quick run). The outbox is written in a temporary folder inside DIR,
       removed afterwards: pick a DIR on the disk your real outbox would be on.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from retain_cli.campaigns.config import load_config
from retain_cli.campaigns.dispatch import DEFAULT_BATCH_SIZE
from retain_cli.campaigns.send import message_builder
from retain_cli.store import Store
from retain_cli.store.ledger import LedgerRow
from retain_cli.transports.outbox import OutboxTransport

REPO = Path(__file__).resolve().parents[1]
TARGET = 2000.0  # messages per second


def make_shop(store: Store, n: int) -> None:
    now = "2025-01-01T00:00:00Z"
    store.db["customers"].insert_all(
        (
            {
                "id": i,
                "customer_id": f"C{i}",
                "email": f"customer{i}@example.com",
                "first_name": None if i % 7 == 0 else f"Name{i}",
                "last_name": f"Family{i}",
                "accepts_marketing": 1,
                "source": "bench",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(1, n + 1)
        ),
        batch_size=5000,
    )
    start = datetime(2025, 1, 1, tzinfo=UTC)
    store.db["orders"].insert_all(
        (
            {
                "id": 2 * i + k,
                "order_key": f"bench:{i}:{k}",
                "source": "bench",
                "order_id": f"#{2 * i + k}",
                "customer_ref": i,
                "ordered_at": (start + timedelta(days=(i + 40 * k) % 300)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
                "currency": "EUR",
                "total_minor": 1000 + (i % 50) * 100,
                "refunded_minor": 0,
            }
            for i in range(1, n + 1)
            for k in (0, 1)
        ),
        batch_size=5000,
    )
    store.db["order_items"].insert_all(
        (
            {
                "order_ref": 2 * i + 1,
                "line_no": line,
                "sku": f"SKU{line}",
                "name": ("Rye loaf", "Cinnamon buns", "Flat white")[line - 1],
                "quantity": line,
                "price_minor": 350 * line,
            }
            for i in range(1, n + 1)
            for line in (1, 2, 3)
        ),
        batch_size=5000,
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    where = Path(sys.argv[2]) if len(sys.argv) > 2 else Path.cwd()
    work = Path(tempfile.mkdtemp(prefix=".retain-bench-render-", dir=where))
    try:
        with Store.open(work / "bench.db") as store:
            make_shop(store, n)
            config = load_config(REPO / "campaigns.example.yaml")
            campaign = config.campaign("thank-you")
            step = campaign.steps[0]
            as_of = datetime(2025, 12, 31, tzinfo=UTC)
            outbox = OutboxTransport(work / "outbox")
            outbox.open()
            # what store.ledger_pending gives dispatch (read before the clock starts)
            rows = [
                LedgerRow(
                    ref,
                    f"{campaign.name}:{step.index}:C{ref}:1",
                    campaign.name,
                    step.index,
                    ref,
                    "1",
                    f"customer{ref}@example.com",
                    "planned",
                    0,
                )
                for ref in range(1, n + 1)
            ]
            batch_size = config.limits.batch_size or DEFAULT_BATCH_SIZE
            sender = config.sender.from_email  # run_send reads it once per run

            started = time.perf_counter()
            cpu_started = time.process_time()
            build = message_builder(store, config, as_of)
            sent = 0
            for at in range(0, n, batch_size):
                batch = rows[at : at + batch_size]
                messages = build(batch)
                for row in batch:
                    message = messages[row.id]
                    if not isinstance(message, EmailMessage):
                        raise SystemExit(f"{row.send_key}: {message}")
                    outbox.send(message, sender, row.email)
                    sent += 1
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            outbox.close()
        files = sum(1 for _ in (work / "outbox").rglob("*.eml"))
        rate = sent / elapsed
        cpu_rate = sent / cpu if cpu > 0 else float("inf")
        print(f"messages: {sent} rendered and written ({files} .eml files) in {elapsed:.2f}s")
        print(
            f"throughput: {rate:,.0f} messages/s "
            f"(message_builder in batches of {batch_size}: contexts + render + build; .eml)"
        )
        print(f"ratio to the {TARGET:,.0f} messages/s target: {rate / TARGET:.2f}x")
        # on a busy machine the wall clock also counts other processes; this does not
        print(
            f"on this process's CPU time ({cpu:.2f}s): {cpu_rate:,.0f} messages/s, "
            f"ratio {cpu_rate / TARGET:.2f}x"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
