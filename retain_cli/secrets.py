"""The SMTP and IMAP passwords: from the environment variable the campaign file names, else
the system keyring. Never read from the campaign file, never logged, never put in an error
message."""

from __future__ import annotations

import os
from typing import Protocol

from retain_cli.errors import SendError

DEFAULT_PASSWORD_ENV = "RETAIN_SMTP_PASSWORD"
DEFAULT_KEYRING_SERVICE = "retain"
DEFAULT_IMAP_PASSWORD_ENV = "RETAIN_IMAP_PASSWORD"
DEFAULT_IMAP_KEYRING_SERVICE = "retain-imap"


class Credentials(Protocol):
    """Where a login's password is found (the transport settings of a campaign file)."""

    @property
    def username(self) -> str | None: ...
    @property
    def password_env(self) -> str | None: ...
    @property
    def keyring_service(self) -> str | None: ...


def smtp_password(settings: Credentials) -> str | None:
    """The password for ``settings.username`` (None when the server needs no login)."""
    return _password(settings, "SMTP", "transport", DEFAULT_PASSWORD_ENV, DEFAULT_KEYRING_SERVICE)


def imap_password(settings: Credentials) -> str:
    """The mailbox's password for ``settings.username`` (the campaign file's ``mailbox:``)."""
    password = _password(
        settings, "IMAP", "mailbox", DEFAULT_IMAP_PASSWORD_ENV, DEFAULT_IMAP_KEYRING_SERVICE
    )
    assert password is not None  # a mailbox always has a username
    return password


def _password(
    settings: Credentials, what: str, section: str, default_env: str, default_service: str
) -> str | None:
    if settings.username is None:
        return None
    env = settings.password_env or default_env
    value = os.environ.get(env)
    if value:
        return value
    service = settings.keyring_service or default_service
    from_keyring = _keyring_password(service, settings.username, env, what)
    if from_keyring:
        return from_keyring
    raise SendError(
        f"no {what} password for {settings.username}: set the environment variable {env} "
        f"({section}.password_env), or store it in the system keyring with "
        f"'keyring set {service} {settings.username}'"
    )


def _keyring_password(service: str, username: str, env: str, what: str) -> str | None:
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:  # pragma: no cover - keyring is a dependency
        return None
    from keyring.errors import NoKeyringError

    try:
        return keyring.get_password(service, username)
    except NoKeyringError:  # no keyring on this machine (a server run by cron, usually)
        return None
    except KeyringError as exc:
        raise SendError(
            f"cannot read the {what} password from the system keyring ({type(exc).__name__}); "
            f"set the environment variable {env} instead"
        ) from None
    except Exception:  # a broken keyring backend must not stop a cron run with a traceback
        return None
