"""Rendering throughput: template contexts + render + build_message + the outbox transport.

Builds a throw-away shop of N customers (two orders each, three lines on the last one),
then for the shipped ``thank-you`` campaign (text + HTML) measures the whole path the outbox
transport takes for N messages: contexts loaded in batches (as dispatch does), rendered by
one Renderer, built with build_message, written as .eml files. Prints messages/s and the
ratio to the 2,000 messages/s target measured in the same run.

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
from pathlib import Path

from retain_cli.campaigns import load_config
from retain_cli.store import Store
from retain_cli.templating import Renderer, build_message, load_contexts
from retain_cli.transports.outbox import OutboxTransport

REPO = Path(__file__).resolve().parents[1]
TARGET = 2000.0  # messages per second
BATCH = 500


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
            refs = list(range(1, n + 1))

            started = time.perf_counter()
            cpu_started = time.process_time()
            renderer = Renderer(config)
            sent = 0
            for at in range(0, n, BATCH):
                contexts = load_contexts(store, config, refs[at : at + BATCH], as_of)
                for context in contexts.values():
                    customer = context["customer"]
                    rendered = renderer.render(campaign, step, context)
                    message = build_message(
                        config,
                        campaign,
                        step,
                        rendered,
                        to_email=customer["email"],
                        to_name=customer["name"],
                        send_key=f"{campaign.name}:{step.index}:{customer['customer_id']}:1",
                    )
                    outbox.send(message, config.sender.from_email, customer["email"])
                    sent += 1
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            outbox.close()
        files = sum(1 for _ in (work / "outbox").rglob("*.eml"))
        rate = sent / elapsed
        cpu_rate = sent / cpu if cpu > 0 else float("inf")
        print(f"messages: {sent} rendered and written ({files} .eml files) in {elapsed:.2f}s")
        print(f"throughput: {rate:,.0f} messages/s (contexts + render + build + .eml)")
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
