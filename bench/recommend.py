"""Benchmark: products, recommendations and replenishment on a big shop.

    .venv/bin/python bench/recommend.py                    # 1,000,000 orders, 3,000,000 lines
    .venv/bin/python bench/recommend.py --db /tmp/rec.db   # keep (and reuse) the database
    .venv/bin/python bench/recommend.py --orders 100000 --lines 300000   # a quick run

Setup (not timed): 200,000 customers (a few buy far more often), 1,000,000 orders over three
years, 3,000,000 order lines of 2,000 products (popularity falling off as a power law; in 30%
of orders the second line is the first line's partner product, so there are pairs to find),
written straight into a retain database.

Timed:
1. building the product model (co-purchase table: support, confidence, lift; repurchase
   intervals; best sellers) from the order lines, in-process: reading the lines and orders
   from SQLite and the numpy/scipy.sparse work, median of 3 runs; target 5 s. Also one cold
   ``retain products`` (a subprocess, with the packed model dropped first).
2. ``retain recommend CUSTOMER`` end to end as a subprocess (Python start-up included; the
   model packed by step 1), 5 customers, median; target 0.5 s.
3. rendering 10,000 messages through ``send.message_builder`` (contexts per batch of 50,
   render, build the e-mail; no ledger, no transport) for a template that calls
   ``recommendations(3)`` and for the same template without it: 3 runs each, alternating,
   medians; target: with >= 0.8 x the messages per second of without.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retain_cli.store import Store  # noqa: E402

RETAIN = [sys.executable, "-m", "retain_cli"]
START = 1656633600  # 2022-07-01
AS_OF = datetime(2025, 7, 1, tzinfo=UTC)

CAMPAIGNS = """\
sender:
  from: "Kornblume Bakery <hello@kornblume-backstube.de>"
  address: "Kastanienallee 7, 10435 Berlin"
  unsubscribe: "mailto:unsubscribe@kornblume-backstube.de"
transport: {type: outbox, outbox: outbox}
limits: {batch_size: 50}
campaigns:
  - name: plain
    audience: all
    subject: "Thank you, {{ customer.first_name | default('friend') }}"
    template: plain.txt.j2
  - name: suggest
    audience: all
    subject: "Thank you, {{ customer.first_name | default('friend') }}"
    template: suggest.txt.j2
"""
BODY = """\
Hi {{ customer.first_name | default('there') }},

thank you for your {{ metrics.orders }} orders since {{ customer.since | date('MMMM y') }}.
{% if last_order %}Your last order {{ last_order.order_id }} of {{ last_order.ordered_at | date }}:
{% for item in last_order.items %}  {{ item.quantity }} x {{ item.name }}
{% endfor %}{% endif %}
"""
SUGGEST = """{% set picks = recommendations(3) %}{% if picks %}
Goes well with what you bought:
{% for p in picks %}  {{ p.name }} ({{ (p.confidence * 100) | round | int }}% of the orders with \
{{ p.because }} had it too)
{% endfor %}{% endif %}
"""


def make_db(path: Path, orders: int, lines: int, products: int, customers: int) -> None:
    rng = np.random.default_rng(7)
    with Store.open(path, create=True) as store:
        conn = store.conn
        now = "2025-06-30T00:00:00Z"
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO customers (id, customer_id, email, first_name, accepts_marketing, "
            "source, created_at, updated_at) VALUES (?, ?, ?, ?, 1, 'bench', ?, ?)",
            (
                (i, f"c{i}", f"c{i}@example.com", f"Name{i}", now, now)
                for i in range(1, customers + 1)
            ),
        )
        weight = rng.pareto(1.5, customers) + 1.0
        who = rng.choice(customers, size=orders, p=weight / weight.sum()) + 1
        who[:customers] = np.arange(1, customers + 1)
        seconds = np.sort(rng.integers(0, 3 * 365 * 86400, orders)) + START
        stamps = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")
        conn.executemany(
            "INSERT INTO orders (id, order_key, source, order_id, customer_ref, ordered_at, "
            "currency, total_minor) VALUES (?, ?, 'bench', ?, ?, ?, 'EUR', 2500)",
            (
                (i + 1, f"b:{i + 1}", f"#{i + 1}", int(who[i]), f"{stamps[i]}Z")
                for i in range(orders)
            ),
        )
        per = np.full(orders, lines // orders)
        per[rng.choice(orders, lines - int(per.sum()), replace=False)] += 1
        order_of = np.repeat(np.arange(1, orders + 1), per)
        popularity = 1.0 / np.arange(1, products + 1) ** 0.9
        product = rng.choice(products, size=lines, p=popularity / popularity.sum())
        first = np.r_[0, np.cumsum(per)[:-1]]
        has_second = per >= 2
        partner = has_second & (rng.random(orders) < 0.3)
        product[first[partner] + 1] = (product[first[partner]] + 1) % products
        line_no = np.arange(lines) - np.repeat(first, per) + 1
        names = [f"Product {i:04d}" for i in range(products)]
        conn.executemany(
            "INSERT OR IGNORE INTO order_items (order_ref, line_no, sku, name, quantity, "
            "price_minor) VALUES (?, ?, ?, ?, 1, 500)",
            (
                (int(o), int(n), f"P{p:04d}", names[p])
                for o, n, p in zip(order_of, line_no, product, strict=True)
            ),
        )
        conn.execute("COMMIT")


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(args: list[str], db: Path, cwd: Path) -> tuple[float, float]:
    env = {**os.environ, "RETAIN_DB": str(db), "PYTHONPATH": str(ROOT), "COLUMNS": "80"}
    cpu = child_cpu()
    started = time.perf_counter()
    done = subprocess.run([*RETAIN, *args], env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{args}: {done.stderr}")
    return wall, child_cpu() - cpu


def bench_build(db: Path, runs: int) -> list[float]:
    from retain_cli.products.model import build_model

    times, cpus = [], []
    with Store.open(db) as store:
        for _ in range(runs):
            started, cpu = time.perf_counter(), time.process_time()
            model = build_model(*store.product_line_arrays())
            times.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
    print(f"build CPU (both threads): median {statistics.median(cpus):.2f} s")
    pairs = sum(len(v) for v in model.pairs.values())
    intervals = sum(g is not None for g in model.gap_days)
    print(
        f"model: {len(model):,} products, {model.baskets:,} baskets, {pairs:,} pairs kept, "
        f"{intervals:,} products with a repurchase interval"
    )
    return times


def bench_render(db: Path, work: Path, n: int, runs: int) -> tuple[list[float], list[float]]:
    from retain_cli.campaigns.config import load_config
    from retain_cli.campaigns.send import message_builder
    from retain_cli.store.ledger import LedgerRow

    (work / "campaigns.yaml").write_text(CAMPAIGNS)
    (work / "plain.txt.j2").write_text(BODY)
    (work / "suggest.txt.j2").write_text(BODY + SUGGEST)
    config = load_config(work / "campaigns.yaml")
    rates: dict[str, list[float]] = {"plain": [], "suggest": []}
    cpu_rates: dict[str, list[float]] = {"plain": [], "suggest": []}
    suggested = 0
    with Store.open(db) as store:
        for _ in range(runs):
            for name in ("plain", "suggest"):
                rows = [
                    LedgerRow(
                        ref,
                        f"{name}:1:c{ref}:1",
                        name,
                        1,
                        ref,
                        "1",
                        f"c{ref}@example.com",
                        "planned",
                        0,
                    )
                    for ref in range(1, n + 1)
                ]
                started, cpu = time.perf_counter(), time.process_time()
                build = message_builder(store, config, AS_OF)
                for at in range(0, n, 50):
                    batch = rows[at : at + 50]
                    messages = build(batch)
                    for row in batch:
                        message = messages[row.id]
                        if not isinstance(message, EmailMessage):
                            raise SystemExit(f"{row.send_key}: {message}")
                        if name == "suggest" and "Goes well" in message.as_string():
                            suggested += 1
                rates[name].append(n / (time.perf_counter() - started))
                cpu_rates[name].append(n / (time.process_time() - cpu))
    print(f"render: {suggested // runs:,} of {n:,} messages with suggestions")
    plain, suggest = (statistics.median(cpu_rates[k]) for k in ("plain", "suggest"))
    print(f"render CPU: without {plain:,.0f}/s, with {suggest:,.0f}/s; ratio {suggest / plain:.2f}")
    return rates["plain"], rates["suggest"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=3_000_000)
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="retain-bench-recommend-"))
    db = args.db or work / "bench.db"
    if not db.exists():
        started = time.perf_counter()
        make_db(db, args.orders, args.lines, args.products, args.customers)
        took = time.perf_counter() - started
        print(f"setup: {args.orders:,} orders, {args.lines:,} lines in {took:.0f} s")

    times = bench_build(db, args.runs)
    build = statistics.median(times)
    print(
        f"build (in-process): median {build:.2f} s of {', '.join(f'{t:.2f}' for t in times)}; "
        f"ratio to the 5 s target {build / 5:.2f} (<= 1.0 passes)"
    )
    with Store.open(db) as store:
        store.conn.execute("DELETE FROM analytics_cache WHERE name = 'products'")
    wall, cpu = run(["products", "--limit", "5"], db, work)
    print(f"retain products, cold (builds and packs the model): {wall:.2f} s wall, {cpu:.2f} s CPU")

    walls, cpus = [], []
    for customer in ("c17", "c1000", "c54321", "c99999", "c150000"):
        wall, cpu = run(["recommend", customer], db, work)
        walls.append(wall)
        cpus.append(cpu)
    recommend = statistics.median(walls)
    print(
        f"retain recommend: median {recommend:.2f} s wall ({statistics.median(cpus):.2f} s CPU) "
        f"of {', '.join(f'{t:.2f}' for t in walls)}; ratio to the 0.5 s target "
        f"{recommend / 0.5:.2f} (<= 1.0 passes)"
    )
    wall, _ = run(["--version"], db, work)
    print(f"  (retain --version, the start-up floor: {wall:.2f} s)")

    plain, suggest = bench_render(db, work, args.messages, args.runs)
    ratio = statistics.median(suggest) / statistics.median(plain)
    print(
        f"render {args.messages:,} messages: without {statistics.median(plain):,.0f}/s, with "
        f"recommendations(3) {statistics.median(suggest):,.0f}/s; ratio {ratio:.2f} "
        f"(>= 0.8 passes)"
    )


if __name__ == "__main__":
    main()
