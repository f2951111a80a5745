"""Benchmark: ``retain import orders`` against pandas and sqlite-utils on the same CSV.

Generates a generic orders CSV (order_id,email,date,amount; ROWS rows, ROWS/5 customers),
then times, each as a separate process, end to end:

* ``retain --db X import orders FILE --currency USD --quiet --format json`` (the CLI, fresh
  database; the file names no currency, as a plain spreadsheet does);
* ``pandas.read_csv(FILE)`` + ``DataFrame.to_sql`` into a fresh SQLite file (the peer);
* ``sqlite-utils insert X orders FILE --csv`` on the first SUBSET rows, scaled linearly to
  ROWS (it takes ~47 s on a million rows, so by default it is measured on a subset).

It prints the times, the ratios (targets: retain/pandas <= 1.0, sqlite-utils/retain >= 15)
and retain's peak memory (target < 500 MB), measured with getrusage(RUSAGE_CHILDREN) in a
small wrapper process around each command. For scale it also prints SQLite's own share: the
time retain's store takes to write the same customers and orders (with the orders' index and
the commit) from ready-made Python lists, nothing parsed.

Not part of the tests. Run once, not in a loop:

    .venv/bin/python bench/import_orders.py                 # 1,000,000 rows
    .venv/bin/python bench/import_orders.py --rows 100000   # quick
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
PACKAGE = Path(__file__).resolve().parent.parent / "retain_cli"

# runs one command and reports its wall time and peak RSS (KB) as JSON on stdout
WRAPPER = r"""
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
seconds = time.perf_counter() - start
if done.returncode:
    sys.stderr.write(done.stderr.decode())
    sys.exit(done.returncode)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = usage.ru_utime + usage.ru_stime
print(json.dumps({"seconds": seconds, "peak_kb": usage.ru_maxrss, "cpu": cpu}))
"""

PANDAS = r"""
import sqlite3, sys
import pandas as pd
frame = pd.read_csv(sys.argv[1])
conn = sqlite3.connect(sys.argv[2])
frame.to_sql("orders", conn, index=False)
conn.commit()
conn.close()
"""

# SQLite's own share: the rows retain writes (customers, orders, the orders' index, the
# commit) through retain's store, from Python lists made before the clock starts
FLOOR = r"""
import gc, json, sys, time
import pyarrow.csv as pacsv
from retain_cli.store import Store

columns = pacsv.read_csv(sys.argv[1]).to_pydict()
emails = sorted(set(columns["email"]))
refs = {email: number for number, email in enumerate(emails, start=1)}
orders = {
    "order_id": columns["order_id"],
    "customer_ref": [refs[email] for email in columns["email"]],
    "ordered_at": [f"{day}T00:00:00Z" for day in columns["date"]],
    "total_minor": [round(amount * 100) for amount in columns["amount"]],
}
store = Store.open(sys.argv[2])
gc.disable()  # as during an import
start = time.perf_counter()
with store.import_transaction(bulk=True):
    import_ref = store.start_import("orders", "generic_orders", "orders.csv", "-")
    store.insert_customers([(e, e, None, None, None) for e in emails], "generic_orders")
    with store.orders_bulk_load(True):
        for at in range(0, len(orders["order_id"]), 50_000):
            chunk = {name: values[at : at + 50_000] for name, values in orders.items()}
            store.insert_orders(chunk, import_ref, "generic_orders", "generic:")
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def generate(path: Path, rows: int, customers: int, seed: int = 42) -> None:
    """Orders in time order (ids and dates ascending), customers drawn at random."""
    rnd = random.Random(seed)
    start = dt.date(2022, 1, 1)
    days = 1000
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("order_id,email,date,amount\n")
        for i in range(rows):
            day = start + dt.timedelta(days=i * days // rows)
            customer = rnd.randrange(customers)
            cents = rnd.randrange(500, 30000)
            handle.write(
                f"A-{1_000_000 + i},customer{customer}@example.com,{day.isoformat()},"
                f"{cents // 100}.{cents % 100:02d}\n"
            )


def head(source: Path, target: Path, rows: int) -> None:
    with source.open(encoding="utf-8") as src, target.open("w", encoding="utf-8") as dst:
        for number, line in enumerate(src):
            if number > rows:
                break
            dst.write(line)


def measure(command: list[str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *command], capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=None, help="default: rows / 5")
    parser.add_argument(
        "--sqlite-utils-rows",
        type=int,
        default=100_000,
        help="measure sqlite-utils on this many rows and scale (0: skip it)",
    )
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: temp)")
    args = parser.parse_args()
    customers = args.customers or max(1, args.rows // 5)

    # as installed: pip compiles a package's modules when it installs it, but an editable
    # install under PYTHONDONTWRITEBYTECODE=1 would compile retain's on every run
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(PACKAGE)], check=True)
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        work = Path(folder)
        csv_file = work / "orders.csv"
        generate(csv_file, args.rows, customers)
        size_mb = csv_file.stat().st_size / 1e6
        print(f"orders CSV: {args.rows:,} rows, {customers:,} customers, {size_mb:.1f} MB")

        retain = measure(
            [str(VENV_BIN / "retain"), "--db", str(work / "retain.db"), "import", "orders",
             str(csv_file), "--currency", "USD", "--quiet", "--format", "json"]
        )  # fmt: skip
        pandas = measure([sys.executable, "-c", PANDAS, str(csv_file), str(work / "pandas.db")])

        print(f"retain import orders      {retain['seconds']:8.2f} s"
              f"   peak {retain['peak_kb'] / 1024:6.0f} MB"
              f"   cpu {retain['cpu']:6.2f} s")  # fmt: skip
        print(f"pandas read_csv + to_sql  {pandas['seconds']:8.2f} s"
              f"   peak {pandas['peak_kb'] / 1024:6.0f} MB"
              f"   cpu {pandas['cpu']:6.2f} s")  # fmt: skip

        ratio = retain["seconds"] / pandas["seconds"]
        print(f"ratio retain / pandas            {ratio:6.2f}  (target <= 1.0: "
              f"{'met' if ratio <= 1.0 else 'NOT met'}; cpu time ratio "
              f"{retain['cpu'] / pandas['cpu']:.2f}, steadier on a busy machine)")  # fmt: skip
        floor = subprocess.run(
            [sys.executable, "-c", FLOOR, str(csv_file), str(work / "floor.db")],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        floor_seconds = json.loads(floor.stdout)["seconds"]
        print(f"  of which SQLite alone       {floor_seconds:6.2f} s (writing the same rows, "
              f"index and commit through retain's store, nothing parsed: "
              f"{floor_seconds / pandas['seconds']:.2f} of the pandas time)")  # fmt: skip
        if args.sqlite_utils_rows:
            subset_rows = min(args.sqlite_utils_rows, args.rows)
            subset = work / "subset.csv"
            head(csv_file, subset, subset_rows)
            tool = measure(
                [str(VENV_BIN / "sqlite-utils"), "insert", str(work / "su.db"), "orders",
                 str(subset), "--csv"]
            )  # fmt: skip
            scaled = tool["seconds"] * args.rows / subset_rows
            note = (
                f"measured on {subset_rows:,} rows ({tool['seconds']:.2f} s), scaled linearly"
                if subset_rows < args.rows
                else "measured on all rows"
            )
            print(f"sqlite-utils insert --csv {scaled:8.2f} s   ({note})")
            speedup = scaled / retain["seconds"]
            print(f"speed-up retain vs sqlite-utils  {speedup:6.1f}x (target >= 15x: "
                  f"{'met' if speedup >= 15 else 'NOT met'})")  # fmt: skip
        peak_mb = retain["peak_kb"] / 1024
        print(f"retain peak memory          {peak_mb:6.0f} MB (target < 500 MB: "
              f"{'met' if peak_mb < 500 else 'NOT met'})")  # fmt: skip


if __name__ == "__main__":
    main()
