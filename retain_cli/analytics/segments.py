"""Customer segments: the rfm and lifecycle schemes, segment names, who is in which segment,
and the ``retain segments`` report.

Schemes
- ``rfm``: recency, frequency and monetary scores 1-5 (see :func:`quintile_scores`), named by
  the R x FM grid in :data:`RFM_GRID` (FM = (F + M) / 2 rounded half up). Every one of the
  125 (R, F, M) cells belongs to exactly one named segment.
- ``lifecycle``: new, active, at_risk, lapsing, lost, from the days since the last order
  measured against the shop's own typical gap between orders (:func:`lifecycle_thresholds`).
- ``custom``: the segments of a YAML file (:mod:`retain_cli.analytics.custom_segments`); a
  customer belongs to the first segment (in file order) whose rule they match.
Customers without a countable order are ``prospect`` in rfm and lifecycle.

Names (which scheme ``at_risk`` means) are :mod:`retain_cli.analytics.segment_names`.
``retain segments`` only reads; the send path keeps membership per (scheme, as-of day) in
the ``segment_snapshots`` table (:func:`save_snapshot`, through
:mod:`retain_cli.analytics.segment_snapshots`, which also reads them back for moves and
entries); linting a segment set is :mod:`retain_cli.analytics.segment_check`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retain_cli.analytics.custom_segments import (
    CustomSegment,
    load_custom_segments,
    segments_path,
)
from retain_cli.analytics.features import Core, core_features, customer_features
from retain_cli.analytics.segment_names import (
    BUILTIN,
    LIFECYCLE_SEGMENTS,
    PROSPECT,
    RFM_SEGMENTS,
    SCHEMES,
    resolve,
    unknown,
)
from retain_cli.errors import UsageError
from retain_cli.timeutil import utc_now_iso

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from retain_cli.analytics.metrics import OrderArrays
    from retain_cli.store import Store


NO_SEGMENT = "(none)"

# --- RFM ------------------------------------------------------------------------------------

#: rows R = 5 (ordered most recently) .. 1, columns FM = 1 .. 5; each cell names one segment
RFM_GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("new_customers", "potential_loyalists", "potential_loyalists", "loyal", "champions"),
    4: ("promising", "potential_loyalists", "potential_loyalists", "loyal", "champions"),
    3: ("about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"),
    2: ("hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"),
    1: ("lost", "hibernating", "at_risk", "cant_lose", "cant_lose"),
}
#: lifecycle: fewer repeat gaps than this and the typical gap falls back to DEFAULT_GAP_DAYS
MIN_GAPS = 20
DEFAULT_GAP_DAYS = 30
GAP_BOUNDS = (7, 365)


def round_half_up(value: float) -> int:
    """The one rounding rule of the segments: halves go up (22.5 -> 23, 3.5 -> 4).

    Python's ``round`` goes to the even neighbour (22.5 -> 22); a threshold in days and a
    score must not depend on whether its neighbour is even."""
    import math

    return math.floor(value + 0.5)


def fm_score(f: int, m: int) -> int:
    """The FM column of the grid: the mean of F and M, rounded half up."""
    return (f + m + 1) // 2


def rfm_segment(r: int, f: int, m: int) -> str:
    """The segment of one (R, F, M) cell."""
    if not all(1 <= s <= 5 for s in (r, f, m)):
        raise ValueError(f"RFM scores must be 1-5, got {(r, f, m)}")
    return RFM_GRID[r][fm_score(f, m) - 1]


def quintile_scores(values: np.ndarray) -> np.ndarray:
    """Scores 1-5 by quintile, higher value -> higher score, ties always scored alike.

    A customer's score is 1 + floor(5 * b / n), b being the number of customers with a
    strictly lower value (the rank with ties, then the quintile it falls in). With many
    distinct values this is the usual split into fifths. With few, the lowest value always
    scores 1 and each tie group takes the quintile where it starts, so scores skip numbers
    rather than invent differences: when 60% of customers have 1 order, 20% have 2 and 20%
    have 3, they score 1, 4 and 5; when all values are equal, everyone scores 1.
    """
    import numpy as np

    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    below = np.cumsum(counts) - counts
    scores = np.minimum(below * 5 // n + 1, 5).astype(np.int64)
    return scores[inverse.reshape(-1)]


def rfm_scores(
    days_since_last: np.ndarray, orders: np.ndarray, total: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R (fewer days since the last order is better), F (orders), M (net spend, to the cent)."""
    import numpy as np

    return (
        quintile_scores(-np.asarray(days_since_last)),
        quintile_scores(np.asarray(orders)),
        quintile_scores(np.round(np.asarray(total, dtype=np.float64), 2)),
    )


def rfm_codes(r: np.ndarray, f: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Vectorised :func:`rfm_segment`, as indexes into :data:`RFM_SEGMENTS`."""
    import numpy as np

    index = {name: i for i, name in enumerate(RFM_SEGMENTS)}
    table = np.array(
        [[index[RFM_GRID[row][col]] for col in range(5)] for row in range(1, 6)], dtype=np.int64
    )
    if len(r) == 0:
        return np.zeros(0, dtype=np.int64)
    return table[np.asarray(r) - 1, (np.asarray(f) + np.asarray(m) + 1) // 2 - 1]


def rfm_segments(r: np.ndarray, f: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Vectorised :func:`rfm_segment` (object array of names)."""
    import numpy as np

    return np.array(RFM_SEGMENTS, dtype=object)[rfm_codes(r, f, m)]


# --- lifecycle ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LifecycleThresholds:
    """Days since the last order: active <= gap < at_risk <= 2 gap < lapsing <= 4 gap < lost."""

    gap: int  # the shop's typical days between orders
    measured: float | None  # the median before bounds/fallback (None: too few repeat orders)
    repeat_gaps: int

    @property
    def at_risk(self) -> int:
        return self.gap

    @property
    def lapsing(self) -> int:
        return 2 * self.gap

    @property
    def lost(self) -> int:
        return 4 * self.gap

    def describe(self) -> str:
        source = (
            f"median of {self.repeat_gaps} gaps between repeat orders: {self.measured:g} days"
            if self.measured is not None and self.repeat_gaps >= MIN_GAPS
            else f"fewer than {MIN_GAPS} repeat gaps, so the default of {DEFAULT_GAP_DAYS} days"
        )
        return (
            f"typical gap G = {self.gap} days ({source}); new: first order <= G days ago; "
            f"active: last order <= {self.gap} days ago; at_risk: <= {self.lapsing}; "
            f"lapsing: <= {self.lost}; lost: more than {self.lost} days ago"
        )


#: the last thresholds computed, with the orders they came from (the same packed orders are
#: asked for several times in one command: a segment audience, ``retain explain CUSTOMER``)
_LAST_THRESHOLDS: list[tuple[OrderArrays, LifecycleThresholds]] = []


def lifecycle_thresholds(orders: OrderArrays) -> LifecycleThresholds:
    """G = median days between a customer's consecutive order days over the whole history
    up to as-of, rounded half up (22.5 -> 23, as RFM's FM) and kept within 7..365 days;
    with fewer than 20 such gaps, 30 days."""
    if _LAST_THRESHOLDS and _LAST_THRESHOLDS[0][0] is orders:
        return _LAST_THRESHOLDS[0][1]
    found = _thresholds(orders)
    _LAST_THRESHOLDS[:] = [(orders, found)]
    return found


def _thresholds(orders: OrderArrays) -> LifecycleThresholds:
    import numpy as np

    from retain_cli.analytics.metrics import order_day_gaps

    gaps, _ = order_day_gaps(orders)
    measured = float(np.median(gaps)) if len(gaps) else None
    if measured is None or len(gaps) < MIN_GAPS:
        gap = DEFAULT_GAP_DAYS
    else:
        gap = min(max(round_half_up(measured), GAP_BOUNDS[0]), GAP_BOUNDS[1])
    return LifecycleThresholds(gap, measured, len(gaps))


def lifecycle_codes(
    days_since_last: np.ndarray, days_since_first: np.ndarray, thresholds: LifecycleThresholds
) -> np.ndarray:
    """Indexes into :data:`LIFECYCLE_SEGMENTS` (customers with orders)."""
    import numpy as np

    g = thresholds.gap
    last = np.asarray(days_since_last)
    return np.select(
        [np.asarray(days_since_first) <= g, last <= g, last <= 2 * g, last <= 4 * g],
        [0, 1, 2, 3],
        default=4,
    ).astype(np.int64)


def lifecycle_segments(
    days_since_last: np.ndarray, days_since_first: np.ndarray, thresholds: LifecycleThresholds
) -> np.ndarray:
    import numpy as np

    codes = lifecycle_codes(days_since_last, days_since_first, thresholds)
    return np.array(LIFECYCLE_SEGMENTS, dtype=object)[codes]


# --- names ----------------------------------------------------------------------------------


def segment_names(segments_file: Path | None = None) -> list[str]:
    """Every name a campaign or ``--segment`` may use: the qualified names of every scheme,
    and the bare ones that only one scheme has."""
    names = [f"{scheme}:{name}" for scheme, group in BUILTIN.items() for name in group]
    names += [f"custom:{s.name}" for s in _custom_or_empty(segments_file)]
    bare = [n.partition(":")[2] for n in names]
    return names + [b for b in dict.fromkeys(bare) if bare.count(b) == 1 or b == PROSPECT]


def _custom_or_empty(segments_file: Path | None) -> list[CustomSegment]:
    if not segments_path(segments_file).exists():
        return []
    return load_custom_segments(segments_file)


def scheme_segments(scheme: str, segments_file: Path | None = None) -> list[str]:
    if scheme in BUILTIN:
        return list(BUILTIN[scheme])
    if scheme == "custom":
        return [s.name for s in load_custom_segments(segments_file)]
    raise UsageError(f"unknown scheme {scheme!r}; schemes are {', '.join(SCHEMES)}")


def find_segment(name: str, segments_file: Path | None = None) -> tuple[str, str]:
    """``rfm:at_risk`` -> (rfm, at_risk); ``champions`` -> (rfm, champions); custom names.

    A bare name is looked up in every scheme; one that both rfm and lifecycle have
    (``at_risk``, ``lost``) is an error naming both choices (see
    :mod:`retain_cli.analytics.segment_names`)."""
    scheme, bare = resolve(name)
    if scheme in BUILTIN:
        if bare in BUILTIN[scheme]:
            return scheme, bare
    elif bare in (s.name for s in _custom_or_empty(segments_file)):  # custom: or no scheme
        return "custom", bare
    raise unknown(name, [s.name for s in _custom_or_empty(segments_file)])


def qualified_name(name: str, segments_file: Path | None = None) -> str:
    """``champions`` -> ``rfm:champions``: the name as every command shows it."""
    scheme, segment = find_segment(name, segments_file)
    return f"{scheme}:{segment}"


# --- assignment -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Membership:
    """Who is in which segment: ``refs`` ascending, ``codes`` index into ``names``.

    Kept in numpy so that ``retain segments`` (rfm, lifecycle) never needs pandas."""

    refs: np.ndarray  # int64 customer_ref, ascending
    codes: np.ndarray  # int64, index into names
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.refs)

    def series(self) -> pd.Series:
        """customer_ref -> segment name."""
        import numpy as np
        import pandas as pd

        labels = np.array(self.names, dtype=object)[self.codes] if len(self.refs) else []
        return pd.Series(
            np.asarray(labels, dtype=object),
            index=pd.Index(self.refs, name="customer_ref"),
            name="segment",
            dtype=object,
        )

    def groups(self) -> dict[str, np.ndarray]:
        """segment -> its customer_refs (ascending), for segments with members."""
        import numpy as np

        order = np.argsort(self.codes, kind="stable")  # refs stay ascending in a segment
        refs, codes = self.refs[order], self.codes[order]
        cuts = np.flatnonzero(codes[1:] != codes[:-1]) + 1
        return {
            self.names[int(chunk_codes[0])]: chunk_refs
            for chunk_refs, chunk_codes in zip(
                np.split(refs, cuts), np.split(codes, cuts), strict=True
            )
            if len(chunk_refs)
        }


def _with_prospects(core: Core, codes: np.ndarray, names: Sequence[str]) -> Membership:
    """Add every customer without orders as ``prospect`` (the last name)."""
    import numpy as np

    prospects = np.setdiff1d(core.all_refs, core.customer, assume_unique=True)
    refs = np.concatenate([core.customer, prospects])
    all_codes = np.concatenate(
        [np.asarray(codes, dtype=np.int64), np.full(len(prospects), len(names) - 1)]
    )
    order = np.argsort(refs, kind="stable")
    return Membership(refs[order], all_codes[order], tuple(names))


def membership_of(
    core: Core, scheme: str, *, segments_file: Path | None = None, store: Store | None = None
) -> Membership:

    if scheme == "rfm":
        r, f, m = rfm_scores(core.days_since_last, core.order_count, core.total)
        return _with_prospects(core, rfm_codes(r, f, m), [*RFM_SEGMENTS, PROSPECT])
    if scheme == "lifecycle":
        thresholds = lifecycle_thresholds(core.orders)
        codes = lifecycle_codes(core.days_since_last, core.days_since_first, thresholds)
        return _with_prospects(core, codes, [*LIFECYCLE_SEGMENTS, PROSPECT])
    if scheme == "custom":
        if store is None:
            raise ValueError("custom segments need the store")
        segments = load_custom_segments(segments_file)
        return assign_custom(customer_features(store, core.as_of), segments)
    raise UsageError(f"unknown scheme {scheme!r}; schemes are {', '.join(SCHEMES)}")


def assign_custom(frame: pd.DataFrame, segments: Sequence[CustomSegment]) -> Membership:
    """Each customer in the first custom segment (file order) whose rule matches."""
    import numpy as np

    taken = np.zeros(len(frame), dtype=bool)
    codes = np.full(len(frame), -1, dtype=np.int64)
    for number, segment in enumerate(segments):
        hit = segment.rule.mask(frame).to_numpy(dtype=bool) & ~taken
        codes[hit] = number
        taken |= hit
    refs = frame.index.to_numpy(dtype=np.int64)
    order = np.argsort(refs[taken], kind="stable")
    return Membership(refs[taken][order], codes[taken][order], tuple(s.name for s in segments))


def assign(
    store: Store, scheme: str, as_of: datetime, *, segments_file: Path | None = None
) -> pd.Series:
    """customer_ref -> segment name. rfm and lifecycle cover every customer (``prospect``
    without orders); custom covers the customers some segment matches."""
    core = core_features(store, as_of)
    return membership_of(core, scheme, segments_file=segments_file, store=store).series()


def segment_members(
    store: Store, name: str, as_of: datetime, segments_file: Path | None = None
) -> list[int]:
    """The customer_refs in segment ``name`` (see :func:`find_segment`) at ``as_of``."""
    scheme, segment = find_segment(name, segments_file)
    core = core_features(store, as_of)
    membership = membership_of(core, scheme, segments_file=segments_file, store=store)
    members = membership.groups().get(segment)
    return [] if members is None else [int(r) for r in members]


# --- the segments table ---------------------------------------------------------------------


@dataclass
class SegmentReport:
    scheme: str
    as_of: datetime
    rows: list[dict[str, Any]]  # segment, customers, share, revenue, avg_orders
    customers: int
    note: str = ""
    saved: int = 0

    columns = ("segment", "customers", "share", "revenue", "avg_orders")


def summarise_segments(
    core: Core, membership: Membership, *, include_unmatched: bool
) -> list[dict[str, Any]]:
    """One row per segment (in the scheme's order): segment, customers, share, revenue
    (net, all orders up to as-of), avg_orders; ``(none)`` for the unmatched when asked."""
    import numpy as np

    size = len(membership.names) + 1  # the last slot: no segment
    codes = np.full(len(core.all_refs), size - 1, dtype=np.int64)
    where = np.searchsorted(core.all_refs, membership.refs)
    codes[where] = membership.codes
    buyers = codes[np.searchsorted(core.all_refs, core.customer)]
    customers = np.bincount(codes, minlength=size)
    revenue = np.bincount(buyers, weights=core.total, minlength=size)
    orders = np.bincount(buyers, weights=core.order_count, minlength=size)
    names = [*membership.names, NO_SEGMENT]
    total = len(core.all_refs)
    rows = []
    for i, name in enumerate(names):
        if i == size - 1 and not include_unmatched:
            break
        count = int(customers[i])
        rows.append(
            {
                "segment": name,
                "customers": count,
                "share": round(count / total, 4) if total else None,
                "revenue": round(float(revenue[i]), 2),
                "avg_orders": round(float(orders[i]) / count, 2) if count else None,
            }
        )
    return rows


def segments_report(
    store: Store,
    scheme: str,
    as_of: datetime,
    *,
    segments_file: Path | None = None,
    save: bool = False,
) -> SegmentReport:
    """``retain segments``: one row per segment (``save`` keeps the membership for the as-of
    day as a snapshot; the command never does: only the send path records snapshots)."""
    if scheme not in SCHEMES:
        raise UsageError(f"--scheme {scheme!r} is not one of {', '.join(SCHEMES)}")
    core = core_features(store, as_of)
    membership = membership_of(core, scheme, segments_file=segments_file, store=store)
    note = ""
    if scheme == "lifecycle":
        note = lifecycle_thresholds(core.orders).describe()
    elif scheme == "rfm":
        note = "scores 1-5 by quintile (ties scored alike); segment from R and FM = (F+M)/2"
    rows = summarise_segments(core, membership, include_unmatched=scheme == "custom")
    report = SegmentReport(scheme, as_of, rows, len(core.all_refs), note)
    if save:
        report.saved = save_snapshot(store, scheme, as_of.date(), membership)
    return report


def save_snapshot(store: Store, scheme: str, day: date, membership: Membership) -> int:
    """Keep ``membership`` as the (scheme, day) snapshot, replacing any; returns how many
    customers it holds."""
    groups = {name: json.dumps(refs.tolist()) for name, refs in membership.groups().items()}
    counts = {name: len(refs) for name, refs in membership.groups().items()}
    return store.replace_segment_snapshot(scheme, day.isoformat(), groups, counts, utc_now_iso())
