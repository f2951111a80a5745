"""The one small interface every transport implements, and the three ways a send can fail.

A transport never decides what to do about a failure; it says which kind it was:

- :class:`TemporaryFailure`: the message certainly did not go out and may be tried again
  (4xx reply, connection refused or dropped before the end of DATA was written). With
  ``connection`` the trouble is the server's, not the message's (it cannot be reached, closed
  the channel with 421, put off MAIL FROM, dropped the connection before the message was
  handed over): the run stops and no attempt is counted against the message;
- :class:`PermanentFailure`: the server refused this message for good (5xx);
  ``mailbox_unknown`` when the address does not exist (then it is suppressed);
- :class:`PolicyRefusal`: a 5xx that is (or may be) about the shop rather than the message:
  relay denied, a block list, the sender address (RFC 3463 5.7.x, 5.1.7, 5.1.8, any 5xx to
  MAIL FROM). Nobody is suppressed, nothing is counted against the message;
- :class:`AmbiguousFailure`: the whole message was handed over but no reply came (connection
  lost or timed out while waiting for the answer to DATA). It may have been delivered.

How a reply is sorted into these is :func:`retain_cli.transports.replies.refusal`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal, Protocol

Security = Literal["starttls", "ssl", "none"]


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """How to reach the SMTP server (the `transport:` section of a campaign file)."""

    host: str
    port: int
    security: Security
    username: str | None
    password_env: str | None
    keyring_service: str | None
    timeout: float
    tls_ca_file: str | None = None  # a PEM bundle of the CA(s) to trust instead of the system's
    tls_verify: bool = True  # False: the server's certificate and name are not checked

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the owner must hear on every run (the certificate check turned off)."""
        if self.tls_verify or self.security == "none":
            return ()
        return (
            f"transport.tls_verify is false: the certificate of {self.host} is not checked, so "
            "anyone on the network path can pose as the server and read the password and every "
            "message; set transport.tls_ca_file to the CA bundle that signed it instead",
        )


class TransportFailure(Exception):
    """A message was not (certainly) delivered; ``code`` is the SMTP reply code if any."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TemporaryFailure(TransportFailure):
    """Not delivered; trying again later may work. ``connection`` when the server, not this
    message, is the trouble (then the rest of the run cannot go on either). Left out, it
    follows the reply code: a failure without one (refused, dropped, timed out, a folder that
    cannot be written) is the connection's."""

    def __init__(
        self, message: str, code: int | None = None, *, connection: bool | None = None
    ) -> None:
        super().__init__(message, code)
        self.connection = code is None if connection is None else connection


class PermanentFailure(TransportFailure):
    """Refused for good."""

    def __init__(self, message: str, code: int | None = None, *, mailbox_unknown: bool = False):
        super().__init__(message, code)
        self.mailbox_unknown = mailbox_unknown


class PolicyRefusal(TransportFailure):
    """Refused, but not (certainly) because of this message: the server refuses mail from the
    shop (relay denied, a block list, the sender address, a policy). ``about_shop`` when it
    can only be about the shop (a refusal of MAIL FROM, 5.1.7, 5.1.8); otherwise it may be
    about this one recipient, and the next message tells (see the dispatcher)."""

    def __init__(self, message: str, code: int | None = None, *, about_shop: bool = False):
        super().__init__(message, code)
        self.about_shop = about_shop


class AmbiguousFailure(TransportFailure):
    """Handed over, outcome unknown: never retried automatically."""


class Transport(Protocol):
    """Sends fully built messages. ``send`` returns the server's reply (or a receipt)."""

    name: str

    def open(self) -> None:
        """Connect (and log in). Raises TemporaryFailure(connection=True) or SendError."""

    def send(
        self,
        message: EmailMessage,
        sender: str,
        recipient: str,
        *,
        before_data: Callable[[], None] | None = None,
        awaiting_reply: Callable[[], None] | None = None,
    ) -> str:
        """Hand one message over; raise a TransportFailure subclass if it did not go.

        ``before_data`` (optional) is called once the transaction has started (MAIL FROM
        written, its reply not read yet) and always before any of the message is handed
        over: the caller commits its claim on the message then, while the server works.
        If it raises, nothing is handed over. The SMTP transport calls it on a worker thread
        (so the commit's wait for the disk overlaps the server's replies to MAIL FROM, RCPT
        TO and DATA) and waits for it before writing the message; nothing else runs meanwhile.

        ``awaiting_reply`` (optional, must not raise) is called once the whole message is
        handed over, before its reply is read: the caller prepares its next message then,
        while the server takes this one in. A transport without such a wait may skip it.
        """
        ...

    def close(self) -> None:
        """Close the connection (quietly; it may already be gone)."""
