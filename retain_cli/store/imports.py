"""SQL for the imports domain (a mixin of :class:`retain_cli.store.Store`)."""

from __future__ import annotations

from retain_cli.store.base import StoreBase


class ImportStore(StoreBase):
    """Queries and writes for imports."""
