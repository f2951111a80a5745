"""Benchmark: ``retain metrics``, ``retain segments`` and ``retain cohorts`` end to end.

    .venv/bin/python bench/analytics.py                     # 1,000,000 orders, 200,000 customers
    .venv/bin/python bench/analytics.py --orders 50000 --customers 10000      # a quick run
    .venv/bin/python bench/analytics.py --db /tmp/shop.db   # keep (and reuse) the database

Setup (not timed): a generic orders CSV is generated (repeat buyers with a skewed number of
orders over three years, log-normal amounts, 2% cancelled and 3% partly refunded orders) and
imported with retain's importer into a fresh database.

Timed, once each, as a subprocess of the CLI (Python start-up and imports included), with
``--format csv`` to /dev/null:
- ``retain --version``: the start-up floor every command pays;
- ``retain metrics --compare`` right after the import (the import has already packed the
  countable orders into ``analytics_cache``, as every orders import does);
- then ``retain metrics --compare``, ``retain segments`` (rfm; it only reads, snapshots are
  kept by ``retain send``), ``retain segments --scheme lifecycle``, ``retain cohorts``;
- last, for information, ``retain metrics`` after the packed copy was dropped by hand (the
  cost of reading a million orders from SQLite again; users do not meet it, since every
  import refreshes the copy, except on a database made by an older version).

The target is 2 seconds per command; the ratio printed is wall seconds / 2 s (at most 1.0
passes). The CPU seconds of each command are printed too: on a shared machine they show what
the command itself costs when the wall clock includes waiting for the other processes.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RETAIN = ROOT / ".venv" / "bin" / "retain"
TARGET_SECONDS = 2.0
START = np.datetime64("2022-07-01T00:00:00")
SPAN_DAYS = 3 * 365
AS_OF = "2025-06-30"


def generate(path: Path, orders: int, customers: int, seed: int) -> None:
    """Write a generic orders CSV with exactly ``orders`` rows."""
    rng = np.random.default_rng(seed)
    weight = rng.pareto(1.5, customers) + 1.0  # some customers buy far more often
    who = rng.choice(customers, size=orders, p=weight / weight.sum())
    who[:customers] = np.arange(customers)  # everyone orders at least once
    when = START + rng.integers(0, SPAN_DAYS * 86400, orders).astype("timedelta64[s]")
    amount = np.round(rng.lognormal(3.4, 0.6, orders), 2)
    cancelled = rng.random(orders) < 0.02
    refunded = np.where(rng.random(orders) < 0.03, np.round(amount * 0.5, 2), 0.0)
    stamps = np.datetime_as_string(when, unit="s")
    with path.open("w", encoding="utf-8") as out:
        out.write("order_id,email,date,amount,currency,refunded,cancelled at\n")
        lines = [
            f"B{i},c{who[i]}@example.com,{stamps[i]}Z,{amount[i]:.2f},EUR,{refunded[i]:.2f},"
            f"{stamps[i] + 'Z' if cancelled[i] else ''}\n"
            for i in range(orders)
        ]
        out.writelines(lines)


def setup(db: Path, orders: int, customers: int, seed: int) -> None:
    from retain_cli.imports import ImportOptions, import_file
    from retain_cli.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "orders.csv"
        started = time.perf_counter()
        generate(csv_path, orders, customers, seed)
        print(f"generated {orders:,} orders in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        with Store.open(db) as store:
            result = import_file(store, csv_path, "orders", ImportOptions())
        print(
            f"imported {result.inserted:,} orders ({result.rejected} rejected) "
            f"in {time.perf_counter() - started:.1f} s"
        )


def timed(db: Path, *args: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child): on a busy machine the CPU time shows what
    the command itself costs."""
    command = [str(RETAIN), "--db", str(db), *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed: {done.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, help="database to use (created if missing)")
    options = parser.parse_args()
    if options.customers > options.orders:
        parser.error("--customers must not exceed --orders")

    with tempfile.TemporaryDirectory() as tmp:
        db = options.db or Path(tmp) / "bench.db"
        if not db.exists():
            setup(db, options.orders, options.customers, options.seed)
        else:
            print(f"reusing {db}")
        as_of = ("--as-of", AS_OF)
        csv = ("--format", "csv")
        runs = [
            ("retain --version (start-up floor)", ("--version",)),
            ("metrics --compare (first after import)", ("metrics", "--compare", *as_of, *csv)),
            ("metrics --compare", ("metrics", "--compare", *as_of, *csv)),
            ("segments (rfm)", ("segments", *as_of, *csv)),
            ("segments --scheme lifecycle", ("segments", "--scheme", "lifecycle", *as_of, *csv)),
            ("cohorts", ("cohorts", *as_of, *csv)),
            # not a case users meet (every orders import refreshes the packed copy): the cost
            # of re-reading a million orders, e.g. the first run on a database made by an
            # older version
            ("metrics, packed copy dropped by hand", ("metrics", "--compare", *as_of, *csv)),
        ]
        print(f"load average before the runs: {os.getloadavg()[0]:.2f} (2 cores)")
        print(f"\n{'command':<42} {'wall s':>7} {'cpu s':>6} {'wall/2s':>8}")
        for label, args in runs:
            if "dropped by hand" in label:
                clear_cache(db)
            seconds, cpu = timed(db, *args)
            if args == ("--version",):
                print(f"{label:<42} {seconds:>7.2f} {cpu:>6.2f}")
                continue
            verdict = "" if seconds <= TARGET_SECONDS else "  over"
            print(
                f"{label:<42} {seconds:>7.2f} {cpu:>6.2f} {seconds / TARGET_SECONDS:>8.2f}{verdict}"
            )


def clear_cache(db: Path) -> None:
    """Drop the packed copy so the next command reads the orders from SQLite."""
    from retain_cli.store import Store

    with Store.open(db) as store:
        store.clear_cached_blobs()


if __name__ == "__main__":
    main()
