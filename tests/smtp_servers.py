"""Real SMTP servers (aiosmtpd) on 127.0.0.1 for the sending tests and the benchmark.

``SmtpServer`` is a sink that records every message it accepts, and can misbehave on
purpose: reply 421/451 to the first N commands, refuse one mailbox with 550, drop the
connection after receiving a message (before replying), answer slowly, refuse logins or take
only one password; and speak TLS (STARTTLS or from the first byte) with a certificate from a
throwaway CA (``tls_server``).
Run as a script (``python tests/smtp_servers.py PORT``) it is a plain sink in its own process
that prints the number of messages received when stopped (for the benchmark).
"""

from __future__ import annotations

import asyncio
import hmac
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def tls_server(ca: Any, *names: str) -> ssl.SSLContext:
    """A server-side TLS context with a certificate for ``names`` signed by ``ca`` (a
    ``trustme.CA``; ``trustme.CA()`` makes a throwaway one)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> Message:
        return message_from_bytes(self.data)


@dataclass
class Behaviour:
    mail_replies: list[str] = field(default_factory=list)  # replies to the next MAIL FROMs
    data_replies: list[str] = field(default_factory=list)  # replies to the next DATA ends
    reject_rcpt: dict[str, str] = field(default_factory=dict)  # address -> reply
    drop_after_data: set[str] = field(default_factory=set)  # record, then drop: no reply
    reject_every_rcpt: str | None = None  # this reply to every RCPT TO (a relay refusal ...)
    drop_at_rcpt: bool = False  # close the connection instead of answering RCPT TO
    delay: float = 0.0  # seconds before answering each DATA
    refuse_login: bool = False
    password: str | None = None  # when set, only this password (as UTF-8) logs in


class Handler:
    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.received: list[Received] = []
        self.count = 0
        self.lock = threading.Lock()
        self.mail_commands = 0
        self.logins: list[tuple[str, str]] = []

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options):
        self.mail_commands += 1
        with self.lock:
            reply = self.behaviour.mail_replies.pop(0) if self.behaviour.mail_replies else None
        if reply:
            if reply.startswith("421"):
                await server.push(reply)
                server.transport.close()
                return "421 closing"  # not seen: the connection is closed
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options):
        if self.behaviour.drop_at_rcpt:
            server.transport.close()
            return "421 closing"  # not seen: the connection is closed
        reply = self.behaviour.reject_rcpt.get(address.lower()) or self.behaviour.reject_every_rcpt
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        behaviour = self.behaviour
        with self.lock:
            reply = behaviour.data_replies.pop(0) if behaviour.data_replies else None
        if reply:
            return reply
        data = bytes(envelope.original_content or envelope.content)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), data))
            self.count += 1
        if any(r.lower() in behaviour.drop_after_data for r in envelope.rcpt_tos):
            server.transport.abort()  # the message is in, the reply never comes
            await asyncio.sleep(3600)  # cancelled when the connection is gone
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        return f"250 2.0.0 queued as {self.count}"

    def recipients(self) -> list[str]:
        with self.lock:
            return [r for item in self.received for r in item.rcpt_tos]


class CramHandler(Handler):
    """A :class:`Handler` that also offers AUTH CRAM-MD5 (RFC 2195; aiosmtpd has no built-in
    one), checking the digest against ``behaviour.password`` as UTF-8."""

    CHALLENGE = b"<1896.697170952@retain.test>"

    async def auth_CRAM__MD5(self, server: Any, args: list[str]) -> AuthResult:
        response = await server.challenge_auth(self.CHALLENGE)
        if not isinstance(response, bytes):
            return AuthResult(success=False, handled=True)
        login, _, digest = response.rpartition(b" ")
        self.logins.append((login.decode(), "(CRAM-MD5 digest)"))
        secret = (self.behaviour.password or "").encode("utf-8")
        expected = hmac.HMAC(secret, self.CHALLENGE, "md5").hexdigest().encode()
        return AuthResult(success=hmac.compare_digest(digest, expected), handled=False)


class SmtpServer:
    """A running aiosmtpd server on 127.0.0.1; use as a context manager.

    ``tls``: "starttls" (offers STARTTLS, AUTH only after it) or "ssl" (TLS from the first
    byte), with ``certificate`` (a server-side ``ssl.SSLContext``, see :func:`tls_server`);
    ``auth_mechanisms``: leave out the others (e.g. ``("LOGIN",)``; "CRAM-MD5" adds that one).
    """

    def __init__(
        self,
        behaviour: Behaviour | None = None,
        *,
        auth: bool = False,
        tls: str | None = None,
        certificate: ssl.SSLContext | None = None,
        auth_mechanisms: tuple[str, ...] | None = None,
    ) -> None:
        self.behaviour = behaviour or Behaviour()
        cram = auth_mechanisms is not None and "CRAM-MD5" in auth_mechanisms
        self.handler = (CramHandler if cram else Handler)(self.behaviour)
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if auth:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=tls == "starttls")
        if auth_mechanisms is not None:
            kwargs["auth_exclude_mechanism"] = [
                m for m in ("LOGIN", "PLAIN") if m not in auth_mechanisms
            ]
        if tls == "starttls":
            kwargs["tls_context"] = certificate
        elif tls == "ssl":
            kwargs["ssl_context"] = certificate
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, ready_timeout=10, **kwargs
        )

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism, data) -> Any:
        login = bytes(getattr(data, "login", b""))
        password = bytes(getattr(data, "password", b""))
        self.handler.logins.append((login.decode(), password.decode()))
        expected = self.behaviour.password
        success = not self.behaviour.refuse_login and (
            expected is None or password == expected.encode("utf-8")
        )
        return AuthResult(success=success, handled=False)

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def recipients(self) -> list[str]:
        return self.handler.recipients()

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def _main() -> None:
    """A sink in its own process: ``python tests/smtp_servers.py PORT``; stop with SIGTERM."""
    import signal

    port = int(sys.argv[1])
    handler = _CountingSink()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    print(handler.count, flush=True)


class _CountingSink:
    """Counts messages without keeping them (the benchmark sends 10,000)."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


if __name__ == "__main__":
    _main()


# --- helpers shared by the sending tests ----------------------------------------------------


def kill_after(command: list[str], server: SmtpServer, received: int) -> int:
    """Run ``command`` (a ``retain send``) and SIGKILL it once ``server`` has ``received``
    messages, inside the slow reply to the next one; returns the messages received then."""
    import signal
    import subprocess

    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(server.recipients()) < received and time.monotonic() < deadline:
        time.sleep(0.02)
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
    time.sleep(0.1)  # well inside the next message's slow reply
    process.send_signal(signal.SIGKILL)
    process.wait()
    return len(server.recipients())


def add_customers(store: Any, emails: list[str], *, accepts: int = 1) -> list[int]:
    """Insert customers directly (the importer is tested elsewhere); returns their refs."""
    refs = []
    for email in emails:
        cursor = store.conn.execute(
            "INSERT INTO customers (customer_id, email, first_name, accepts_marketing, source, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, 'test', '2025-01-01T00:00:00Z', "
            "'2025-01-01T00:00:00Z')",
            (email, email, email.split("@")[0].title(), accepts),
        )
        refs.append(int(cursor.lastrowid))
    return refs


def plan_rows(store: Any, campaign: str, emails: list[str], *, step: int = 1) -> None:
    """Record planned ledger rows for these customers (as the planner would)."""
    refs = dict(store.conn.execute("SELECT email, id FROM customers").fetchall())
    store.ledger_record(
        [
            {
                "send_key": f"{campaign}:{step}:{email}:1",
                "campaign": campaign,
                "step": step,
                "customer_ref": refs[email],
                "occurrence": "1",
                "email": email,
                "state": "planned",
            }
            for email in emails
        ],
        "2025-01-01T00:00:00Z",
    )


def one_message(sender: str = "shop@example.com", recipient: str = "ada@example.org"):
    """A short text message, for the transport tests."""
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = "hello"
    msg.set_content("hi\n")
    return msg


def simple_builder(sender: str = "shop@example.com"):
    """A message builder for the engine tests: one short text message per row."""
    from email.message import EmailMessage

    def build(rows: Any) -> dict[int, EmailMessage | str]:
        out: dict[int, EmailMessage | str] = {}
        for row in rows:
            msg = EmailMessage()
            msg["From"] = sender
            msg["To"] = row.email
            msg["Subject"] = f"Hello {row.email}"
            msg["Message-ID"] = f"<{row.id}.{row.campaign}@example.com>"
            msg["X-Retain-Campaign"] = row.campaign
            msg.set_content(f"Hi {row.email}\n.\n..a line starting with a dot\n")
            out[row.id] = msg
        return out

    return build


def states(store: Any) -> dict[str, str]:
    """email -> ledger state."""
    return dict(store.conn.execute("SELECT email, state FROM sends ORDER BY id").fetchall())


SHOP_AS_OF = "2025-06-10"


def make_shop(store: Any, consenting: int = 20) -> None:
    """A small shop for the planner and CLI tests (as of 2025-06-10).

    c00..c{n}@example.org consent; c00-c04 placed their first order on 2025-06-07 (three
    days before), the others on 2025-01-01; c05 has a birthday on 06-10. n1 has no consent,
    s1 is suppressed, x1 has no e-mail address.
    """
    now = "2025-01-01T00:00:00Z"
    people = [
        (f"C{i:02d}", f"c{i:02d}@example.org", f"Cust{i:02d}", 1, "1990-06-10" if i == 5 else None)
        for i in range(consenting)
    ]
    people += [
        ("N1", "n1@example.org", "Nocon", 0, None),
        ("S1", "s1@example.org", "Supp", 1, None),
        ("X1", None, "Nomail", 1, None),
    ]
    store.db["customers"].insert_all(
        {
            "customer_id": cid,
            "email": email,
            "first_name": first,
            "accepts_marketing": consent,
            "birthday": birthday,
            "source": "test",
            "created_at": now,
            "updated_at": now,
        }
        for cid, email, first, consent, birthday in people
    )
    store.db["suppressions"].insert(
        {"email": "s1@example.org", "reason": "asked", "source": "cli", "created_at": now}
    )
    refs = dict(store.conn.execute("SELECT customer_id, id FROM customers").fetchall())
    orders = []
    for cid, ref in refs.items():
        recent = cid in {f"C{i:02d}" for i in range(5)}
        orders.append(
            {
                "order_key": f"test:{cid}",
                "source": "test",
                "order_id": f"#{cid}",
                "customer_ref": ref,
                "ordered_at": "2025-06-07T10:00:00Z" if recent else "2025-01-01T10:00:00Z",
                "currency": "USD",
                "total_minor": 5000,
                "refunded_minor": 0,
            }
        )
    store.db["orders"].insert_all(orders)


def add_order(store: Any, email: str, at: str, total_minor: int, refunded_minor: int = 0) -> None:
    ref = store.conn.execute("SELECT id FROM customers WHERE email = ?", (email,)).fetchone()[0]
    key = f"test:{email}:{at}"
    store.conn.execute(
        "INSERT INTO orders (order_key, source, order_id, customer_ref, ordered_at, currency, "
        "total_minor, refunded_minor) VALUES (?, 'test', ?, ?, ?, 'USD', ?, ?)",
        (key, key, ref, at, total_minor, refunded_minor),
    )


class DripServer:
    """A server that sends its greeting one byte at a time, ``interval`` seconds apart, as a
    reply that never ends (``220-`` continuation lines), for at most ``lasting`` seconds;
    a socket timeout never fires on it. Use as a context manager; ``port``."""

    def __init__(self, interval: float = 0.2, lasting: float = 30.0) -> None:
        self.interval = interval
        self.lasting = lasting
        self.stop = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(5)
        self.listener.settimeout(0.1)
        self.port = int(self.listener.getsockname()[1])
        self.connections = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        line = b"220-drip.example ESMTP, one byte at a time\r\n"
        started = time.monotonic()
        with conn:
            while not self.stop.is_set() and time.monotonic() - started < self.lasting:
                for byte in line:
                    if self.stop.wait(self.interval):
                        return
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        return

    def __enter__(self) -> DripServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.listener.close()


# --- the sending tests' shop through the CLI --------------------------------------------------

SENDING_DATA = Path(__file__).parent / "campaigns" / "data" / "sending"


def sending_shop(db_path: Path, folder: Path) -> Path:
    """:func:`make_shop` in the database, and the sending tests' campaign file (outbox)
    copied to ``folder/shop``; returns the campaign file's path."""
    import shutil

    from retain_cli.store import Store

    with Store.open(db_path) as store:
        make_shop(store)
    shutil.copytree(SENDING_DATA, folder / "shop")
    return folder / "shop" / "campaigns.yaml"


def use_smtp_server(config: Path, port: int, *, timeout: float = 5, limits: str = "") -> Path:
    """The campaign file sends through the SMTP server on 127.0.0.1:``port`` (``limits``: a
    limits: section's lines)."""
    text = config.read_text().replace(
        "  type: outbox\n",
        f"  type: smtp\n  host: 127.0.0.1\n  port: {port}\n  security: none\n"
        f"  timeout: {timeout}\n",
    )
    if limits:
        text = text.replace("campaigns:\n", f"limits:\n{limits}campaigns:\n", 1)
    config.write_text(text)
    return config
