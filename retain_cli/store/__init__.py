"""The store: one SQLite file, and every SQL statement retain runs.

``Store`` is assembled from one mixin per domain (each module in this package owns the SQL of
its domain), so that the schema and its queries stay together and out of the CLI.
"""

from __future__ import annotations

from retain_cli.store.analytics import AnalyticsStore
from retain_cli.store.campaigns import CampaignStore
from retain_cli.store.control import ControlStore
from retain_cli.store.coupons import CouponStore
from retain_cli.store.customers import CustomerStore
from retain_cli.store.feedback import FeedbackStore
from retain_cli.store.imports import ImportStore
from retain_cli.store.ledger import LedgerStore
from retain_cli.store.loyalty import LoyaltyStore
from retain_cli.store.mailbox import MailboxStore
from retain_cli.store.measure import MeasureStore
from retain_cli.store.predict import PredictStore
from retain_cli.store.products import ProductStore
from retain_cli.store.program import ProgramStore
from retain_cli.store.settings import SettingsStore
from retain_cli.store.suppressions import SuppressionStore
from retain_cli.store.tasks import TaskStore
from retain_cli.store.trust import TrustStore


class Store(
    ImportStore,
    CustomerStore,
    AnalyticsStore,
    ProductStore,
    PredictStore,
    CampaignStore,
    LedgerStore,
    SettingsStore,
    MailboxStore,
    MeasureStore,
    SuppressionStore,
    TaskStore,
    ControlStore,
    FeedbackStore,
    TrustStore,
    ProgramStore,
    CouponStore,
    LoyaltyStore,
):
    """Open with ``Store.open(path)``; use as a context manager to close it."""


__all__ = ["Store"]
