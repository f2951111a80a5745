"""SQL for the customers domain (a mixin of :class:`retain_cli.store.Store`)."""

from __future__ import annotations

from retain_cli.store.base import StoreBase


class CustomerStore(StoreBase):
    """Queries and writes for customers."""
