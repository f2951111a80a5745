"""SQL for the campaigns domain (a mixin of :class:`retain_cli.store.Store`)."""

from __future__ import annotations

from retain_cli.store.base import StoreBase


class CampaignStore(StoreBase):
    """Queries and writes for campaigns."""
