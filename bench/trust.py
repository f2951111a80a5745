"""Benchmark: ``retain explain CUSTOMER``, ``retain customers erase`` and ``retain audit
fairness`` end to end, on 1,000,000 orders and 200,000 customers.

    .venv/bin/python bench/trust.py                      # 1,000,000 orders, 200,000 customers
    .venv/bin/python bench/trust.py --orders 50000 --customers 10000        # a quick run
    .venv/bin/python bench/trust.py --db /tmp/shop.db    # keep (and reuse) the database

Setup (not timed): the analytics benchmark's orders CSV (bench/analytics.py: repeat buyers,
log-normal amounts, 2% cancelled, 3% partly refunded) imported with retain's importer; then
each customer gets a country and a city (8 and 40 values), one in eight a birthday, half of
them marketing consent, and the send ledger 60,000 sent messages over three campaigns and
6,000 held out, written straight into the store. The campaign file is the example one
(campaigns.example.yaml, its templates), with the outbox transport.

Timed, as subprocesses of the CLI (Python start-up and imports included):
- ``retain explain cN@example.com`` for five customers: the first run on the database fits
  the prediction models and keeps the fit and the purchase-day summary (the "cold" figure),
  the others reuse them; the shop has no segment snapshot yet (as before its first send);
- ``retain customers erase cN@example.com --yes`` for five other customers;
- ``retain audit fairness --by country`` and ``--by 'age band'``.
Targets: explain < 1 s, erase < 0.5 s, fairness < 2 s; the last lines print the medians of
the warm explanations and of the erasures. Each line prints seconds / target
(at most 1.0 passes) and the child's CPU seconds (on a shared machine the CPU time shows what
the command itself costs when the wall clock includes waiting for other processes).
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from analytics import setup  # noqa: E402

RETAIN = [sys.executable, "-m", "retain_cli"]
AS_OF = "2025-06-30"
NOW = "2025-06-30T10:00"
TARGETS = {"explain": 1.0, "erase": 0.5, "fairness": 2.0}
COUNTRIES = ["DE", "AT", "CH", "FR", "NL", "BE", "DK", "PL"]


def enrich(db: Path, seed: int) -> None:
    """Countries, cities, birthdays, consent and a send ledger, straight into the store."""
    from retain_cli.store import Store

    rng = np.random.default_rng(seed)
    with Store.open(db) as store:
        refs = store.customer_refs()
        n = len(refs)
        country = rng.choice(COUNTRIES, n, p=[0.5, 0.15, 0.1, 0.08, 0.07, 0.05, 0.03, 0.02])
        city = rng.integers(0, 40, n)
        year = rng.integers(1950, 2006, n)
        has_birthday = rng.random(n) < 0.125
        consent = (rng.random(n) < 0.5).astype(int)
        rows = [
            (
                str(country[i]),
                f"City {city[i]}",
                f"{year[i]}-{1 + i % 12:02d}-{1 + i % 28:02d}" if has_birthday[i] else None,
                int(consent[i]),
                refs[i],
            )
            for i in range(n)
        ]
        with store.transaction() as conn:
            conn.executemany(
                "UPDATE customers SET country = ?, city = ?, birthday = ?, "
                "accepts_marketing = ? WHERE id = ?",
                rows,
            )
            emails = dict(conn.execute("SELECT id, email FROM customers").fetchall())
            sent = rng.choice(refs, 66_000, replace=False)
            campaigns = ["win-back", "thank-you", "birthday"]
            ledger = []
            for k, ref in enumerate(sent.tolist()):
                campaign = campaigns[k % 3]
                day = 1 + k % 28
                held = k >= 60_000
                ledger.append(
                    (
                        f"{campaign}:1:{ref}:1",
                        campaign,
                        ref,
                        emails[ref],
                        "held_out" if held else "sent",
                        f"2025-05-{day:02d}T07:00:00Z",
                        None if held else f"2025-05-{day:02d}T07:00:05Z",
                    )
                )
            conn.executemany(
                "INSERT INTO sends (send_key, campaign, step, customer_ref, occurrence, email, "
                "state, planned_at, sent_at, updated_at) VALUES (?, ?, 1, ?, '1', ?, ?, ?, ?, ?)",
                [(*row, row[5]) for row in ledger],
            )


def shop_folder(folder: Path) -> Path:
    config = folder / "campaigns.yaml"
    shutil.copy(ROOT / "campaigns.example.yaml", config)
    shutil.copytree(ROOT / "templates", folder / "templates", dirs_exist_ok=True)
    return config


def timed(db: Path, *args: str) -> tuple[float, float]:
    command = [*RETAIN, "--db", str(db), *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False, env=env
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed: {done.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu


def report(label: str, kind: str, seconds: float, cpu: float) -> None:
    ratio = seconds / TARGETS[kind]
    verdict = "" if ratio <= 1.0 else "  over"
    print(f"{label:<44} {seconds:>7.2f} {cpu:>6.2f} {ratio:>8.2f}{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, help="database to use (created if missing)")
    options = parser.parse_args()

    # an installed retain has its bytecode compiled (pip does it); without it (a checkout
    # run with PYTHONDONTWRITEBYTECODE) every start compiles retain's modules again
    compileall.compile_dir(ROOT / "retain_cli", quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = options.db or folder / "bench.db"
        if not db.exists():
            setup(db, options.orders, options.customers, options.seed)
            started = time.perf_counter()
            enrich(db, options.seed)
            print(f"countries, consent, ledger rows in {time.perf_counter() - started:.1f} s")
        else:
            print(f"reusing {db}")
        config = shop_folder(folder)
        common = ("--config", str(config), "--now", NOW)
        print(f"load average before the runs: {os.getloadavg()[0]:.2f} (2 cores)")
        print(f"\n{'command':<44} {'wall s':>7} {'cpu s':>6} {'/target':>8}")
        warm: list[tuple[float, float]] = []
        for k, who in enumerate((101, 2_002, 30_003, 77_777, 150_000)):
            seconds, cpu = timed(db, "explain", f"c{who % options.customers}@example.com", *common)
            label = "explain (cold: fits the models)" if k == 0 else f"explain c{who}"
            report(label, "explain", seconds, cpu)
            if k:
                warm.append((seconds, cpu))
        erased: list[tuple[float, float]] = []
        for who in (11, 22_222, 55_555, 99_999, 177_777):
            address = f"c{who % options.customers}@example.com"
            seconds, cpu = timed(db, "customers", "erase", address, "--yes")
            report(f"customers erase c{who}", "erase", seconds, cpu)
            erased.append((seconds, cpu))
        for by in ("country", "age band", "city"):
            seconds, cpu = timed(
                db, "audit", "fairness", "--by", by, "--config", str(config), "--as-of", AS_OF
            )
            report(f"audit fairness --by {by}", "fairness", seconds, cpu)
        seconds, cpu = timed(db, "--version")
        print(f"{'retain --version (start-up floor)':<44} {seconds:>7.2f} {cpu:>6.2f}")
        for label, kind, runs in (("explain", "explain", warm), ("erase", "erase", erased)):
            wall = statistics.median(s for s, _ in runs)
            report(
                f"median {label} ({len(runs)} customers)",
                kind,
                wall,
                statistics.median(c for _, c in runs),
            )


if __name__ == "__main__":
    main()
