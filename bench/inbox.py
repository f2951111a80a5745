"""Mailbox throughput: ``retain inbox`` against a plain imaplib fetch, same server, same run.

A local Dovecot (tests/mailbox/dovecot.py: Debian's dovecot-imapd on 127.0.0.1, its own
configuration) holds N new messages, a shop's mix: replies in the thread of a sent campaign
message (half plain text, half multipart/alternative with quoted-printable parts, as Gmail and
Outlook send them), auto-replies, Postfix delivery reports (hard and soft, to the VERP
address), unsubscribe requests and mail from addresses that are not customers. The shop's
database knows the customers and the sent messages. Then, in turns:

1. peer: imaplib logs in, selects INBOX, searches the unprocessed messages (the same
   ``UNKEYWORD`` search) and fetches every message's bytes (``UID FETCH ... BODY.PEEK[]``,
   500 per command);
2. reference: the same, flagging each 500 as it goes (what marking costs the server);
3. retain: ``run_inbox`` (what ``retain inbox`` runs, without the process start): the same
   search and fetch, plus reading, classifying, recording each batch in the database and
   flagging it processed on the server.

Before each retain turn the messages lose their flag and the database its records, so each
turn processes all N again. Prints both rates and the ratio (target: retain >= 0.80 of the
peer's rate), the median of ROUNDS turns each; also ``retain inbox`` as a command (process
start included) once.

Usage: .venv/bin/python bench/inbox.py [N [ROUNDS]]   (default 5000 in 5 rounds)
"""

from __future__ import annotations

import imaplib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "mailbox"))

from dovecot import Dovecot, dovecot_binary  # noqa: E402

from retain_cli.campaigns.message import message_id, verp_token  # noqa: E402
from retain_cli.demo import mail  # noqa: E402
from retain_cli.mailbox.process import run_inbox  # noqa: E402
from retain_cli.store import Store  # noqa: E402

TARGET = 0.80
USER, PASSWORD = "shop", "bench-secret"
SHOP = "hello@rosies.example"
FLAG = "$RetainProcessed"
CONFIG = """\
sender:
  from: "Rosie's Bakery <hello@rosies.example>"
  address: "12 Baker St, Springfield"
  unsubscribe: "mailto:unsubscribe@rosies.example"
  bounce_address: "hello+bounce-{{token}}@rosies.example"
transport: outbox
mailbox:
  host: 127.0.0.1
  port: {port}
  security: none
  username: shop
  soft_bounce_limit: 3
campaigns: []
"""
QUOTED = "Dear friend,\nit has been a while since your last visit.\n" * 6


def make_shop(db: Path, customers: int) -> list[tuple[str, str, str]]:
    """Customers c{i}@example.com, each sent one win-back message. Returns (email, send_key,
    message_id) per customer."""
    now = "2025-01-01T00:00:00Z"
    sent = []
    with Store.open(db) as store:
        store.db["customers"].insert_all(
            {
                "id": i,
                "customer_id": f"C{i}",
                "email": f"c{i}@example.com",
                "accepts_marketing": 1,
                "source": "bench",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(1, customers + 1)
        )
        rows = []
        for i in range(1, customers + 1):
            key = f"win-back:1:C{i}:1"
            mid = message_id(key, SHOP)
            sent.append((f"c{i}@example.com", key, mid))
            rows.append(
                {
                    "send_key": key,
                    "campaign": "win-back",
                    "step": 1,
                    "customer_ref": i,
                    "occurrence": "1",
                    "email": f"c{i}@example.com",
                    "state": "sent",
                    "message_id": mid,
                    "planned_at": now,
                    "sent_at": now,
                    "updated_at": now,
                }
            )
        store.db["sends"].insert_all(rows)
    return sent


def messages(n: int, sent: list[tuple[str, str, str]]) -> list[bytes]:
    out = []
    for i in range(n):
        email, key, mid = sent[i % len(sent)]
        kind = i % 20
        seed = str(i)
        if kind < 12:
            out.append(
                mail.reply(
                    sender=email,
                    name=f"Customer {i}",
                    to=SHOP,
                    subject="We miss you",
                    text=f"Thank you! I will come by on Saturday for the rye loaf. ({i})",
                    in_reply_to=mid,
                    quoted=QUOTED,
                    html=kind % 2 == 1,
                    seed=seed,
                )
            )
        elif kind < 15:
            out.append(
                mail.auto_reply(
                    sender=email,
                    name=f"Customer {i}",
                    to=SHOP,
                    subject=f"We miss you {i}",
                    in_reply_to=mid,
                )
            )
        elif kind < 17:
            verp = f"hello+bounce-{verp_token(key)}@rosies.example"
            status = "5.1.1" if kind == 15 else "4.2.2"
            out.append(
                mail.dsn_bounce(to=verp, failed=email, status=status, original_id=mid, seed=seed)
            )
        elif kind < 19:
            out.append(
                mail.reply(
                    sender=email,
                    name=f"Customer {i}",
                    to=SHOP,
                    subject="We miss you",
                    text="Unsubscribe",
                    in_reply_to=mid,
                    seed=seed,
                )
            )
        else:
            out.append(
                mail.reply(
                    sender=f"someone{i}@example.net",
                    name="Someone",
                    to=SHOP,
                    subject="Opening hours?",
                    text="When are you open?",
                    seed=seed,
                )
            )
    return out


def fill(server: Dovecot, raws: list[bytes]) -> None:
    """Write the messages into the user's maildir (as delivery does), then let Dovecot index
    them once, so that no turn pays for the first look."""
    new = server.mail / USER / "new"
    for sub in ("new", "cur", "tmp"):
        (server.mail / USER / sub).mkdir(parents=True, exist_ok=True)
    for i, raw in enumerate(raws):
        (new / f"{1700000000 + i}.M{i}P1.bench").write_bytes(raw)
    for path in (server.mail / USER).rglob("*"):
        os.chown(path, server.mail_user.pw_uid, server.mail_user.pw_gid)
    os.chown(server.mail / USER, server.mail_user.pw_uid, server.mail_user.pw_gid)
    client = server.connect(USER, PASSWORD)
    client.select("INBOX")
    client.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
    client.logout()


def peer(server: Dovecot, *, mark: bool = False) -> tuple[float, int]:
    """The peer's turn; with ``mark``, it also flags every message it fetched (one STORE per
    500, as a tool that marks what it read must), to show what the marking costs the server."""
    start = time.perf_counter()
    client = imaplib.IMAP4("127.0.0.1", server.port)
    client.login(USER, PASSWORD)
    client.select("INBOX")
    _, data = client.uid("SEARCH", "UNKEYWORD", FLAG)
    uids = data[0].split()
    got = 0
    for i in range(0, len(uids), 500):
        _, items = client.uid("FETCH", b",".join(uids[i : i + 500]), "(UID BODY.PEEK[])")
        got += sum(1 for item in items if isinstance(item, tuple))
        if mark:
            first, last = uids[i].decode(), uids[min(i + 500, len(uids)) - 1].decode()
            client.uid("STORE", f"{first}:{last}", "+FLAGS.SILENT", f"({FLAG})")
    client.logout()
    return time.perf_counter() - start, got


def reset(server: Dovecot, db: Path, template: Path) -> None:
    client = server.connect(USER, PASSWORD)
    client.select("INBOX")
    client.uid("STORE", "1:*", "-FLAGS.SILENT", f"({FLAG})")
    client.logout()
    shutil.copyfile(template, db)
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def retain(db: Path, config: Path) -> tuple[float, int]:
    import flufl.bounce  # noqa: F401  (imported before the clock starts, as imaplib is)
    import imap_tools  # noqa: F401

    with Store.open(db) as store:
        start = time.perf_counter()
        result = run_inbox(store, config)
        elapsed = time.perf_counter() - start
    return elapsed, result.read - result.already


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    if dovecot_binary() is None:
        sys.exit("dovecot is not installed (apt-get install dovecot-imapd)")
    os.environ["RETAIN_IMAP_PASSWORD"] = PASSWORD
    work = Path(tempfile.mkdtemp(prefix="retain-bench-inbox-"))
    with Dovecot() as server:
        server.add_user(USER, PASSWORD)
        config = work / "campaigns.yaml"
        config.write_text(CONFIG.format(port=server.port))
        template = work / "template.db"
        sent = make_shop(template, max(n // 4, 1))
        fill(server, messages(n, sent))
        db = work / "retain.db"
        peers, markers, retains = [], [], []
        for _ in range(rounds):
            reset(server, db, template)
            seconds, got = peer(server)
            assert got == n, got
            peers.append(seconds)
            reset(server, db, template)
            seconds, got = peer(server, mark=True)
            markers.append(seconds)
            reset(server, db, template)
            seconds, done = retain(db, config)
            assert done == n, done
            retains.append(seconds)
        reset(server, db, template)
        start = time.perf_counter()
        command = subprocess.run(
            [
                sys.executable,
                "-m",
                "retain_cli",
                "--db",
                str(db),
                "inbox",
                "--config",
                str(config),
                "-q",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        cli_seconds = time.perf_counter() - start
        if command.returncode not in (0, 3):
            sys.exit(command.stderr)
    shutil.rmtree(work, ignore_errors=True)
    p, r = statistics.median(peers), statistics.median(retains)
    m = statistics.median(markers)
    print(
        f"{n:,} messages, {rounds} rounds (median); peer turns "
        f"{', '.join(f'{s:.2f}' for s in peers)} s, retain turns "
        f"{', '.join(f'{s:.2f}' for s in retains)} s"
    )
    print(f"imaplib fetch:  {n / p:8,.0f} messages/s ({p:.2f} s)")
    print(f"retain inbox:   {n / r:8,.0f} messages/s ({r:.2f} s)")
    print(
        f"imaplib fetch + flag store (reference, not the target's peer): {n / m:,.0f} "
        f"messages/s ({m:.2f} s; turns {', '.join(f'{s:.2f}' for s in markers)} s); "
        f"retain against it: {m / r:.2f}"
    )
    rounds_text = ", ".join(f"{a / b:.2f}" for a, b in zip(peers, retains, strict=True))
    print(f"ratios per round (peer / retain): {rounds_text}")
    print(f"ratio: {p / r:.2f} (target >= {TARGET:.2f}): {'met' if p / r >= TARGET else 'NOT met'}")
    print(f"retain inbox as a command (process start included): {cli_seconds:.2f} s")


if __name__ == "__main__":
    main()
