"""SMTP through yagmail: one connection reused for a batch, our own bytes on the wire.

yagmail opens the connection (SSL or STARTTLS, EHLO, login) and keeps it as
``client.smtp`` (an ``smtplib.SMTP``). We do not use ``client.send``: it builds its own
message from parts (we need our headers exactly as built: Message-ID from the send key,
List-Unsubscribe ...) and it retries a dropped connection by itself, which could send a message
twice. Instead each message goes through the connection as MAIL FROM, RCPT TO, DATA, with the
moment the message's final dot is written recorded: a failure before it is safe to retry, a
failure after it (no reply, timeout) leaves the outcome unknown: ambiguous, never retried.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from retain_cli.errors import SendError
from retain_cli.transports.base import (
    AmbiguousFailure,
    SmtpSettings,
    TemporaryFailure,
)
from retain_cli.transports.replies import Refusal, clean_text, refusal

_DOTS = re.compile(rb"(?m)^\.")
_text = clean_text
_refused = refusal  # what a refusal means: retain_cli.transports.replies


def _angle(address: str) -> str:
    """``<address>`` for MAIL FROM / RCPT TO. Our addresses are plain (validated, no name);
    anything else goes through smtplib's parser (which is slow: it runs twice per message)."""
    if _PLAIN.match(address):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


_PLAIN = re.compile(r"^[^\s<>()\[\]\\,;:\"@]+@[^\s<>()\[\]\\,;:\"@]+$")


class SmtpTransport:
    name = "smtp"

    def __init__(self, settings: SmtpSettings, password: str | None) -> None:
        self.settings = settings
        self._password = password
        self._client: Any = None
        self._smtp: smtplib.SMTP | None = None
        self._policies: dict[int, tuple[Any, Any]] = {}  # id(policy) -> (policy, CRLF clone)
        self._angles: dict[str, str] = {}  # the sender's <address>, formatted once

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def open(self) -> None:
        from retain_cli.transports.deadline import BoundedClient  # yagmail's, replies bounded

        settings = self.settings
        login = settings.username is not None
        client = BoundedClient(
            user=settings.username if login else None,
            password=self._password if login else "",
            host=settings.host,
            port=settings.port,
            smtp_ssl=settings.security == "ssl",
            smtp_starttls=settings.security == "starttls",
            smtp_skip_login=not login,
            soft_email_validation=False,
            timeout=settings.timeout,
        )
        client.set_logging(None)
        if login:
            # yagmail appends "@gmail.com" to a user name without "@"; logins such as
            # "apikey" must reach the server exactly as configured.
            client.user = settings.username
        try:
            client.login()
            smtp: smtplib.SMTP = client.smtp
            smtp.ehlo_or_helo_if_needed()
        except smtplib.SMTPAuthenticationError as exc:
            self._forget(client)
            raise SendError(
                f"SMTP login to {self.where} as {settings.username} was refused "
                f"({exc.smtp_code} {_text(exc.smtp_error)}); check transport.username and the "
                f"password in ${settings.password_env or 'RETAIN_SMTP_PASSWORD'} or the keyring"
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            self._forget(client)
            raise SendError(
                f"SMTP server {self.where} does not support what transport.security "
                f"{settings.security!r} needs ({exc}); try security: ssl or none"
            ) from None
        except ssl.SSLError as exc:
            self._forget(client)
            raise SendError(
                f"TLS with {self.where} failed ({exc.reason or exc}); check transport.security "
                "(ssl for port 465, starttls for 587)"
            ) from None
        except smtplib.SMTPResponseException as exc:
            self._forget(client)
            raise TemporaryFailure(
                f"SMTP server {self.where} refused the connection: {exc.smtp_code} "
                f"{_text(exc.smtp_error)}",
                exc.smtp_code,
                connection=True,
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            self._forget(client)
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise TemporaryFailure(
                f"cannot connect to SMTP server {self.where} ({reason}); check transport.host "
                "and transport.port, or try again later",
                connection=True,
            ) from None
        self._client = client
        self._smtp = smtp

    def _forget(self, client: Any) -> None:
        client.is_closed = True  # yagmail's __del__ would try to QUIT a half-open connection
        smtp = getattr(client, "smtp", None)
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()

    def send(
        self,
        message: EmailMessage,
        sender: str,
        recipient: str,
        *,
        before_data: Callable[[], None] | None = None,
        awaiting_reply: Callable[[], None] | None = None,
    ) -> str:
        if self._smtp is None:
            self.open()
        smtp = self._smtp
        assert smtp is not None
        data = message.as_bytes(policy=self._crlf(message.policy))
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        if data.startswith(b".") or b"\n." in data:
            data = _DOTS.sub(b"..", data)
        data += b".\r\n"
        envelope: str | None = getattr(message, "envelope_from", None)  # VERP: its own
        mail_from = _angle(envelope) if envelope else self._angles.get(sender)
        if mail_from is None:
            mail_from = self._angles[sender] = _angle(sender)
        try:
            smtp.putcmd("mail", f"FROM:{mail_from}")
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            self.close()
            raise TemporaryFailure(
                f"connection to {self.where} lost before the message was handed over ({exc})"
            ) from None
        if before_data is not None:
            try:
                before_data()  # e.g. the ledger commit, while the server answers MAIL FROM
            except BaseException:
                self.close()
                raise
        try:
            code, reply = smtp.getreply()
            if code != 250:
                raise self._after_refusal(code, reply, "MAIL")
            smtp.putcmd("rcpt", f"TO:{_angle(recipient)}")
            code, reply = smtp.getreply()
            if code not in (250, 251):
                raise self._after_refusal(code, reply, "RCPT")
            smtp.putcmd("data")
            code, reply = smtp.getreply()
            if code != 354:
                raise self._after_refusal(code, reply, "DATA")
            smtp.send(data)
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            self.close()
            raise TemporaryFailure(
                f"connection to {self.where} lost before the message was handed over ({exc})"
            ) from None
        # Everything is written; from here on the server may have accepted it.
        if awaiting_reply is not None:
            awaiting_reply()  # e.g. build the next message while the server takes this one
        try:
            code, reply = smtp.getreply()
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            self.close()
            raise AmbiguousFailure(
                f"no reply from {self.where} after the message was handed over ({exc}); "
                "it may have been delivered"
            ) from None
        if code != 250:
            raise self._after_refusal(code, reply, "end of DATA")
        return f"{code} {_text(reply)}"

    def _crlf(self, policy: Any) -> Any:
        """The message's policy with CRLF line endings (cloned once per policy, not per
        message)."""
        known = self._policies.get(id(policy))
        if known is None or known[0] is not policy:
            known = self._policies[id(policy)] = (policy, policy.clone(linesep="\r\n"))
        return known[1]

    def _after_refusal(self, code: int, reply: bytes, stage: str) -> Refusal:
        failure = _refused(code, reply, stage)
        if code == 421:
            self.close()  # the server is closing the channel
        else:
            try:
                assert self._smtp is not None
                self._smtp.rset()
            except (OSError, smtplib.SMTPException):
                self.close()
        return failure

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        client, self._client = self._client, None
        if client is not None:
            client.is_closed = True
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            with contextlib.suppress(OSError):
                smtp.close()
