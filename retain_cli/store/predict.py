"""SQL for the predict domain (a mixin of :class:`retain_cli.store.Store`)."""

from __future__ import annotations

from retain_cli.store.base import StoreBase


class PredictStore(StoreBase):
    """Queries and writes for predict."""
