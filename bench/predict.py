"""Benchmark: the whole ``retain predict`` against a plain pandas summary table.

    .venv/bin/python bench/predict.py                      # 1,000,000 orders, 200,000 customers
    .venv/bin/python bench/predict.py --orders 50000 --customers 10000     # a quick run

Setup (not timed): a generic orders CSV is generated with BG/NBD behaviour (purchase rate
~ Gamma, drop-out after each purchase ~ Beta) and Gamma-Gamma order values, and imported with
retain's importer into a fresh database.

Timed, once each:
- retain: ``retain predict --format csv > /dev/null`` as a subprocess (Python start-up,
  imports, the summary, both fits, the predictions and the CSV), first as imported (no packed
  copy of the orders yet), then again after ``retain metrics`` has packed the orders;
- peer: the lifetimes-style summary table alone (frequency, recency, T, monetary_value per
  customer) with pandas: read the same countable orders from SQLite (``pd.read_sql_query``),
  group by customer and day, then by customer. pandas is imported before the clock starts.

Prints wall-clock and CPU times (CPU of all threads; the wall clock depends on whatever else
the machine is doing), the ratios retain / peer (below 1.0: retain is faster), and checks that
the two summaries agree. ``--dir D --reuse`` keeps the imported database between runs.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RETAIN = ROOT / ".venv" / "bin" / "retain"
START = date(2023, 1, 1)
SPAN_DAYS = 730
# BG/NBD and Gamma-Gamma parameters of the generated shop (days; order values in dollars)
R, ALPHA, A, B = 0.9, 38.0, 0.7, 3.0
P, Q, V = 6.0, 4.0, 20.0


def generate(customers: int, orders: int, seed: int) -> tuple[np.ndarray, ...]:
    """(customer index, day index, amount) per order; exactly ``orders`` rows when the
    simulation gives at least that many (extra repeat orders are dropped at random)."""
    rng = np.random.default_rng(seed)
    first = rng.integers(0, SPAN_DAYS, customers)
    horizon = SPAN_DAYS - 1 - first
    rate = rng.gamma(R, 1.0 / ALPHA, customers)
    drop = rng.beta(A, B, customers)
    who = [np.arange(customers)]
    when = [first.astype(np.float64)]
    last = np.zeros(customers)
    alive = np.ones(customers, dtype=bool)
    while alive.any():
        nxt = last + rng.exponential(1.0 / rate)
        buys = alive & (nxt <= horizon)
        idx = np.flatnonzero(buys)
        who.append(idx)
        when.append(first[idx] + nxt[idx])
        last = np.where(buys, nxt, last)
        alive = buys & (rng.random(customers) >= drop)
    customer = np.concatenate(who)
    day = np.floor(np.concatenate(when)).astype(np.int64)
    if len(customer) > orders:
        repeat = np.arange(customers, len(customer))
        keep = np.r_[np.arange(customers), rng.choice(repeat, orders - customers, replace=False)]
        keep.sort()
        customer, day = customer[keep], day[keep]
    scale = rng.gamma(Q, 1.0 / V, customers)  # nu per customer
    amount = np.round(rng.gamma(P, 1.0 / scale[customer]), 2) + 0.01
    return customer, day, amount


def write_csv(path: Path, customer: np.ndarray, day: np.ndarray, amount: np.ndarray) -> None:
    import pandas as pd

    dates = np.datetime64(START.isoformat()) + day.astype("timedelta64[D]")
    frame = pd.DataFrame(
        {
            "order_id": np.char.add("B", np.arange(1, len(customer) + 1).astype(str)),
            "email": np.char.add(np.char.add("c", customer.astype(str)), "@bench.example"),
            "date": np.datetime_as_string(dates, unit="D"),
            "amount": np.char.mod("%.2f", amount),
        }
    )
    frame.to_csv(path, index=False)


def import_orders(db: Path, csv_path: Path) -> None:
    from retain_cli.imports import ImportOptions, import_file
    from retain_cli.store import Store

    with Store.open(db) as store:
        import_file(store, csv_path, "orders", ImportOptions(currency="USD"))


def peer_summary(db: Path, as_of: date):
    """The lifetimes-style summary with plain pandas (pandas already imported)."""
    import sqlite3

    import pandas as pd

    conn = sqlite3.connect(db)
    # "+ordered_at" gives the peer the same plan retain uses (a table scan, not a million
    # index lookups, which take several times longer)
    orders = pd.read_sql_query(
        "SELECT customer_ref, order_day, net_minor FROM order_facts WHERE +ordered_at <= ?",
        conn,
        params=(f"{as_of.isoformat()}T23:59:59Z",),
    )
    conn.close()
    orders["day"] = pd.to_datetime(orders["order_day"], format="%Y-%m-%d")
    days = orders.groupby(["customer_ref", "day"])["net_minor"].sum().reset_index()
    per_customer = days.groupby("customer_ref")
    first_day = per_customer["day"].transform("min")
    repeat = days[days["day"] > first_day].groupby("customer_ref")["net_minor"].mean()
    summary = pd.DataFrame(
        {
            "first": per_customer["day"].min(),
            "last": per_customer["day"].max(),
            "n": per_customer.size(),
        }
    )
    summary["frequency"] = summary["n"] - 1
    summary["recency"] = (summary["last"] - summary["first"]).dt.days
    summary["T"] = (pd.Timestamp(as_of) - summary["first"]).dt.days
    summary["monetary_value"] = repeat.reindex(summary.index).fillna(0.0) / 100
    return summary[["frequency", "recency", "T", "monetary_value"]]


def run_retain(db: Path, as_of: date) -> tuple[float, float]:
    """Wall and CPU seconds (all threads) of ``retain predict --format csv > /dev/null``."""
    command = [str(RETAIN), "--db", str(db), "predict", "--as-of", as_of.isoformat()]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([*command, "--format", "csv"], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def check_agreement(db: Path, as_of: date, peer) -> str:
    from retain_cli.analytics.predict import load_summary
    from retain_cli.store import Store
    from retain_cli.timeutil import parse_as_of

    with Store.open(db, create=False) as store:
        ours = load_summary(store, parse_as_of(as_of.isoformat()), "day")
    peer = peer.loc[ours.customer_ref]
    for column in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(getattr(ours, column), peer[column].to_numpy(), atol=1e-6)
    return f"summaries agree on {len(ours):,} customers"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="reuse the database imported by an earlier run in --dir",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = args.dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        imported = work / f"bench_predict_{args.orders}_{args.customers}_{args.seed}.db"
        db = work / "bench_predict_run.db"
        started = time.perf_counter()
        if not (args.reuse and imported.exists()):
            imported.unlink(missing_ok=True)
            csv_path = work / "bench_predict_orders.csv"
            customer, day, amount = generate(args.customers, args.orders, args.seed)
            write_csv(csv_path, customer, day, amount)
            import_orders(imported, csv_path)
        as_of = last_order_day(imported)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        shutil.copy(imported, db)
        print(
            f"setup: {count_orders(db):,} orders, {args.customers:,} customers, as of {as_of} "
            f"({time.perf_counter() - started:.1f} s, not timed)"
        )

        import pandas  # noqa: F401  (the peer's import is not timed)

        started, cpu = time.perf_counter(), time.process_time()
        peer = peer_summary(db, as_of)
        peer_wall, peer_cpu = time.perf_counter() - started, time.process_time() - cpu
        print(
            f"peer   pandas summary table alone           {peer_wall:6.2f} s  cpu {peer_cpu:.2f} s"
        )
        cold, cold_cpu = run_retain(db, as_of)
        print(f"retain predict, orders as imported          {cold:6.2f} s  cpu {cold_cpu:.2f} s")
        subprocess.run(
            [str(RETAIN), "--db", str(db), "metrics", "--format", "json"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        warm, warm_cpu = run_retain(db, as_of)
        print(f"retain predict, after metrics packed orders {warm:6.2f} s  cpu {warm_cpu:.2f} s")
        print(
            f"ratio retain / peer, wall: {cold / peer_wall:.2f} as imported, "
            f"{warm / peer_wall:.2f} packed; "
            f"cpu: {cold_cpu / peer_cpu:.2f}, {warm_cpu / peer_cpu:.2f}"
        )
        print(check_agreement(db, as_of, peer))


def last_order_day(db: Path) -> date:
    from retain_cli.store import Store

    with Store.open(db, create=False) as store:
        day = store.predict_last_order_day()
    assert day is not None
    return date.fromisoformat(day)


def count_orders(db: Path) -> int:
    from retain_cli.store import Store

    with Store.open(db, create=False) as store:
        return len(store.predict_order_days("9999-12-31T23:59:59Z"))


if __name__ == "__main__":
    sys.exit(main())
