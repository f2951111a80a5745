"""SMTP replies with a deadline: each reply must be complete within ``transport.timeout``.

A socket timeout bounds each read, not a reply: a server that sends its greeting one byte a
second never lets a read time out, and could hold ``retain send`` (and its lock) for hours.
Here every reply (the greeting, EHLO, each command's answer, the answer to the message) is
read against a deadline on the monotonic clock: ``timeout`` seconds for the whole reply,
however it trickles in. A reply that misses it raises :class:`SlowReply`, which smtplib's
callers (and ours) take as a lost connection: before the message is handed over it is a
temporary failure of the server, after it the outcome is unknown (ambiguous).

Writes were bounded already: ``socket.sendall`` takes the socket timeout as the limit for the
whole write. :class:`BoundedClient` is yagmail's client, connecting with these classes.
"""

from __future__ import annotations

import smtplib
import socket
import time
from typing import Any

import yagmail


class SlowReply(smtplib.SMTPServerDisconnected):
    """The server did not finish a reply within the deadline; the connection is closed."""


class _Reader:
    """Stands in for smtplib's ``self.file`` (only ``readline`` and ``close`` are used): reads
    lines from the socket, each reply against the deadline :meth:`start` sets."""

    __slots__ = ("buffer", "deadline", "expired", "sock", "timeout")

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        self.timeout = timeout
        self.buffer = bytearray()
        self.deadline = 0.0
        self.expired = False

    def start(self) -> None:
        self.deadline = time.monotonic() + self.timeout
        self.expired = False

    def readline(self, limit: int = -1) -> bytes:
        buffer = self.buffer
        shortened = False
        try:
            while True:
                end = buffer.find(b"\n")
                if end >= 0 or 0 <= limit <= len(buffer):
                    cut = end + 1 if end >= 0 else limit
                    if limit >= 0:
                        cut = min(cut, limit)
                    line = bytes(buffer[:cut])
                    del buffer[:cut]
                    return line
                left = self.deadline - time.monotonic()
                if left <= 0:
                    self.expired = True
                    raise TimeoutError(f"no complete reply within {self.timeout:g} s")
                if left < self.timeout * 0.9:  # part of the time is gone: wait only the rest
                    self.sock.settimeout(left)
                    shortened = True
                try:
                    chunk = self.sock.recv(8192)
                except TimeoutError:
                    self.expired = True
                    raise TimeoutError(f"no complete reply within {self.timeout:g} s") from None
                if not chunk:  # closed: what came so far (smtplib reports the end)
                    line = bytes(buffer)
                    buffer.clear()
                    return line
                buffer += chunk
        finally:
            if shortened:
                self.sock.settimeout(self.timeout)  # writes keep the full timeout

    def close(self) -> None:
        self.buffer.clear()


class _Bounded:
    """``getreply`` with a deadline for the whole reply (mixed into smtplib's classes)."""

    file: Any
    sock: Any
    timeout: Any

    def getreply(self) -> tuple[int, bytes]:
        reader = self.file
        if not isinstance(reader, _Reader):
            timeout = self.timeout
            if reader is not None or not isinstance(timeout, int | float) or self.sock is None:
                return super().getreply()  # type: ignore[misc]
            reader = self.file = _Reader(self.sock, float(timeout))
        reader.start()
        try:
            return super().getreply()  # type: ignore[misc]
        except smtplib.SMTPServerDisconnected:
            if reader.expired:
                raise SlowReply(
                    f"no complete reply within {reader.timeout:g} s (transport.timeout): "
                    "the server answers too slowly"
                ) from None
            raise


class BoundedSMTP(_Bounded, smtplib.SMTP):
    pass


class BoundedSMTP_SSL(_Bounded, smtplib.SMTP_SSL):
    pass


class BoundedClient(yagmail.SMTP):
    """yagmail's client, connecting with :class:`BoundedSMTP` / :class:`BoundedSMTP_SSL`."""

    @property
    def connection(self) -> type[smtplib.SMTP]:
        return BoundedSMTP_SSL if self.ssl else BoundedSMTP
