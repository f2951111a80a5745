"""Ways a message leaves retain: SMTP (through yagmail's connection) or an outbox folder."""

from __future__ import annotations

from retain_cli.transports.base import (
    AmbiguousFailure,
    PermanentFailure,
    PolicyRefusal,
    TemporaryFailure,
    Transport,
    TransportFailure,
)

__all__ = [
    "AmbiguousFailure",
    "PermanentFailure",
    "PolicyRefusal",
    "TemporaryFailure",
    "Transport",
    "TransportFailure",
]
