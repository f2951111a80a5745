"""Benchmark: ``retain report program`` (the program holdout against everyone else).

    .venv/bin/python bench/program.py                       # 1,000,000 orders, 200,000 customers
    .venv/bin/python bench/program.py --orders 50000 --customers 10000   # quick
    .venv/bin/python bench/program.py --db /tmp/program.db  # keep (and reuse) the database

Setup (not timed): the analytics benchmark's orders (bench/analytics.py: a generic CSV of
repeat buyers over three years, imported with retain's importer), the size of
bench/report.py. Then, timed once as a subprocess: ``retain config set program_holdout 5%``
at 2025-01-01 (RETAIN_NOW), which draws and records every customer.

Timed, as subprocesses of the CLI (Python start-up included), alternating with the peer:
- ``retain report program --from 2025-01-01 --to 2025-06-30`` as a table (COLUMNS=80) and as
  JSON, against the target of 2 s (ratio = median wall seconds / 2; at most 1.0 passes);
- the peer: ``retain metrics --period quarter`` on the same database, which loads the same
  packed orders and computes a period's figures (ratio = report / metrics, medians).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from analytics import setup  # the same orders as bench/analytics.py and bench/report.py
from report import timed  # a subprocess of the CLI: (wall seconds, CPU seconds)

ROOT = Path(__file__).resolve().parent.parent
TARGET = 2.0
PERIOD = ["--from", "2025-01-01", "--to", "2025-06-30", "--as-of", "2025-07-31"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, help="database to use (created if missing)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each command")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = options.db or Path(tmp) / "bench.db"
        if not db.exists():
            setup(db, options.orders, options.customers, options.seed)
        else:
            print(f"reusing {db}")
        # this checkout's retain, run by the interpreter running the benchmark
        env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": str(ROOT), "RETAIN_DB": str(db)}
        env["RETAIN_CONFIG"] = str(Path(tmp) / "no-campaign-file.yaml")
        drawn = subprocess.run(
            [sys.executable, "-m", "retain_cli", "config", "show", "--format", "csv"],
            capture_output=True,
            env=env,
            check=True,
        ).stdout.decode()
        if "program_holdout,5%" not in drawn:
            seconds, cpu = timed(
                ["config", "set", "program_holdout", "5%"],
                {**env, "RETAIN_NOW": "2025-01-01T00:00:00Z"},
            )
            print(
                f"config set program_holdout 5% (draws everyone): {seconds:.2f} s, {cpu:.2f} s CPU"
            )
        commands = {
            "report program (table)": ["report", "program", *PERIOD],
            "report program --format json": ["report", "program", *PERIOD, "--format", "json"],
            "metrics --period quarter (peer)": [
                "metrics",
                "--period",
                "quarter",
                "--as-of",
                "2025-06-30",
            ],
        }
        walls: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        print(f"load average before the runs: {os.getloadavg()[0]:.2f} (2 cores)")
        for _ in range(options.runs):  # alternating, so a busy minute hits all alike
            for name, args in commands.items():
                seconds, cpu = timed(args, env)
                walls[name].append(seconds)
                cpus[name].append(cpu)
        peer = statistics.median(walls["metrics --period quarter (peer)"])
        print(f"\n{'command':<34} {'median s':>9} {'best':>6} {'worst':>6} {'cpu s':>6} ratios")
        for name in commands:
            median = statistics.median(walls[name])
            ratios = ""
            if "peer" not in name:
                ratios = f"{median / TARGET:.2f} of 2 s, {median / peer:.2f} x metrics"
            print(
                f"{name:<34} {median:>9.2f} {min(walls[name]):>6.2f} {max(walls[name]):>6.2f} "
                f"{statistics.median(cpus[name]):>6.2f} {ratios}"
            )


if __name__ == "__main__":
    main()
