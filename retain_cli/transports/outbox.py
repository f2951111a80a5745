"""The outbox transport: each message written as an ``.eml`` file (for the demo and tests).

Files are written to a temporary name and renamed, so a file in the outbox is always a whole
message; the name comes from the Message-ID, so a message written twice would overwrite itself.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

from retain_cli.errors import SendError
from retain_cli.transports.base import TemporaryFailure


class OutboxTransport:
    name = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def open(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SendError(
                f"cannot create the outbox folder {self.folder} ({exc.strerror}); "
                "set transport.outbox in the campaign file to a folder you can write"
            ) from None

    def send(
        self,
        message: EmailMessage,
        sender: str,
        recipient: str,
        *,
        before_data: Callable[[], None] | None = None,
        awaiting_reply: Callable[[], None] | None = None,
    ) -> str:
        if before_data is not None:
            before_data()
        ident = str(message.get("Message-ID") or f"{sender}>{recipient}>{message['Subject']}")
        name = hashlib.sha256(ident.encode()).hexdigest()[:24] + ".eml"
        campaign = str(message.get("X-Retain-Campaign") or "mail")
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in campaign) or "mail"
        folder = self.folder / safe
        target = folder / name
        temp = folder / f".{name}.tmp"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            temp.write_bytes(message.as_bytes())
            os.replace(temp, target)
        except OSError as exc:
            raise TemporaryFailure(f"cannot write {target}: {exc.strerror}") from None
        return f"250 written to {target}"

    def close(self) -> None:
        return None
