"""The shop the mailbox tests read mail for: the campaign tests' shop (tests/conftest.py
``campaign_shop``), its campaign ``hello`` sent to ada, bob and nora (outbox transport), a
VERP bounce address, and a ``mailbox:`` section pointing at the test's Dovecot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from retain_cli.campaigns.message import verp_token
from retain_cli.store import Store

SHOP = "hello@kornblume-backstube.de"
UNSUBSCRIBE = "unsubscribe@kornblume-backstube.de"
BOUNCE = "hello+bounce-{token}@kornblume-backstube.de"


@dataclass(frozen=True)
class Sent:
    email: str
    send_key: str
    message_id: str

    @property
    def verp(self) -> str:
        return BOUNCE.replace("{token}", verp_token(self.send_key))


def configure(config: Path, *, port: int | None = None, user: str = "", extra: str = "") -> None:
    """Add bounce_address to the sender and (with ``port``) a mailbox section."""
    text = config.read_text()
    text = text.replace(
        f'  unsubscribe: "mailto:{UNSUBSCRIBE}"\n',
        f'  unsubscribe: "mailto:{UNSUBSCRIBE}"\n  bounce_address: "{BOUNCE}"\n',
    )
    if port is not None:
        text += (
            f"mailbox:\n  host: 127.0.0.1\n  port: {port}\n  security: none\n"
            f"  username: {user}\n{extra}"
        )
    config.write_text(text)


def send_hello(cli, config: Path, db: Path) -> dict[str, Sent]:
    """Send the campaign ``hello`` (outbox); address -> what the ledger recorded."""
    result = cli("send", "hello", "--yes", "--config", str(config))
    assert result.exit_code == 0, result.output
    with Store.open(db) as store:
        rows = store.conn.execute(
            "SELECT email, send_key, message_id FROM sends WHERE state = 'sent'"
        ).fetchall()
    return {email: Sent(email, key, mid) for email, key, mid in rows}


def inbox_rows(db: Path) -> list[dict[str, object]]:
    with Store.open(db) as store:
        cursor = store.conn.execute(
            "SELECT i.classification, i.action, i.email, c.customer_id, i.campaign, i.send_key, "
            "i.reason, i.message_id, i.excerpt FROM inbox_messages i "
            "LEFT JOIN customers c ON c.id = i.customer_ref ORDER BY i.id"
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]


def suppressions(db: Path) -> dict[str, tuple[str, str]]:
    with Store.open(db) as store:
        rows = store.conn.execute("SELECT email, source, reason FROM suppressions").fetchall()
    return {email: (source, reason) for email, source, reason in rows}
