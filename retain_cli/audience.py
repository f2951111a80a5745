"""Who is in a campaign's audience, and whether each of them may be mailed.

The audience is every customer with an e-mail address (``audience: all``), or the members
of a segment, narrowed by an optional ``where`` filter. Nobody is dropped for lack of
consent here: the frame carries ``consent`` (``accepts_marketing = 1`` and not suppressed)
and ``suppressed``, so the planner can report who is left out and why.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from retain_cli.campaigns import Campaign, CampaignConfig
from retain_cli.errors import ConfigError
from retain_cli.timeutil import to_iso

if TYPE_CHECKING:
    import pandas as pd

    from retain_cli.store import Store

# built-in segment names (RFM and lifecycle), used when the segments module is unavailable
BUILTIN_SEGMENTS: tuple[str, ...] = (
    "champions",
    "loyal",
    "potential_loyalists",
    "new",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cant_lose",
    "hibernating",
    "lost",
    "active",
    "lapsing",
)


def _segments_module() -> Any:
    """The analytics engineer's segments module, if this version has it."""
    import importlib

    try:
        return importlib.import_module("retain_cli.segments")
    except ImportError:
        return None


def segment_key(name: str) -> str:
    """``"At Risk"``, ``at-risk``, ``at_risk`` -> ``at_risk``; ``can't lose`` -> ``cant_lose``."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower().replace("'", "").replace("’", ""))


def _features(store: Store, as_of: datetime) -> pd.DataFrame:
    """Customer features: from the segments module when it offers them, else our own query."""
    import pandas as pd

    frame: pd.DataFrame | None = None
    features = getattr(_segments_module(), "customer_features", None)
    if features is not None:
        frame = features(store, as_of)
    own = pd.DataFrame(store.campaign_customer_features(to_iso(as_of)))
    if own.empty:
        own = pd.DataFrame(
            columns=[
                "customer_ref",
                "customer_id",
                "email",
                "first_name",
                "last_name",
                "birthday",
                "accepts_marketing",
                "source_created_at",
                "created_at",
                "suppressed",
                "orders",
                "total_spent_minor",
                "first_order_at",
                "last_order_at",
            ]
        )
    own = own.set_index("customer_ref")
    if frame is not None and len(frame):
        frame = _by_customer_ref(frame, own)
        extra = [c for c in frame.columns if c not in own.columns]
        own = own.join(frame[extra], how="left")
    if "total_spent" not in own.columns:
        own["total_spent"] = own["total_spent_minor"].astype(float) / 100
    if "days_since_last_order" not in own.columns:
        last = pd.to_datetime(own["last_order_at"], utc=True, errors="coerce")
        own["days_since_last_order"] = (pd.Timestamp(as_of) - last).dt.days
    own["suppressed"] = own["suppressed"].astype(bool)
    has_email = own["email"].notna() & (own["email"].astype(str) != "")
    own["consent"] = (own["accepts_marketing"] == 1) & ~own["suppressed"] & has_email
    return own


def _by_customer_ref(frame: pd.DataFrame, own: pd.DataFrame) -> pd.DataFrame:
    """Re-key a features frame from the segments module by ``customer_ref``."""
    if frame.index.name == "customer_ref":
        return frame
    if "customer_ref" in frame.columns:
        return frame.set_index("customer_ref")
    key = "customer_id" if "customer_id" in frame.columns else frame.index.name
    refs = {cid: ref for ref, cid in own["customer_id"].items()}
    frame = frame.reset_index() if key == frame.index.name else frame
    frame = frame[frame[key].isin(refs)]
    return frame.set_index(frame[key].map(refs).rename("customer_ref"))


def known_segments(store: Store | None = None) -> list[str]:
    """Segment names a campaign may use."""
    names = getattr(_segments_module(), "segment_names", None)
    if names is not None:
        return [str(n) for n in names()]
    return list(BUILTIN_SEGMENTS)


def check_segment(name: str) -> str | None:
    """A problem with a segment name, or None when it exists."""
    find = getattr(_segments_module(), "find_segment", None)
    if find is not None:
        try:
            find(name, None)
        except Exception as exc:  # the segments module says why
            return str(exc)
        return None
    if segment_key(name) in {segment_key(n) for n in BUILTIN_SEGMENTS}:
        return None
    return f"unknown segment {name!r}; segments are: {', '.join(BUILTIN_SEGMENTS)}"


def check_where(text: str) -> str | None:
    """A problem with a ``where`` filter, or None when it compiles."""
    try:
        from retain_cli.filters import compile_filter
    except ImportError:
        return None
    try:
        compile_filter(text, where="audience.where")
    except Exception as exc:
        return str(exc)
    return None


def _apply_where(frame: pd.DataFrame, text: str, campaign: Campaign) -> pd.DataFrame:
    try:
        from retain_cli.filters import compile_filter
    except ImportError as exc:
        raise ConfigError(
            f"campaign {campaign.name!r}: key 'audience.where': filters are not available "
            "in this version of retain"
        ) from exc
    compiled: Any = compile_filter(text, where=f"campaign {campaign.name!r}: audience.where")
    mask = compiled(frame) if callable(compiled) else compiled.evaluate(frame)
    return frame[mask]


def _segment_members(
    store: Store, frame: pd.DataFrame, name: str, as_of: datetime, campaign: Campaign
) -> pd.Series:
    """customer_ref -> segment name for the members of ``name``."""
    problem = check_segment(name)
    if problem:
        raise ConfigError(f"campaign {campaign.name!r}: key 'audience.segment': {problem}")
    members = _segments_module().segment_members(store, name, as_of)
    refs = set(int(r) for r in members)
    return frame.index.to_series()[frame.index.isin(refs)].map(lambda _r: name)


def audience_members(
    store: Store, config: CampaignConfig, campaign: Campaign, as_of: datetime
) -> pd.DataFrame:
    """customer_ref-indexed features of the campaign's audience, with ``consent``.

    Columns include customer_id, email, first_name, last_name, orders, total_spent,
    days_since_last_order, segment (for segment audiences), suppressed and consent.
    """
    frame = _features(store, as_of)
    audience = campaign.audience
    frame["segment"] = None
    if audience.kind == "segment" and audience.segment:
        names = _segment_members(store, frame, audience.segment, as_of, campaign)
        frame = frame.loc[names.index].copy()
        frame["segment"] = names
    if audience.where:
        frame = _apply_where(frame, audience.where, campaign)
    return frame.sort_index()
