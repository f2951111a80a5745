"""Sending throughput: retain's dispatch against a bare smtplib loop, same sink, same run.

A local aiosmtpd sink runs in its own process (tests/smtp_servers.py; on two cores the sink
is the bottleneck). Then, for N messages of the test campaign ``hello``:

1. peer: the N messages built beforehand (bytes), sent with ``smtplib.SMTP.sendmail`` in a
   loop over one connection;
2. retain: ``dispatch`` from the ledger: contexts, rendering and building in batches,
   claim -> send -> mark sent per message (two committed ledger writes each), one SMTP
   connection per batch (``limits.batch_size``, default 100), no rate limit.

Prints both rates and the ratio (target: retain >= 80% of smtplib); also retain with the
messages pre-built (ledger and protocol overhead alone), and retain sending a campaign with a
coupon pool (``coupon_pool``: each message's code set aside when built and written with its
claim) against the same campaign without one (target: >= 0.95, claiming must not slow a send
noticeably).

Usage: .venv/bin/python bench/send.py [N [ROUNDS]]   (default 10000 in 5 rounds; try 1000)

The four variants take turns in ROUNDS rounds of N/ROUNDS messages each, so that other
work on the machine slows them alike.
"""

from __future__ import annotations

import shutil
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from smtp_servers import free_port  # noqa: E402

from retain_cli.campaigns.config import load_config  # noqa: E402
from retain_cli.campaigns.dispatch import dispatch  # noqa: E402
from retain_cli.campaigns.model import Limits  # noqa: E402
from retain_cli.campaigns.send import message_builder  # noqa: E402
from retain_cli.store import Store  # noqa: E402
from retain_cli.store.ledger import LedgerRow  # noqa: E402
from retain_cli.timeutil import parse_as_of  # noqa: E402
from retain_cli.transports.smtp import SmtpTransport  # noqa: E402

TARGET = 0.80
SENDER = "hello@kornblume-backstube.de"  # tests/campaigns/data/sending's sender


def make_shop(store: Store, n: int, campaign: str) -> None:
    now = "2025-01-01T00:00:00Z"
    store.db["customers"].insert_all(
        (
            {
                "id": i,
                "customer_id": f"C{i}",
                "email": f"customer{i}@example.com",
                "first_name": f"Name{i}",
                "accepts_marketing": 1,
                "source": "bench",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(1, n + 1)
        ),
        batch_size=5000,
    )
    store.db["orders"].insert_all(
        (
            {
                "id": i,
                "order_key": f"bench:{i}",
                "source": "bench",
                "order_id": f"#{i}",
                "customer_ref": i,
                "ordered_at": "2025-03-01T10:00:00Z",
                "currency": "USD",
                "total_minor": 2500 + i % 1000,
                "refunded_minor": 0,
            }
            for i in range(1, n + 1)
        ),
        batch_size=5000,
    )


def plan(store: Store, ids: range, campaign: str, occurrence: str) -> None:
    store.ledger_record(
        [
            {
                "send_key": f"{campaign}:1:C{i}:{occurrence}",
                "campaign": campaign,
                "step": 1,
                "customer_ref": i,
                "occurrence": occurrence,
                "email": f"customer{i}@example.com",
                "state": "planned",
            }
            for i in ids
        ],
        "2025-06-01T00:00:00Z",
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    per_round = max(n // rounds, 1)
    n = per_round * rounds
    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "smtp_servers.py"), str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout is not None
    assert sink.stdout.readline().strip() == "ready"
    folder = Path(tempfile.mkdtemp(prefix="retain-bench-send-"))
    times = {"smtplib": 0.0, "retain": 0.0, "retain_prebuilt": 0.0, "retain_coupons": 0.0}
    cpu = dict.fromkeys(times, 0.0)  # CPU time of this process (the sink's is not counted)
    round_times: dict[str, list[float]] = {}
    try:
        shutil.copytree(REPO / "tests" / "campaigns" / "data" / "sending", folder / "shop")
        path = folder / "shop" / "campaigns.yaml"
        text = path.read_text().replace(
            "  type: outbox\n",
            f"  type: smtp\n  host: 127.0.0.1\n  port: {port}\n  security: none\n",
        )
        templates = folder / "shop" / "templates"
        hello = (templates / "hello.txt.j2").read_text()
        # campaign hello's message, with a line for the code
        (templates / "coupon.txt.j2").write_text(hello + "\nYour code: {{ coupon.code }}\n")
        text = text.replace(
            "campaigns:\n",
            "campaigns:\n  - name: coupon\n    audience: all\n"
            "    subject: \"Hello {{ customer.first_name | default('friend') }}\"\n"
            "    template: templates/coupon.txt.j2\n    coupon_pool: BENCH\n",
            1,
        )
        path.write_text(text)
        config = load_config(path)
        settings = config.smtp
        assert settings is not None
        as_of = parse_as_of("2025-06-10")
        store = Store.open(folder / "retain.db")
        make_shop(store, n, "hello")
        store.coupons_add("BENCH", [(f"BENCH-{i:06d}", i) for i in range(1, n + 1)], "b", "-")
        build = message_builder(store, config, as_of)
        prebuilt: dict[str, EmailMessage] = {}  # email -> the message, built beforehand
        for start in range(1, n + 1, 500):
            rows = [
                LedgerRow(
                    i,
                    f"hello:1:C{i}:peer",
                    "hello",
                    1,
                    i,
                    "peer",
                    f"customer{i}@example.com",
                    "planned",
                    0,
                )
                for i in range(start, min(start + 500, n + 1))
            ]
            for key, message in build(rows).items():
                assert not isinstance(message, str), message
                prebuilt[f"customer{key}@example.com"] = message
        wire = {email: message.as_bytes() for email, message in prebuilt.items()}

        # Rounds alternate the three so that a busy neighbour on the machine slows all alike.
        for r in range(rounds):
            ids = range(r * per_round + 1, (r + 1) * per_round + 1)
            # peer: pre-built messages, a bare smtplib loop over one connection
            began = time.perf_counter()
            cpu_began = time.process_time()
            smtp = smtplib.SMTP("127.0.0.1", port)
            for i in ids:
                email = f"customer{i}@example.com"
                smtp.sendmail(SENDER, [email], wire[email])
            smtp.quit()
            times["smtplib"] += time.perf_counter() - began
            cpu["smtplib"] += time.process_time() - cpu_began

            def timed(
                variant: str, campaign: str, occurrence: str, build: Any, ids: range = ids
            ) -> None:
                plan(store, ids, campaign, occurrence)
                began = time.perf_counter()
                cpu_began = time.process_time()
                result = dispatch(
                    store,
                    SmtpTransport(settings, None),
                    build,
                    sender=config.sender.from_email,
                    limits=Limits(),
                    campaigns=[campaign],
                )
                round_times.setdefault(variant, []).append(time.perf_counter() - began)
                times[variant] += round_times[variant][-1]
                cpu[variant] += time.process_time() - cpu_began
                assert result.sent == per_round, result

            # retain: dispatch from the ledger, contexts + rendering + building included
            timed("retain", "hello", f"r{r}", message_builder(store, config, as_of))
            # retain with the messages built beforehand: ledger and protocol overhead alone
            timed(
                "retain_prebuilt",
                "hello",
                f"p{r}",
                lambda batch: {row.id: prebuilt[row.email] for row in batch},
            )
            # retain with a coupon pool: each message carries a code of its own
            timed("retain_coupons", "coupon", f"c{r}", message_builder(store, config, as_of))
        given = store.conn.execute("SELECT count(DISTINCT coupon_ref) FROM sends").fetchone()
        assert given == (n,), given
        store.close()
    finally:
        sink.terminate()
        received = int((sink.communicate(timeout=30)[0] or "0").strip().splitlines()[-1])
        shutil.rmtree(folder, ignore_errors=True)
    assert received == 4 * n, f"the sink got {received} messages, expected {4 * n}"
    peer, ours, bare = times["smtplib"], times["retain"], times["retain_prebuilt"]
    pooled = times["retain_coupons"]
    print(f"messages per variant:             {n:,} ({rounds} interleaved rounds)")
    print(f"smtplib loop (pre-built):         {n / peer:8,.0f} msg/s")
    print(f"retain dispatch (render+ledger):  {n / ours:8,.0f} msg/s")
    print(f"retain dispatch (pre-built):      {n / bare:8,.0f} msg/s")
    print(f"ratio retain / smtplib:           {peer / ours:8.2f}  (target >= {TARGET:.2f})")
    print(f"retain dispatch, coupon pool:     {n / pooled:8,.0f} msg/s")
    print(f"ratio retain pre-built / smtplib: {peer / bare:8.2f}")
    ratios = [
        a / b for a, b in zip(round_times["retain"], round_times["retain_coupons"], strict=True)
    ]
    print(
        f"ratio with a pool / without:      {ours / pooled:8.2f}  (median of the rounds "
        f"{statistics.median(ratios):.2f}; target >= 0.95)"
    )
    print(
        "CPU of the sending process per message: "
        + ", ".join(f"{k} {cpu[k] / n * 1000:.2f} ms" for k in times)
    )


if __name__ == "__main__":
    main()
