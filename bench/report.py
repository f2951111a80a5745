"""Benchmark: ``retain report`` (every campaign, with intervals) and ``retain report --html``.

    .venv/bin/python bench/report.py                        # 1,000,000 orders, 200,000 customers
    .venv/bin/python bench/report.py --orders 50000 --customers 10000 --ledger 5000   # quick
    .venv/bin/python bench/report.py --db /tmp/report.db   # keep (and reuse) the database

Setup (not timed): the analytics benchmark's orders (bench/analytics.py: a generic CSV of
repeat buyers over three years, imported with retain's importer); every 40th order gets a
discount code; then ``--ledger`` rows (default 100,000) over 10 campaigns are written to the
send ledger, as ``retain send`` leaves them: each campaign writes to its customers on 20 days
of the first half of 2025 and holds 10% out (a hash, as the planner does); two campaigns
have a second step a week later, four name an ``offer_code``, and five are A/B tests (four
with variants A and B at 50% each, one with A, B and C at a third each; the variant drawn by
the planner's hash and kept for the second step). A campaign file with the 10 campaigns is
written beside the database.

Timed, as subprocesses of the CLI (Python start-up included), against the targets:
- ``retain report`` as a table (COLUMNS=80) and as JSON: under 2 s;
- ``retain report --html FILE --compare``: under 5 s, the file under 2 MB.
The ratio printed is wall seconds / target (at most 1.0 passes).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from analytics import setup  # the same orders as bench/analytics.py

ROOT = Path(__file__).resolve().parent.parent
AS_OF = "2025-06-30"
CAMPAIGNS = 10
HOLDOUT = 0.10
TARGETS = {"report": 2.0, "html": 5.0}
#: the A/B tests: campaign number -> its variants (even shares)
VARIANTS = {1: ("A", "B"), 3: ("A", "B"), 5: ("A", "B"), 7: ("A", "B"), 8: ("A", "B", "C")}
MAX_HTML_BYTES = 2_000_000

CONFIG_HEAD = """\
sender:
  from: "Bench Shop <hello@bench.example>"
  address: "1 Bench Street"
  unsubscribe: "mailto:unsubscribe@bench.example"
campaigns:
"""


def campaign_file(folder: Path) -> Path:
    (folder / "hello.txt.j2").write_text("Hello\n")
    lines = [CONFIG_HEAD]
    for c in range(CAMPAIGNS):
        lines.append(f"  - name: c{c}\n    audience: all\n    holdout: 10%\n")
        if c < 2:
            lines.append(
                "    steps:\n"
                '      - {days: 0, subject: "One", template: hello.txt.j2}\n'
                '      - {days: 7, subject: "Two", template: hello.txt.j2}\n'
            )
        else:
            lines.append('    subject: "Hi"\n    template: hello.txt.j2\n')
        if c % 3 == 0:
            lines.append(f"    offer_code: CODE{c}\n")
        if c in VARIANTS:
            lines.append("    variants:\n")
            for name in VARIANTS[c]:
                subject = "" if name == "A" else f", subject: Variant {name}"
                if subject and c < 2:
                    subject = f", steps: {{1: {{subject: Variant {name}}}}}"
                lines.append(f"      - {{name: {name}{subject}}}\n")
    path = folder / "campaigns.yaml"
    path.write_text("".join(lines))
    return path


def add_ledger(db: Path, rows: int, seed: int) -> None:
    from retain_cli.campaigns.due import variant_score
    from retain_cli.store import Store

    rng = np.random.default_rng(seed)
    with Store.open(db) as store:
        conn = store.conn
        refs = np.array([r[0] for r in conn.execute("SELECT id FROM customers")], dtype=np.int64)
        conn.execute(
            "UPDATE orders SET discount_code = 'CODE' || (id % 10), discount_minor = 100 "
            "WHERE id % 40 = 0"
        )
        per_campaign = rows // CAMPAIGNS
        batch = []
        for c in range(CAMPAIGNS):
            steps = 2 if c < 2 else 1
            first = per_campaign // steps
            chosen = rng.choice(refs, size=first, replace=False)
            days = rng.integers(0, 20, size=first) * 8  # 20 send days over Jan-Jun 2025
            for ref, day in zip(chosen.tolist(), days.tolist(), strict=True):
                at = np.datetime64("2025-01-02T09:00:00") + np.timedelta64(day, "D")
                stamp = str(at) + "Z"
                digest = hashlib.sha256(f"c{c}\0{ref}".encode()).digest()
                held = int.from_bytes(digest[:8], "big") / 2**64 < HOLDOUT
                state = "held_out" if held else "sent"
                names = VARIANTS.get(c)
                variant = None
                if names and not held:
                    variant = names[int(variant_score(f"c{c}", "", str(ref)) * len(names))]
                batch.append(
                    (f"c{c}:1:{ref}:1", f"c{c}", 1, ref, state, stamp, None if held else stamp,
                     variant)
                )  # fmt: skip
                if steps == 2 and not held:
                    later = str(at + np.timedelta64(7, "D")) + "Z"
                    batch.append(
                        (f"c{c}:2:{ref}:1", f"c{c}", 2, ref, "sent", later, later, variant)
                    )
        with store.transaction() as tx:
            tx.executemany(
                "INSERT INTO sends (send_key, campaign, step, customer_ref, occurrence, email, "
                "state, planned_at, sent_at, variant, updated_at) "
                "VALUES (?, ?, ?, ?, '1', 'x', ?, ?, ?, ?, ?)",
                [(*row, row[5]) for row in batch],
            )
        tests = sum(1 for row in batch if row[7] is not None)
        print(f"ledger: {len(batch):,} rows over {CAMPAIGNS} campaigns ({tests:,} with a variant)")


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "retain_cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        check=False,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"retain {' '.join(args)} failed: {done.stderr.decode()}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--ledger", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, help="database to use (created if missing)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each command")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = options.db or Path(tmp) / "bench.db"
        if not db.exists():
            setup(db, options.orders, options.customers, options.seed)
            add_ledger(db, options.ledger, options.seed)
        else:
            print(f"reusing {db}")
        config = campaign_file(db.parent if options.db else Path(tmp))
        page = Path(tmp) / "report.html"
        # this checkout's retain, run by the interpreter running the benchmark
        env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": str(ROOT)}
        common = ["--db", str(db), "--config", str(config), "--as-of", AS_OF]
        runs = [
            ("report (table, 80 columns)", "report", ["report", *common]),
            ("report --format json", "report", ["report", *common, "--format", "json"]),
            (
                "report --html --compare",
                "html",
                ["report", *common, "--html", str(page), "--compare"],
            ),
        ]
        print(f"load average before the runs: {os.getloadavg()[0]:.2f} (2 cores)")
        print(f"\n{'command':<30} {'wall s (best, worst)':>22} {'cpu s':>6} {'ratio':>6}")
        for label, target, args in runs:
            times = [timed(args, env) for _ in range(options.runs)]
            walls = sorted(t[0] for t in times)
            cpu = min(t[1] for t in times)
            ratio = walls[0] / TARGETS[target]
            verdict = "" if ratio <= 1 else "  over"
            best, worst = walls[0], walls[-1]
            print(f"{label:<30} {best:>10.2f} {worst:>10.2f} {cpu:>6.2f} {ratio:>6.2f}{verdict}")
        size = page.stat().st_size
        verdict = "" if size <= MAX_HTML_BYTES else "  over"
        print(f"\nHTML file: {size:,} bytes (target under {MAX_HTML_BYTES:,}){verdict}")


if __name__ == "__main__":
    main()
