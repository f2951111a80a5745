"""SMTP through yagmail: one connection reused for a batch, our own bytes on the wire.

yagmail opens the connection (SSL or STARTTLS, EHLO) and keeps it as ``client.smtp`` (an
``smtplib.SMTP``). TLS checks the server's certificate and host name (the system's CAs, or
``tls_ca_file``) before anything else is said; the login is ours (:func:`smtp_login`): the
user name and password go as UTF-8, and no error ever quotes the password.

We do not use ``client.send``: it builds its own message from parts (we need our headers
exactly as built: Message-ID from the send key, List-Unsubscribe ...) and it retries a dropped
connection by itself, which could send a message twice. Instead each message goes through the
connection as MAIL FROM, RCPT TO, DATA, with the moment the message's final dot is written
recorded: a failure before it is safe to retry, a failure after it (no reply, timeout) leaves
the outcome unknown: ambiguous, never retried.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import re
import smtplib
import ssl
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
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


MECHANISMS = ("CRAM-MD5", "PLAIN", "LOGIN")  # smtplib's order of preference


class NoCommonMechanism(Exception):
    def __init__(self, offered: str) -> None:
        super().__init__("no common AUTH mechanism")
        self.offered = offered


def tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    """The context for ``ssl`` and ``starttls``: the server's certificate and host name are
    checked against the system's CAs, or only those in ``tls_ca_file``; ``tls_verify: false``
    turns the check off (the transport then has a warning to print on every run)."""
    if not settings.tls_verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    ca_file = settings.tls_ca_file
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ValueError) as exc:  # missing file (OSError), not PEM (ssl.SSLError)
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise SendError(
            f"cannot use transport.tls_ca_file {ca_file} ({reason}); name a PEM file with the "
            "certificate of the CA that signed the server's certificate"
        ) from None


def smtp_login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """AUTH with the user name and password encoded as UTF-8 (RFC 4616 for PLAIN).

    ``smtplib.SMTP.login`` encodes them as ASCII: a password such as 'pässwörd' fails with a
    UnicodeEncodeError that quotes a character of it and its position. Raises what
    ``login`` raises: SMTPNotSupportedError (no AUTH), SMTPAuthenticationError (refused),
    and :class:`NoCommonMechanism`.
    """
    smtp.ehlo_or_helo_if_needed()
    if not smtp.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
    offered_text = smtp.esmtp_features["auth"]
    offered = offered_text.upper().split()
    mechanism = next((m for m in MECHANISMS if m in offered), None)
    if mechanism is None:
        raise NoCommonMechanism(offered_text)
    user, secret = username.encode(), password.encode()
    if mechanism == "PLAIN":
        code, reply = smtp.docmd("AUTH", "PLAIN " + _b64(b"\0" + user + b"\0" + secret))
    elif mechanism == "LOGIN":
        code, reply = smtp.docmd("AUTH", "LOGIN " + _b64(user))
        if code == 334:
            code, reply = smtp.docmd(_b64(secret))
    else:
        code, reply = smtp.docmd("AUTH", "CRAM-MD5")
        if code == 334:
            digest = hmac.HMAC(secret, base64.decodebytes(reply), "md5").hexdigest()
            code, reply = smtp.docmd(_b64(user + b" " + digest.encode()))
    if code not in (235, 503):  # 503: already logged in (as smtplib counts it)
        raise smtplib.SMTPAuthenticationError(code, reply)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _without(text: str, secret: str) -> str:
    """``text`` with ``secret`` blotted out (a server could echo what it was sent)."""
    return text.replace(secret, "***") if secret else text


class SmtpTransport:
    name = "smtp"

    def __init__(self, settings: SmtpSettings, password: str | None) -> None:
        self.settings = settings
        self._password = password
        self._client: Any = None
        self._smtp: smtplib.SMTP | None = None
        self._policies: dict[int, tuple[Any, Any]] = {}  # id(policy) -> (policy, CRLF clone)
        self._angles: dict[str, str] = {}  # the sender's <address>, formatted once
        self._pool: ThreadPoolExecutor | None = None  # runs before_data (see send)

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    @property
    def warnings(self) -> tuple[str, ...]:
        """Warnings to print on every run (``tls_verify: false``)."""
        return self.settings.warnings

    def open(self) -> None:
        from retain_cli.transports.deadline import BoundedClient  # yagmail's, replies bounded

        settings = self.settings
        context = tls_context(settings) if settings.security != "none" else None
        kwargs: dict[str, Any] = {"timeout": settings.timeout}
        if settings.security == "ssl":
            kwargs["context"] = context  # smtplib.SMTP_SSL(host, port, context=...)
        # yagmail connects (SSL or STARTTLS with our context, EHLO) but never logs in: its
        # login goes through smtplib's, which encodes the password as ASCII. We log in below.
        client = BoundedClient(
            user=None,
            password=None,
            host=settings.host,
            port=settings.port,
            smtp_ssl=settings.security == "ssl",
            smtp_starttls={"context": context} if settings.security == "starttls" else False,
            smtp_skip_login=True,
            soft_email_validation=False,
            **kwargs,
        )
        client.set_logging(None)
        try:
            client.login()
            smtp: smtplib.SMTP = client.smtp
            smtp.ehlo_or_helo_if_needed()
        except ssl.SSLCertVerificationError as exc:
            self._forget(client)
            reason = (exc.verify_message or exc.reason or str(exc)).rstrip(".")
            raise SendError(
                f"certificate of {settings.host} not trusted: {reason}; set "
                "transport.tls_ca_file to your CA bundle, or transport.host to the name on "
                "the certificate (the password was not sent)"
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
        if settings.username is not None:
            try:
                self._login(smtp, settings.username, self._password or "")
            except BaseException:
                self._forget(client)
                raise
        self._client = client
        self._smtp = smtp

    def _login(self, smtp: smtplib.SMTP, username: str, password: str) -> None:
        """Log in, mapping every failure to an error that names the server and the kind of
        failure, never the password (not even a character of it, nor its position)."""
        settings = self.settings
        who = f"SMTP login to {self.where} as {username}"
        where_password = f"${settings.password_env or 'RETAIN_SMTP_PASSWORD'} or the keyring"
        try:
            smtp_login(smtp, username, password)
        except smtplib.SMTPAuthenticationError as exc:
            reply = _without(_text(exc.smtp_error), password)
            raise SendError(
                f"{who} was refused ({exc.smtp_code} {reply}); check transport.username and "
                f"the password in {where_password}"
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise SendError(
                f"SMTP server {self.where} offers no login (AUTH); remove transport.username "
                "if it needs none, or use security: starttls or ssl (many servers offer AUTH "
                "only over TLS)"
            ) from None
        except NoCommonMechanism as exc:
            raise SendError(
                f"SMTP server {self.where} offers no login method retain knows (it offers "
                f"{_without(exc.offered, password) or 'none'}; retain knows "
                f"{', '.join(MECHANISMS)})"
            ) from None
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise TemporaryFailure(
                f"connection to {self.where} lost during the login ({reason})",
                connection=True,
            ) from None
        except Exception as exc:  # never str(exc): it could quote the password
            raise SendError(f"{who} failed ({type(exc).__name__})") from None

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
        # The claim (before_data: a ledger commit that waits for the disk) runs on a worker
        # thread while the server answers MAIL FROM, RCPT TO and DATA; the message itself
        # goes only once it has finished.
        pending = self._worker().submit(before_data) if before_data is not None else None
        refusal: tuple[int, bytes, str] | None = None
        lost: BaseException | None = None
        try:
            for command, argument, stage, expected in (
                ("mail", None, "MAIL", (250,)),
                ("rcpt", f"TO:{_angle(recipient)}", "RCPT", (250, 251)),
                ("data", "", "DATA", (354,)),
            ):
                if argument is not None:  # (MAIL FROM is written already)
                    smtp.putcmd(command, argument)
                code, reply = smtp.getreply()
                if code not in expected:
                    refusal = (code, reply, stage)
                    break
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            lost = exc
        finally:
            if pending is not None:
                self._finish(pending)  # if before_data raised: nothing is handed over
        try:
            if lost is not None:
                raise lost
            if refusal is not None:
                raise self._after_refusal(*refusal)
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

    def _worker(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="retain-claim")
        return self._pool

    def _finish(self, pending: Future[None]) -> None:
        """Wait for ``before_data``; should it have raised, close and raise that."""
        try:
            pending.result()
        except BaseException:
            wait([pending])  # (interrupted while waiting: the worker must be done first)
            self.close()
            raise

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
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
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
