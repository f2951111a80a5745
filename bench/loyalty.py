"""Benchmark: ``retain loyalty`` over 200,000 customers and 1,000,000 orders.

    .venv/bin/python bench/loyalty.py                        # 1,000,000 orders, 200,000 customers
    .venv/bin/python bench/loyalty.py --orders 50000 --customers 10000 --runs 3   # a quick run
    .venv/bin/python bench/loyalty.py --db /tmp/shop.db      # keep (and reuse) the database

Setup (not timed): the analytics benchmark's orders (bench/analytics.py: repeat buyers over
three years, log-normal amounts, 2% cancelled, 3% partly refunded), imported with retain's
importer; a campaign file with a loyalty section (1 point per EUR, three tiers by spend in the
last 365 days, monthly recalculation, points expiring after 365 days without an order).

Timed, medians of ``--runs`` runs, the contestants alternating:

- ``retain loyalty --as-of 2025-06-30 --format json`` as a subprocess (Python start-up, the
  campaign file, the packed orders, every customer's tier, at-risk flag and points);
- the same in-process (``analytics.loyalty_report.overview``), without start-up;
- the peer: plain pandas, the orders read from the same SQLite file (``order_facts``) with
  ``read_sql``, then a groupby computing the same balances (points per order rounded down,
  streaks broken by a year without an order, the last streak's points if still alive). It
  computes the balances only, not the tiers, and its balances are checked to equal retain's.

Printed: seconds of each (and the CPU seconds of the CLI runs) and the ratios retain / peer
(below 1.0: retain is faster). Target: ``retain loyalty`` in a couple of seconds at most.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

AS_OF = "2025-06-30"
MOMENT = datetime(2025, 6, 30, 23, 59, 59, tzinfo=UTC)
EXPIRY_DAYS = 365
CONFIG = """\
sender:
  from: "Kornblume Bakery <hello@kornblume-backstube.de>"
  address: "Kastanienallee 7, 10435 Berlin"
  unsubscribe: "mailto:unsubscribe@kornblume-backstube.de"
loyalty:
  points_per_unit: 1
  recalculate: monthly
  expiry: 365d
  tiers:
    - {name: Crumb, min_spend: 0}
    - {name: Loaf, min_spend: 100}
    - {name: Golden Crust, min_spend: 300}
campaigns: []
"""


def peer_balances(db: Path) -> dict[int, int]:
    """customer_ref -> points, with pandas alone."""
    import sqlite3

    import numpy as np
    import pandas as pd

    with sqlite3.connect(db) as conn:
        frame = pd.read_sql(
            "SELECT customer_ref, unixepoch(ordered_at) AS t, net_minor FROM order_facts "
            "WHERE customer_ref IS NOT NULL AND unixepoch(ordered_at) <= ?",
            conn,
            params=(int(MOMENT.timestamp()),),
        )
    frame = frame.sort_values(["customer_ref", "t"], kind="stable")
    frame["points"] = np.floor(frame["net_minor"] / 100 + 1e-6).astype("int64")
    gap = frame.groupby("customer_ref")["t"].diff()
    frame["streak"] = (gap.isna() | (gap >= EXPIRY_DAYS * 86400)).astype("int64")
    frame["streak"] = frame.groupby("customer_ref")["streak"].cumsum()
    last = frame.groupby("customer_ref").agg(streak=("streak", "max"), t=("t", "max"))
    alive = last[last["t"] + EXPIRY_DAYS * 86400 > MOMENT.timestamp()]
    current = frame.merge(alive[["streak"]].reset_index(), on=["customer_ref", "streak"])
    points = current.groupby("customer_ref")["points"].sum()
    return {int(k): int(v) for k, v in points.items()}


def retain_balances(db: Path, config: Path) -> dict[int, int]:
    from retain_cli.analytics.loyalty_report import shop_states
    from retain_cli.campaigns.config import load_config
    from retain_cli.store import Store

    program = load_config(config).loyalty
    assert program is not None
    with Store.open(db) as store:
        states = shop_states(store, program, MOMENT)
    return {int(c): int(b) for c, b in zip(states.customer, states.balance, strict=True) if b > 0}


def in_process(db: Path, config: Path) -> None:
    from retain_cli.analytics.loyalty_report import overview
    from retain_cli.campaigns.config import load_config
    from retain_cli.store import Store

    program = load_config(config).loyalty
    assert program is not None
    with Store.open(db) as store:
        overview(store, program, MOMENT)


def cli(db: Path, config: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RETAIN_DB": str(db)}
    args = [sys.executable, "-m", "retain_cli", "loyalty", "--as-of", AS_OF, "-f", "json"]
    done = subprocess.run(
        [*args, "--config", str(config)], env=env, capture_output=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr.decode())


CPU: list[float] = []  # CPU seconds of each CLI run (user + system, the subprocess's)


def timed(action: object, *args: object) -> float:
    before = os.times()
    started = time.perf_counter()
    action(*args)  # type: ignore[operator]
    wall = time.perf_counter() - started
    after = os.times()
    if action is cli:
        CPU.append(
            after.children_user
            + after.children_system
            - before.children_user
            - before.children_system
        )
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, default=None)
    options = parser.parse_args()

    from analytics import setup  # bench/analytics.py

    with tempfile.TemporaryDirectory() as tmp:
        db = options.db or Path(tmp) / "shop.db"
        if not db.exists():
            setup(db, options.orders, options.customers, options.seed)
        config = Path(tmp) / "campaigns.yaml"
        config.write_text(CONFIG, encoding="utf-8")
        cli(db, config)  # warm the packed copy of the orders, as any import would
        mine, theirs = retain_balances(db, config), peer_balances(db)
        assert mine == theirs, "retain and the pandas peer disagree on the balances"
        print(f"balances agree for {len(mine):,} customers with points")
        times: dict[str, list[float]] = {"cli": [], "library": [], "pandas": []}
        for _ in range(options.runs):
            times["cli"].append(timed(cli, db, config))
            times["library"].append(timed(in_process, db, config))
            times["pandas"].append(timed(peer_balances, db))
        median = {name: statistics.median(values) for name, values in times.items()}
        for name, values in times.items():
            shown = ", ".join(f"{v:.2f}" for v in values)
            print(f"{name:8} median {median[name]:.2f} s  ({shown})")
        print(
            f"cli CPU  median {statistics.median(CPU):.2f} s (the machine is shared: wall "
            "seconds include waiting for other processes)"
        )
        print(f"retain loyalty (CLI) / pandas peer: {median['cli'] / median['pandas']:.2f}")
        print(
            f"loyalty overview (library) / pandas peer: {median['library'] / median['pandas']:.2f}"
        )


if __name__ == "__main__":
    main()
