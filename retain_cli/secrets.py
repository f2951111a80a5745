"""The SMTP password: from the environment variable the campaign file names, else the system
keyring. Never read from the campaign file, never logged, never put in an error message."""

from __future__ import annotations

import os
from typing import Protocol

from retain_cli.errors import SendError

DEFAULT_PASSWORD_ENV = "RETAIN_SMTP_PASSWORD"
DEFAULT_KEYRING_SERVICE = "retain"


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
    if settings.username is None:
        return None
    env = settings.password_env or DEFAULT_PASSWORD_ENV
    value = os.environ.get(env)
    if value:
        return value
    service = settings.keyring_service or DEFAULT_KEYRING_SERVICE
    from_keyring = _keyring_password(service, settings.username, env)
    if from_keyring:
        return from_keyring
    raise SendError(
        f"no SMTP password for {settings.username}: set the environment variable {env} "
        f"(transport.password_env), or store it in the system keyring with "
        f"'keyring set {service} {settings.username}'"
    )


def _keyring_password(service: str, username: str, env: str) -> str | None:
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
            f"cannot read the SMTP password from the system keyring ({type(exc).__name__}); "
            f"set the environment variable {env} instead"
        ) from None
    except Exception:  # a broken keyring backend must not stop a cron run with a traceback
        return None
