"""Where ``retain inbox`` reads messages from: the shop's IMAP mailbox, or a maildir folder.

A source hands out batches of ``(ref, bytes)`` and, once a batch is recorded in the
database, marks those messages processed (:meth:`ImapSource.mark`). Nothing is ever deleted
or expunged: IMAP messages get a keyword (``mailbox.processed_flag``) and, with
``mailbox.processed_folder``, are moved there (``UID MOVE``; on a server without MOVE they are
copied and only flagged). The ``\\Seen`` flag is left alone (messages are fetched with
``BODY.PEEK``), so the owner's mail program still shows replies as unread.

IMAP goes through imap-tools (connection, TLS, login, folders, search). The bulk fetch and the
flag store are issued on its imaplib client directly: imap-tools' ``fetch`` parses every
message into its own object (a cost we do not need twice) and its ``flag`` expunges the folder
after each store, which would remove messages the owner marked deleted.

A thread owns the connection: it logs in, searches and fetches while the main thread gets
ready (reads the ledger) and then classifies and records; the next batch is fetched while one
is classified. Marks come a few batches at a time (``process.RECORD``): a flag store costs the
server about as much per command as per message. UID sets are sent as ranges (``1:500``).
"""

from __future__ import annotations

import contextlib
import queue
import re
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from retain_cli.errors import MailboxError, UsageError
from retain_cli.mailbox.config import MailboxSettings

Batch = list[tuple[str, bytes]]
_UID = re.compile(rb"UID (\d+)")
_END = object()


def uid_ranges(uids: list[str]) -> str:
    """``["1", "2", "3", "7"]`` -> ``1:3,7`` (a UID set as IMAP writes it, RFC 3501)."""
    numbers = sorted({int(u) for u in uids})
    out: list[str] = []
    first = last = numbers[0] if numbers else 0
    for n in numbers[1:]:
        if n != last + 1:
            out.append(f"{first}:{last}" if last != first else str(first))
            first = n
        last = n
    if numbers:
        out.append(f"{first}:{last}" if last != first else str(first))
    return ",".join(out)


def tls_context(settings: MailboxSettings) -> ssl.SSLContext:
    """The system's trusted CAs (and ``tls_ca_file``'s); no check with ``tls_verify: false``."""
    context = ssl.create_default_context()
    if settings.tls_ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(settings.tls_ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise MailboxError(
                f"cannot use mailbox.tls_ca_file {settings.tls_ca_file} ({exc}); "
                "give a PEM file of the CA that signed the server's certificate"
            ) from None
    if not settings.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class ImapSource:
    """The shop's mailbox over IMAP (see the module's doc)."""

    def __init__(self, settings: MailboxSettings, password: str) -> None:
        self.settings = settings
        self._password = password
        self.name = f"imap://{settings.username}@{settings.host}/{settings.folder}"
        self._box: Any = None
        self._marks: queue.Queue[Any] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._fetched: queue.Queue[Any] = queue.Queue(maxsize=2)
        self._pending: list[str] = []
        self._stop = False
        self._error: BaseException | None = None
        self.can_move = False

    # --- connecting -----------------------------------------------------------------------

    def open(self) -> None:
        from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted
        from imap_tools.errors import MailboxFolderSelectError, MailboxLoginError

        s = self.settings
        try:
            if s.security == "ssl":
                box: Any = MailBox(s.host, s.port, timeout=s.timeout, ssl_context=tls_context(s))
            elif s.security == "starttls":
                box = MailBoxStartTls(s.host, s.port, timeout=s.timeout, ssl_context=tls_context(s))
            else:
                box = MailBoxUnencrypted(s.host, s.port, timeout=s.timeout)
        except ssl.SSLError as exc:
            raise MailboxError(
                f"TLS with the mailbox {s.where} failed ({exc.reason or exc}); check "
                "mailbox.security (ssl for port 993, starttls for 143), mailbox.tls_ca_file "
                "or mailbox.tls_verify"
            ) from None
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise MailboxError(
                f"cannot connect to the mailbox {s.where} ({reason}); check mailbox.host and "
                "mailbox.port, or try again later"
            ) from None
        try:
            box.login(s.username, self._password, initial_folder=None)
        except MailboxLoginError:
            self._drop(box)
            raise MailboxError(
                f"IMAP login to {s.where} as {s.username} was refused; check "
                f"mailbox.username and the password in "
                f"${s.password_env or 'RETAIN_IMAP_PASSWORD'} or the keyring"
            ) from None
        except Exception as exc:
            self._drop(box)
            raise MailboxError(f"IMAP login to {s.where} failed ({type(exc).__name__})") from None
        try:
            box.folder.set(s.folder)
        except MailboxFolderSelectError:
            self._drop(box)
            raise MailboxError(
                f"the mailbox {s.where} has no folder {s.folder!r}; check mailbox.folder"
            ) from None
        if s.processed_folder and not box.folder.exists(s.processed_folder):
            box.folder.create(s.processed_folder)
        _, caps = box.client.capability()  # asked again: a server adds some after login
        self.can_move = b"MOVE" in (caps[0] or b"").upper().split() if caps else False
        self._box = box

    @staticmethod
    def _drop(box: Any) -> None:
        with contextlib.suppress(OSError):
            box.client.shutdown()

    def close(self) -> None:
        """Finish marking (waits for the worker), then log out. Raises what the worker hit."""
        if self._worker is not None:
            self._stop = True  # the caller stopped early: fetch no more
            self._marks.put(_END)
            while self._worker.is_alive():
                with contextlib.suppress(queue.Empty):  # a worker waiting to hand a batch over
                    self._fetched.get_nowait()
                self._worker.join(0.05)
            self._worker = None
        box, self._box = self._box, None
        if box is not None:
            try:
                box.logout()
            except Exception:
                self._drop(box)
        if self._error is not None:
            error, self._error = self._error, None
            raise self._failure(error)

    def _failure(self, exc: BaseException) -> MailboxError:
        if isinstance(exc, MailboxError):
            return exc
        return MailboxError(
            f"the connection to the mailbox {self.settings.where} failed ({exc}); what was "
            "recorded so far is kept, run retain inbox again"
        )

    # --- reading and marking ----------------------------------------------------------------

    def new_uids(self) -> list[str]:
        """UIDs of the messages not marked processed yet, oldest first."""
        assert self._box is not None
        found = self._box.uids(f"UNKEYWORD {self.settings.processed_flag}", charset=None)
        return sorted(found, key=int)

    def start(self, size: int) -> None:
        """Connect (if not yet), search and fetch in the worker, while the caller gets ready."""
        if self._worker is None:
            self._fetched = queue.Queue(maxsize=2)
            self._worker = threading.Thread(target=self._work, args=(size,), daemon=True)
            self._worker.start()

    def batches(self, size: int) -> Iterator[Batch]:
        """The new messages, ``size`` at a time; the next batch is fetched while the caller
        works on this one."""
        self.start(size)
        assert self._worker is not None
        while True:
            item = self._fetched.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                self._worker.join()
                self._worker = None
                self._error = None
                raise self._failure(item)
            yield item

    def mark(self, refs: list[str]) -> None:
        """Mark these messages processed (done by the worker, in order)."""
        if refs:
            self._marks.put(list(refs))

    def _work(self, size: int) -> None:
        fetched = self._fetched
        try:
            if self._box is None:
                self.open()
            uids = self.new_uids()
            for i in range(0, len(uids), size):
                if self._stop:
                    break
                self._serve_marks(final=False)
                fetched.put(self._fetch(uids[i : i + size]))
            fetched.put(_END)
        except BaseException as exc:
            fetched.put(exc)
            return
        try:
            self._serve_marks(final=True)
        except BaseException as exc:
            self._error = exc

    def _serve_marks(self, *, final: bool) -> None:
        """Store the marks asked for so far in one command (when ``final``, wait for the
        last)."""
        while True:
            try:
                refs = self._marks.get(block=final)
            except queue.Empty:
                break
            if refs is _END:
                break
            self._pending += refs
        if self._pending:
            pending, self._pending = self._pending, []
            self._store(pending)

    def _fetch(self, uids: list[str]) -> Batch:
        client = self._box.client
        typ, data = client.uid("FETCH", uid_ranges(uids), "(UID BODY.PEEK[])")
        if typ != "OK":
            raise MailboxError(f"the mailbox {self.settings.where} refused to fetch: {data!r}")
        out: Batch = []
        for item in data:
            if isinstance(item, tuple) and len(item) == 2:
                match = _UID.search(item[0])
                if match:
                    out.append((match.group(1).decode(), item[1]))
        return out

    def _store(self, uids: list[str]) -> None:
        client = self._box.client
        uid_set = uid_ranges(uids)
        typ, data = client.uid(
            "STORE", uid_set, "+FLAGS.SILENT", f"({self.settings.processed_flag})"
        )
        if typ != "OK":
            raise MailboxError(
                f"the mailbox {self.settings.where} refused the flag "
                f"{self.settings.processed_flag}: {data!r}"
            )
        folder = self.settings.processed_folder
        if folder:
            from imap_tools.imap_utf7 import utf7_encode

            name = (
                '"' + utf7_encode(folder).decode().replace("\\", "\\\\").replace('"', '\\"') + '"'
            )
            verb = "MOVE" if self.can_move else "COPY"  # COPY: the flag marks it, nothing deleted
            typ, data = client.uid(verb, uid_set, name)
            if typ != "OK":
                raise MailboxError(
                    f"the mailbox {self.settings.where} refused to move messages to "
                    f"{folder!r}: {data!r}"
                )


class MaildirSource:
    """A maildir folder (``cur/``, ``new/``) read as it is: nothing in it is changed; the
    database alone remembers what was processed."""

    def __init__(self, path: Path) -> None:
        if not (path / "cur").is_dir() and not (path / "new").is_dir():
            raise UsageError(
                f"{path} is not a maildir (no cur/ or new/ folder in it); pass the folder "
                "that holds cur/ and new/"
            )
        self.path = path
        self.name = f"maildir:{path}"

    def batches(self, size: int) -> Iterator[Batch]:
        names = sorted(
            p
            for sub in ("new", "cur")
            if (self.path / sub).is_dir()
            for p in (self.path / sub).iterdir()
            if p.is_file() and not p.name.startswith(".")
        )
        batch: Batch = []
        for file in names:
            try:
                data = file.read_bytes()
            except OSError as exc:
                raise MailboxError(f"cannot read {file}: {exc.strerror}") from None
            batch.append((f"{file.parent.name}/{file.name}", data))
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch

    def start(self, size: int) -> None:
        """Nothing to start: files are read as they are asked for."""

    def mark(self, refs: list[str]) -> None:
        """Nothing to do: the folder is left as it is."""

    def close(self) -> None:
        """Nothing to close."""
