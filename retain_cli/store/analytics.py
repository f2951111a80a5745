"""SQL for the analytics domain (a mixin of :class:`retain_cli.store.Store`)."""

from __future__ import annotations

from retain_cli.store.base import StoreBase


class AnalyticsStore(StoreBase):
    """Queries and writes for analytics."""
