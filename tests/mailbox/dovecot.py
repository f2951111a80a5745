"""A real IMAP server for the mailbox tests and the inbox benchmark: Dovecot (Debian's
``dovecot-imapd``) on 127.0.0.1, with its own configuration in a temporary folder.

No system configuration is read. Users are in a passwd-file (plain passwords, one line each,
re-read by Dovecot when it changes), mail in a maildir per user. Dovecot's login processes
refuse to run as root and its mail processes refuse uid 0, so when the tests run as root (CI)
logins run as ``nobody`` (chrooted, as Dovecot does by default) and mail is owned by
``nobody``; otherwise everything runs as the current user. The folder lives under /tmp with a
short name (Dovecot's sockets must fit in a Unix socket path).

Run as a script (``python tests/mailbox/dovecot.py``) it starts a server and prints its port.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

CANDIDATES = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot")
MISSING = (
    "dovecot is not installed: the IMAP tests need a real server "
    "(apt-get install dovecot-imapd; .ci/run installs it)"
)


def dovecot_binary() -> str | None:
    found = shutil.which("dovecot")
    if found:
        return found
    return next((c for c in CANDIDATES if os.access(c, os.X_OK)), None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Dovecot:
    """``with Dovecot() as server:`` ... ``server.add_user("shop", "secret")``."""

    def __init__(self, *, tls: tuple[Path, Path] | None = None) -> None:
        binary = dovecot_binary()
        if binary is None:
            raise RuntimeError(MISSING)
        self.binary = binary
        self.port = free_port()
        self.tls = tls  # (certificate chain PEM, key PEM): the listener speaks TLS (imaps)
        self.root = Path(tempfile.mkdtemp(prefix="rdc-", dir="/tmp"))
        self.root.chmod(0o755)
        self.as_root = os.geteuid() == 0
        self.mail_user = pwd.getpwnam("nobody") if self.as_root else pwd.getpwuid(os.getuid())
        self.passwd = self.root / "passwd"
        self.passwd.write_text("")
        self.mail = self.root / "mail"
        self.mail.mkdir()
        os.chown(self.mail, self.mail_user.pw_uid, self.mail_user.pw_gid)

    def config(self) -> str:
        me = pwd.getpwuid(os.getuid()).pw_name
        login_user = "nobody" if self.as_root else me
        uid, gid = self.mail_user.pw_uid, self.mail_user.pw_gid
        tls = (
            f"ssl = required\nssl_cert = <{self.tls[0]}\nssl_key = <{self.tls[1]}\n"
            if self.tls
            else "ssl = no\n"
        )
        listeners = (
            f"  inet_listener imap {{\n    port = 0\n  }}\n"
            f"  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {self.port}\n"
            "    ssl = yes\n  }\n"
            if self.tls
            else f"  inet_listener imap {{\n    address = 127.0.0.1\n    port = {self.port}\n"
            "  }\n  inet_listener imaps {\n    port = 0\n  }\n"
        )
        chroot = "" if self.as_root else "  chroot =\n"
        return (
            f"base_dir = {self.root}/run\nstate_dir = {self.root}/state\n"
            f"log_path = {self.root}/dovecot.log\n"
            "protocols = imap\nlisten = 127.0.0.1\n"
            f"{tls}disable_plaintext_auth = no\nauth_mechanisms = plain login\n"
            f"mail_location = maildir:{self.mail}/%u\nmail_fsync = never\n"
            f"default_internal_user = {me}\ndefault_internal_group = "
            f"{pwd.getpwuid(os.getuid()).pw_name if not self.as_root else 'root'}\n"
            f"default_login_user = {login_user}\nfirst_valid_uid = {min(uid, 1)}\n"
            "first_valid_gid = 0\n"
            f"passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u "
            f"{self.passwd}\n}}\n"
            f"userdb {{\n  driver = static\n  args = uid={uid} gid={gid} "
            f"home={self.mail}/%u\n}}\n"
            f"service imap-login {{\n{listeners}{chroot}}}\n"
            "service anvil {\n  chroot =\n}\n"
            "protocol imap {\n  mail_max_userip_connections = 50\n}\n"
        )

    def start(self) -> Dovecot:
        for sub in ("run", "state"):
            (self.root / sub).mkdir(exist_ok=True)
        conf = self.root / "dovecot.conf"
        conf.write_text(self.config())
        self._errors = (self.root / "stderr.log").open("w")
        self.process = subprocess.Popen(  # -F: in the foreground, our child, ended by stop()
            [self.binary, "-F", "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=self._errors,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot did not start{self.log()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock,
            ):
                if self.tls or sock.recv(100).startswith(b"* OK"):
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not answer on port {self.port}{self.log()}")

    def log(self) -> str:
        text = ""
        for name in ("stderr.log", "dovecot.log"):
            path = self.root / name
            if path.exists():
                text += path.read_text()[-2000:]
        return f"\n{text}" if text else ""

    def stop(self) -> None:
        process = getattr(self, "process", None)
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if getattr(self, "_errors", None) is not None:
            self._errors.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- users and messages -------------------------------------------------------------

    def add_user(self, name: str, password: str) -> None:
        with self.passwd.open("a") as out:
            out.write(f"{name}:{{PLAIN}}{password}\n")

    def connect(self, user: str, password: str) -> imaplib.IMAP4:
        if self.tls:
            import ssl

            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=context)
        else:
            client = imaplib.IMAP4("127.0.0.1", self.port)
        client.login(user, password)
        return client

    def append(
        self, user: str, password: str, messages: list[bytes], folder: str = "INBOX"
    ) -> None:
        client = self.connect(user, password)
        try:
            for raw in messages:
                typ, data = client.append(folder, None, None, raw)
                assert typ == "OK", data
        finally:
            client.logout()


if __name__ == "__main__":
    server = Dovecot().start()
    server.add_user("shop", "secret")
    print(server.port, flush=True)
    try:
        signal.pause()
    finally:
        server.stop()
