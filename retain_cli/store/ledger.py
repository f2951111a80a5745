"""SQL for the ledger domain (a mixin of :class:`retain_cli.store.Store`)."""

from __future__ import annotations

from retain_cli.store.base import StoreBase


class LedgerStore(StoreBase):
    """Queries and writes for ledger."""
