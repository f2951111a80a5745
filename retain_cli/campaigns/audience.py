"""Who is in a campaign's audience, and whether each of them may be mailed.

The audience is every customer (``audience: all``) or the members of a segment, narrowed by
an optional ``where`` filter (:mod:`retain_cli.analytics.filters`). Nobody is dropped for lack of
consent here: the frame carries ``consent`` (the store's ``customer_consent`` view:
``accepts_marketing = 1``, an e-mail address, and not suppressed) and ``suppressed``, so the
planner can report who is left out and why.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING

from retain_cli.campaigns.model import Campaign, CampaignConfig
from retain_cli.errors import ConfigError, RetainError
from retain_cli.timeutil import to_iso

if TYPE_CHECKING:
    import pandas as pd

    from retain_cli.store import Store


def customer_frame(
    store: Store, as_of: datetime, refs: Collection[int] | None = None
) -> pd.DataFrame:
    """Every customer (or those in ``refs``): the segments module's features, plus names,
    suppression and consent.

    Pass it to :func:`audience_members` as ``features`` to compute it once for many campaigns.
    """
    import pandas as pd

    from retain_cli.analytics.features import customer_features

    frame = customer_features(store, as_of, refs)
    extra = ["first_name", "last_name", "suppressed", "consent", "total_spent_minor"]
    own = pd.DataFrame(store.campaign_customer_features(to_iso(as_of), refs))
    if own.empty:
        own = pd.DataFrame(columns=["customer_ref", *extra])
    own = own.set_index("customer_ref")[extra]
    frame = frame.join(own, how="left")
    frame["suppressed"] = frame["suppressed"].fillna(0).astype(bool)
    frame["consent"] = frame["consent"].fillna(0).astype(bool)
    return frame


def check_segment(name: str) -> str | None:
    """A problem with a segment name, or None when it exists."""
    from retain_cli.analytics.segments import find_segment

    try:
        find_segment(name)
    except RetainError as exc:
        return str(exc)
    return None


def check_where(text: str) -> str | None:
    """A problem with a ``where`` filter, or None when it compiles."""
    from retain_cli.analytics.filters import compile_filter

    try:
        compile_filter(text, where="audience.where")
    except RetainError as exc:
        return str(exc)
    return None


def audience_members(
    store: Store,
    config: CampaignConfig,
    campaign: Campaign,
    as_of: datetime,
    *,
    features: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """customer_ref-indexed features of the campaign's audience, with ``consent``.

    Columns include customer_id, email, first_name, last_name, orders, total_spent,
    days_since_last_order, segment (for segment audiences), suppressed and consent.
    ``features`` is :func:`customer_frame` for the same ``as_of``, if already computed.
    """
    from retain_cli.analytics.filters import compile_filter
    from retain_cli.analytics.segments import find_segment, segment_members

    frame = (customer_frame(store, as_of) if features is None else features).copy()
    audience = campaign.audience
    label = f"{config.path}: campaign {campaign.name!r}"
    frame["segment"] = None
    if audience.kind == "segment" and audience.segment:
        try:
            _, segment = find_segment(audience.segment)
        except RetainError as exc:
            raise ConfigError(f"{label}: key 'audience.segment': {exc}") from None
        members = set(segment_members(store, audience.segment, as_of))
        frame = frame[frame.index.isin(members)].copy()
        frame["segment"] = segment
    if audience.where:
        rule = compile_filter(audience.where, where=f"{label}: key 'audience.where'")
        frame = frame[rule.mask(frame).to_numpy(dtype=bool)]
    return frame.sort_index()
