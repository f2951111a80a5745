"""Customer segments: RFM, lifecycle and custom (YAML + the filter language), snapshots, moves.

Schemes
- ``rfm``: recency, frequency and monetary scores 1-5 (see :func:`quintile_scores`), named by
  the R x FM grid in :data:`RFM_GRID` (FM = (F + M) / 2 rounded half up). Every one of the
  125 (R, F, M) cells belongs to exactly one named segment.
- ``lifecycle``: new, active, at_risk, lapsing, lost, from the days since the last order
  measured against the shop's own typical gap between orders (:func:`lifecycle_thresholds`).
- ``custom``: the segments of a YAML file; a customer belongs to the first segment (in file
  order) whose rule they match.
Customers without a countable order are ``prospect`` in rfm and lifecycle.

Each ``retain segments`` run keeps its membership per (scheme, as-of day) in the
``segment_snapshots`` table; a snapshot missing for a day is computed from the order history
(only orders up to that day count), so transitions are reproducible.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retain_cli.analytics.filters import Filter, compile_filter
from retain_cli.errors import ConfigError, UsageError
from retain_cli.timeutil import parse_as_of, utc_now_iso

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from retain_cli.analytics.metrics import OrderArrays
    from retain_cli.store import Store

SCHEMES = ("rfm", "lifecycle", "custom")
PROSPECT = "prospect"
NO_SEGMENT = "(none)"
DEFAULT_SEGMENTS_FILE = Path("segments.yaml")

# --- RFM ------------------------------------------------------------------------------------

#: rows R = 5 (ordered most recently) .. 1, columns FM = 1 .. 5; each cell names one segment
RFM_GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("new_customers", "potential_loyalists", "potential_loyalists", "loyal", "champions"),
    4: ("promising", "potential_loyalists", "potential_loyalists", "loyal", "champions"),
    3: ("about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"),
    2: ("hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"),
    1: ("lost", "hibernating", "at_risk", "cant_lose", "cant_lose"),
}
RFM_SEGMENTS: tuple[str, ...] = (
    "champions",
    "loyal",
    "potential_loyalists",
    "new_customers",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cant_lose",
    "hibernating",
    "lost",
)
LIFECYCLE_SEGMENTS: tuple[str, ...] = ("new", "active", "at_risk", "lapsing", "lost")

#: lifecycle: fewer repeat gaps than this and the typical gap falls back to DEFAULT_GAP_DAYS
MIN_GAPS = 20
DEFAULT_GAP_DAYS = 30
GAP_BOUNDS = (7, 365)


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


def lifecycle_thresholds(orders: OrderArrays) -> LifecycleThresholds:
    """G = median days between a customer's consecutive order days over the whole history
    up to as-of, kept within 7..365 days; with fewer than 20 such gaps, 30 days."""
    import numpy as np

    from retain_cli.analytics.metrics import order_day_gaps

    gaps, _ = order_day_gaps(orders)
    measured = float(np.median(gaps)) if len(gaps) else None
    if measured is None or len(gaps) < MIN_GAPS:
        gap = DEFAULT_GAP_DAYS
    else:
        gap = int(min(max(round(measured), GAP_BOUNDS[0]), GAP_BOUNDS[1]))
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


# --- features -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Core:
    """Per-customer figures (customers with countable orders by as-of) and every customer."""

    as_of: datetime
    orders: OrderArrays
    customer: np.ndarray
    order_count: np.ndarray
    total: np.ndarray
    first_t: np.ndarray
    last_t: np.ndarray
    days_since_last: np.ndarray
    days_since_first: np.ndarray
    all_refs: np.ndarray


def _day_number(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp()) // 86400


def core_features(store: Store, as_of: datetime) -> Core:
    import numpy as np

    from retain_cli.analytics.metrics import DAY, load_orders, summarise

    orders = load_orders(store).upto(as_of)
    summary = summarise(orders)
    today = _day_number(as_of)
    return Core(
        as_of=as_of,
        orders=orders,
        customer=summary.customer,
        order_count=summary.orders,
        total=summary.total,
        first_t=summary.first_t,
        last_t=summary.last_t,
        days_since_last=today - summary.last_t // DAY,
        days_since_first=today - summary.first_t // DAY,
        all_refs=np.array(store.customer_refs(), dtype=np.int64),
    )


def customer_features(store: Store, as_of: datetime) -> pd.DataFrame:
    """One row per customer (index ``customer_ref``), orders up to ``as_of`` only.

    Columns: customer_id, email, orders, total_spent (net, major units), avg_order_value,
    first_order_at, last_order_at (UTC timestamps or NaT), days_since_last_order,
    days_since_first_order (whole days, NaN without orders), accepts_marketing (True, False
    or <NA>), birthday. Customers without orders have orders = 0 and total_spent = 0.
    """
    import numpy as np
    import pandas as pd

    core = core_features(store, as_of)
    rows = store.customer_feature_rows()
    frame = pd.DataFrame(
        rows, columns=["customer_ref", "customer_id", "email", "accepts_marketing", "birthday"]
    ).set_index("customer_ref")
    frame = frame.astype({"customer_id": object, "email": object, "birthday": object})
    frame.index = frame.index.astype(np.int64)
    frame["accepts_marketing"] = frame["accepts_marketing"].astype("boolean")
    per = pd.DataFrame(
        {
            "orders": core.order_count,
            "total_spent": np.round(core.total, 2),
            "first_order_at": pd.to_datetime(core.first_t, unit="s", utc=True),
            "last_order_at": pd.to_datetime(core.last_t, unit="s", utc=True),
            "days_since_last_order": core.days_since_last.astype(np.float64),
            "days_since_first_order": core.days_since_first.astype(np.float64),
        },
        index=pd.Index(core.customer, name="customer_ref"),
    )
    frame = frame.join(per, how="left")
    frame["orders"] = frame["orders"].fillna(0).astype(np.int64)
    frame["total_spent"] = frame["total_spent"].fillna(0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["avg_order_value"] = (
            (frame["total_spent"] / frame["orders"]).where(frame["orders"] > 0).round(2)
        )
    columns = [
        "customer_id",
        "email",
        "orders",
        "total_spent",
        "avg_order_value",
        "first_order_at",
        "last_order_at",
        "days_since_last_order",
        "days_since_first_order",
        "accepts_marketing",
        "birthday",
    ]
    return frame[columns]


# --- custom segments ------------------------------------------------------------------------

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SEGMENT_KEYS = ("name", "where", "description")


@dataclass(frozen=True)
class CustomSegment:
    name: str
    where: str
    rule: Filter
    description: str = ""


def segments_path(path: Path | None = None) -> Path:
    """--segments, else $RETAIN_SEGMENTS, else ./segments.yaml."""
    if path is not None:
        return Path(path)
    env = os.environ.get("RETAIN_SEGMENTS")
    return Path(env) if env else DEFAULT_SEGMENTS_FILE


def load_custom_segments(path: Path | None = None, *, strict: bool = True) -> list[CustomSegment]:
    """Read and validate a segments file. With ``strict=False`` rules that do not compile are
    left out (``segments check`` reports them through :func:`custom_segment_problems`)."""
    import yaml

    file = segments_path(path)
    if not file.exists():
        raise ConfigError(
            f"no segments file at {file}; create one (see README: custom segments) "
            "or pass --segments PATH (or set RETAIN_SEGMENTS)"
        )
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot be read ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("segments"), list):
        raise ConfigError(f"{file}: expected a top-level key 'segments' with a list of segments")
    unknown = [k for k in data if k != "segments"]
    if unknown:
        raise ConfigError(f"{file}: unknown top-level key {unknown[0]!r}; only 'segments'")
    out: list[CustomSegment] = []
    seen: set[str] = set()
    for number, item in enumerate(data["segments"], start=1):
        label = f"{file}, segment {number}"
        if not isinstance(item, dict):
            raise ConfigError(f"{label}: expected a mapping with 'name' and 'where'")
        name = item.get("name")
        if isinstance(name, str):
            label = f"{file}, segment {name!r}"
        for key in item:
            if key not in _SEGMENT_KEYS:
                raise ConfigError(
                    f"{label}: unknown key {key!r}; keys are {', '.join(_SEGMENT_KEYS)}"
                )
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(
                f"{label}: key 'name': use lower-case letters, digits and '_' "
                f"(such as big_spenders), got {name!r}"
            )
        if name in seen:
            raise ConfigError(f"{label}: key 'name': {name!r} is defined twice")
        seen.add(name)
        where = item.get("where")
        if not isinstance(where, str) or not where.strip():
            raise ConfigError(f"{label}: key 'where': expected a rule such as \"orders >= 2\"")
        description = item.get("description") or ""
        if not isinstance(description, str):
            raise ConfigError(f"{label}: key 'description': expected text")
        try:
            rule = compile_filter(where, where=label)
        except ConfigError:
            if strict:
                raise
            continue
        out.append(CustomSegment(name, where, rule, description))
    return out


def custom_segment_errors(path: Path | None = None) -> list[tuple[str, str]]:
    """(segment, message) for every rule in the file that does not compile."""
    import yaml

    file = segments_path(path)
    load_custom_segments(file, strict=False)  # file-level problems raise here
    data = yaml.safe_load(file.read_text(encoding="utf-8"))
    problems = []
    for number, item in enumerate(data["segments"], start=1):
        name = str(item.get("name", f"segment {number}"))
        try:
            compile_filter(str(item.get("where")), where=f"{file}, segment {name!r}")
        except ConfigError as exc:
            problems.append((name, str(exc)))
    return problems


# --- names ----------------------------------------------------------------------------------


def segment_names(segments_file: Path | None = None) -> list[str]:
    """Every name a campaign or ``--segment`` may use (custom ones when the file exists)."""
    names = [*LIFECYCLE_SEGMENTS, PROSPECT]
    names += [n for n in RFM_SEGMENTS if n not in names]
    names += [f"rfm:{n}" for n in RFM_SEGMENTS if n in LIFECYCLE_SEGMENTS]
    for segment in _custom_or_empty(segments_file):
        names.append(segment.name if segment.name not in names else f"custom:{segment.name}")
    return names


def _custom_or_empty(segments_file: Path | None) -> list[CustomSegment]:
    if not segments_path(segments_file).exists():
        return []
    return load_custom_segments(segments_file)


def scheme_segments(scheme: str, segments_file: Path | None = None) -> list[str]:
    if scheme == "rfm":
        return [*RFM_SEGMENTS, PROSPECT]
    if scheme == "lifecycle":
        return [*LIFECYCLE_SEGMENTS, PROSPECT]
    if scheme == "custom":
        return [s.name for s in load_custom_segments(segments_file)]
    raise UsageError(f"unknown scheme {scheme!r}; schemes are {', '.join(SCHEMES)}")


def find_segment(name: str, segments_file: Path | None = None) -> tuple[str, str]:
    """``at_risk`` -> (lifecycle, at_risk); ``rfm:at_risk`` -> (rfm, at_risk); custom names.

    A bare name is looked up in lifecycle, then rfm, then the custom segments file."""
    key = re.sub(r"[\s\-]+", "_", name.strip().lower().replace("'", "").replace("’", ""))
    scheme, _, bare = key.rpartition(":")
    if scheme:
        if scheme not in SCHEMES:
            raise UsageError(
                f"unknown scheme {scheme!r} in {name!r}; schemes are {', '.join(SCHEMES)}"
            )
        if bare in scheme_segments(scheme, segments_file):
            return scheme, bare
    else:
        if bare in (*LIFECYCLE_SEGMENTS, PROSPECT):
            return "lifecycle", bare
        if bare in RFM_SEGMENTS:
            return "rfm", bare
        if bare in (s.name for s in _custom_or_empty(segments_file)):
            return "custom", bare
    raise UsageError(
        f"unknown segment {name!r}; segments are: {', '.join(segment_names(segments_file))}"
    )


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
    save: bool = True,
) -> SegmentReport:
    """``retain segments``: one row per segment, and the membership kept for the as-of day."""
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
        report.saved = _save(store, scheme, as_of.date(), membership)
    return report


def _save(store: Store, scheme: str, day: date, membership: Membership) -> int:
    groups = {name: json.dumps(refs.tolist()) for name, refs in membership.groups().items()}
    counts = {name: len(refs) for name, refs in membership.groups().items()}
    return store.replace_segment_snapshot(scheme, day.isoformat(), groups, counts, utc_now_iso())


def snapshot(
    store: Store, scheme: str, as_of: datetime | date, *, segments_file: Path | None = None
) -> int:
    """Compute and keep membership for the as-of day (idempotent: replaces that day's)."""
    moment = _end_of(as_of)
    core = core_features(store, moment)
    membership = membership_of(core, scheme, segments_file=segments_file, store=store)
    return _save(store, scheme, moment.date(), membership)


def _end_of(day: datetime | date) -> datetime:
    if isinstance(day, datetime):
        return day if day.tzinfo else day.replace(tzinfo=UTC)
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def membership_on(
    store: Store, scheme: str, day: date, *, segments_file: Path | None = None
) -> dict[int, str]:
    """customer_ref -> segment on ``day``: the stored snapshot, else computed and stored."""
    stored = store.segment_snapshot(scheme, day.isoformat())
    if stored is None:
        snapshot(store, scheme, day, segments_file=segments_file)
        stored = store.segment_snapshot(scheme, day.isoformat()) or []
    out: dict[int, str] = {}
    for name, members in stored:
        out.update(dict.fromkeys(json.loads(members), name))
    return out


def entered(
    store: Store,
    scheme: str,
    segment: str,
    since: date,
    until: date,
    *,
    segments_file: Path | None = None,
) -> set[int]:
    """customer_refs in ``segment`` on ``until`` who were not in it on ``since``."""
    before = membership_on(store, scheme, since, segments_file=segments_file)
    after = membership_on(store, scheme, until, segments_file=segments_file)
    return {ref for ref, name in after.items() if name == segment and before.get(ref) != segment}


def entered_on(
    store: Store, name: str, as_of: datetime, *, segments_file: Path | None = None
) -> dict[int, date]:
    """For members of segment ``name`` at ``as_of``: the day of the stored snapshot in which
    they most recently entered it (they were outside it in the snapshot before). Members
    with no such transition in the stored snapshots are left out: the first snapshot is a
    baseline, not an entry. The snapshot for the as-of day is computed if missing."""
    scheme, segment = find_segment(name, segments_file)
    today = as_of.date().isoformat()
    membership_on(store, scheme, as_of.date(), segments_file=segments_file)
    days = store.segment_snapshot_days(scheme, until=today)
    history = store.segment_history(scheme, segment, until=today)
    sets = [set(json.loads(history[d])) if d in history else set() for d in days]
    out: dict[int, date] = {}
    for day, before, after in zip(days[1:], sets, sets[1:], strict=False):
        for ref in after - before:
            out[ref] = date.fromisoformat(day)
    current = sets[-1] if sets else set()
    return {ref: day for ref, day in out.items() if ref in current}


@dataclass
class Moves:
    scheme: str
    start: date
    end: date
    segments: list[str]
    counts: dict[tuple[str, str], int] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """Long form for scripts: from_segment, to_segment, customers (non-zero only)."""
        return [
            {"from_segment": a, "to_segment": b, "customers": n}
            for (a, b), n in sorted(
                self.counts.items(),
                key=lambda kv: (self._rank(kv[0][0]), self._rank(kv[0][1])),
            )
            if n
        ]

    def _rank(self, name: str) -> int:
        return self.segments.index(name) if name in self.segments else len(self.segments)


def moves(
    store: Store,
    scheme: str,
    start: date,
    end: date,
    *,
    segments_file: Path | None = None,
) -> Moves:
    """How many customers went from each segment on ``start`` to each segment on ``end``."""
    if scheme not in SCHEMES:
        raise UsageError(f"--scheme {scheme!r} is not one of {', '.join(SCHEMES)}")
    if end < start:
        raise UsageError(f"--to {end} is before --from {start}; swap them")
    before = membership_on(store, scheme, start, segments_file=segments_file)
    after = membership_on(store, scheme, end, segments_file=segments_file)
    names = scheme_segments(scheme, segments_file)
    if scheme == "custom":
        names.append(NO_SEGMENT)
    result = Moves(scheme, start, end, names)
    for ref in set(before) | set(after):
        key = (before.get(ref, NO_SEGMENT), after.get(ref, NO_SEGMENT))
        result.counts[key] = result.counts.get(key, 0) + 1
    if NO_SEGMENT not in result.segments and any(NO_SEGMENT in k for k in result.counts):
        result.segments.append(NO_SEGMENT)
    return result


def parse_day(text: str, option: str) -> date:
    return parse_as_of(text, option).date()


# --- check ----------------------------------------------------------------------------------


@dataclass
class Finding:
    level: str  # error | warning | info
    segment: str
    finding: str

    def row(self) -> dict[str, str]:
        return {"level": self.level, "segment": self.segment, "finding": self.finding}


def check_segments(
    store: Store | None,
    scheme: str,
    as_of: datetime,
    *,
    segments_file: Path | None = None,
) -> list[Finding]:
    """Lint a segment set. errors: rules that do not compile; warnings: segments that can
    never match, overlapping custom segments (on current data), segments no customer is in;
    info: customers no custom segment covers, the rfm grid coverage, lifecycle thresholds."""
    if scheme == "rfm":
        return _check_rfm()
    if scheme == "lifecycle":
        if store is None:
            return []
        core = core_features(store, as_of)
        return [Finding("info", "lifecycle", lifecycle_thresholds(core.orders).describe())]
    if scheme != "custom":
        raise UsageError(f"--scheme {scheme!r} is not one of {', '.join(SCHEMES)}")
    findings = [
        Finding("error", name, message) for name, message in custom_segment_errors(segments_file)
    ]
    segments = load_custom_segments(segments_file, strict=False)
    for segment in segments:
        reason = segment.rule.never_matches()
        if reason:
            findings.append(Finding("warning", segment.name, f"can never match: {reason}"))
    if store is None or not segments:
        return findings
    import numpy as np

    frame = customer_features(store, as_of)
    masks = {s.name: s.rule.mask(frame).to_numpy(dtype=bool) for s in segments}
    for segment in segments:
        if not masks[segment.name].any() and not segment.rule.never_matches():
            findings.append(
                Finding("warning", segment.name, "matches no customer on the current data")
            )
    names = [s.name for s in segments]
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            both = int((masks[a] & masks[b]).sum())
            if both:
                findings.append(
                    Finding(
                        "warning",
                        f"{a}, {b}",
                        f"overlap: {both} customers match both; they go to {a!r} "
                        "(the first in the file)",
                    )
                )
    covered = np.zeros(len(frame), dtype=bool)
    for mask in masks.values():
        covered |= mask
    uncovered = int((~covered).sum())
    if uncovered:
        findings.append(
            Finding(
                "info",
                NO_SEGMENT,
                f"{uncovered} of {len(frame)} customers are in no custom segment",
            )
        )
    return findings


def rfm_grid_cells() -> dict[tuple[int, int, int], list[str]]:
    """Every (R, F, M) cell and the segments it belongs to (exactly one each)."""
    cells: dict[tuple[int, int, int], list[str]] = {}
    for r in range(1, 6):
        for f in range(1, 6):
            for m in range(1, 6):
                cells[(r, f, m)] = [rfm_segment(r, f, m)]
    return cells


def _check_rfm() -> list[Finding]:
    cells = rfm_grid_cells()
    findings = []
    uncovered = [c for c, names in cells.items() if len(names) != 1]
    for cell in uncovered:
        findings.append(Finding("warning", "rfm", f"cell {cell} is not in exactly one segment"))
    per: dict[str, int] = {}
    for names in cells.values():
        for name in names:
            per[name] = per.get(name, 0) + 1
    for name in RFM_SEGMENTS:
        if name not in per:
            findings.append(Finding("warning", name, "no (R, F, M) cell leads to this segment"))
        else:
            findings.append(Finding("info", name, f"{per[name]} of 125 (R, F, M) cells"))
    if not uncovered:
        findings.insert(
            0, Finding("info", "rfm", "all 125 (R, F, M) cells belong to exactly one segment")
        )
    return findings
