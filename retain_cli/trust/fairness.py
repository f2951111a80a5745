"""``retain audit fairness``: do the campaigns reach groups of customers alike?

For each group (the values of a customer field such as country or city, or an age band from
the birthday) the share of its customers who were sent a message (contacted), sent an offer
(offered), held out (the campaigns' control groups), and, of those contacted, who ordered
within the window after a message (converted). Each rate is set against the highest group's
(the four-fifths rule of US employment-selection guidance, used here as a plain screen): a
group below 0.8 of it is flagged. For the holdout, being held out is the disadvantage, so a
group held out more than 1/0.8 times as often as the least held-out group is flagged.
Groups smaller than ``min_n`` (30) carry a small-sample warning: their rates may be chance,
and the reference rate is taken from the groups large enough, when there are some.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retain_cli.errors import UsageError
from retain_cli.timeutil import to_iso

if TYPE_CHECKING:
    from retain_cli.campaigns.model import CampaignConfig
    from retain_cli.store import Store

FOUR_FIFTHS = 0.8
MIN_N = 30
TOP_GROUPS = 12
AGE_BANDS = ("under 25", "25-34", "35-44", "45-54", "55-64", "65 and over")
RATES = ("contacted", "offered", "held_out", "converted")
UNKNOWN = "(unknown)"
OTHER = "(other groups)"
#: fields that name one person (groups of one) or hold free text or timestamps
NOT_GROUPS = {
    "id": "the internal id",
    "customer_id": "an id",
    "email": "an address",
    "first_name": "a name",
    "last_name": "a name",
    "phone": "a phone number",
    "address1": "a street address",
    "address2": "a street address",
    "note": "free text",
    "birthday": "a date (use --by 'age band')",
    "source_created_at": "a timestamp",
    "created_at": "a timestamp",
    "updated_at": "a timestamp",
}
#: words that make a campaign an offer (its subject or templates)
OFFER_WORDS = re.compile(
    r"(\bfree\b|\bdiscount|\d\s*%|%\s*off\b|\bvoucher|\bcoupon|\bpromo|\bgratis\b|\brabatt"
    r"|\bgutschein|\bkostenlos)",
    re.IGNORECASE,
)


def age_band_sql() -> str:
    """The age band on :today (YYYY-MM-DD) from a birthday with its year (else unknown)."""
    age = (
        "(CAST(substr(:today, 1, 4) AS INTEGER) - CAST(substr(c.birthday, 1, 4) AS INTEGER)"
        " - (substr(:today, 6, 5) < substr(c.birthday, 6, 5)))"
    )
    return (
        f"CASE WHEN c.birthday GLOB '[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]' THEN "
        f"CASE WHEN {age} < 25 THEN '{AGE_BANDS[0]}' WHEN {age} < 35 THEN '{AGE_BANDS[1]}' "
        f"WHEN {age} < 45 THEN '{AGE_BANDS[2]}' WHEN {age} < 55 THEN '{AGE_BANDS[3]}' "
        f"WHEN {age} < 65 THEN '{AGE_BANDS[4]}' ELSE '{AGE_BANDS[5]}' END "
        f"ELSE '{UNKNOWN}' END"
    )


def group_sql(store: Store, by: str) -> tuple[str, str]:
    """(SQL expression over the customers row ``c``, the label) for ``--by``."""
    key = re.sub(r"[\s\-]+", "_", by.strip().lower())
    if key in ("age", "age_band", "ageband", "age_bands"):
        return age_band_sql(), "age band"
    columns = store.customer_columns()
    if key not in columns:
        usable = [c for c in columns if c not in NOT_GROUPS]
        raise UsageError(
            f"--by {by!r} is not a customer field; use 'age band' or one of: {', '.join(usable)}"
        )
    if key in NOT_GROUPS:
        raise UsageError(
            f"--by {key} is {NOT_GROUPS[key]}: every customer would be a group of their own; "
            "group by a field many customers share, such as country, city or 'age band'"
        )
    if key == "accepts_marketing":
        return (
            f"CASE c.accepts_marketing WHEN 1 THEN 'yes' WHEN 0 THEN 'no' ELSE '{UNKNOWN}' END",
            key,
        )
    return f"coalesce(nullif(trim(CAST(c.{key} AS TEXT)), ''), '{UNKNOWN}')", key


_TEMPLATE_CODE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|<[^>]*>", re.DOTALL)


def _sentences(text: str) -> list[str]:
    """The words a customer reads: template code and HTML tags removed, and lines that are
    only a label (an order summary's "Discount:") left out."""
    plain = _TEMPLATE_CODE.sub("\n", text)
    return [line for line in plain.splitlines() if not re.fullmatch(r"\s*[\w ]{0,20}:?\s*", line)]


def offer_campaigns(config: CampaignConfig | None) -> tuple[list[str], str]:
    """Campaigns taken to make an offer: those whose subject or templates use an offer word
    (free, discount, 10 %, voucher ...). Returns them and how they were chosen."""
    if config is None:
        return [], "no campaign file, so no campaign counts as an offer (use --offers)"
    found = []
    for campaign in config.campaigns:
        texts = []
        for step in campaign.steps:
            texts.append(step.subject)
            for path in (step.template, step.html_template):
                if path is not None and Path(path).exists():
                    texts.append(Path(path).read_text(encoding="utf-8", errors="replace"))
        if any(OFFER_WORDS.search(line) for t in texts for line in _sentences(t)):
            found.append(campaign.name)
    how = "campaigns whose subject or templates offer something (free, discount, %, voucher)"
    return found, how


@dataclass
class Fairness:
    by: str
    rows: list[dict[str, Any]]
    offers: list[str]
    offers_how: str
    since: datetime | None
    as_of: datetime
    window_days: int
    min_n: int
    reference: dict[str, str] = field(default_factory=dict)  # rate -> the group it is set against
    notes: list[str] = field(default_factory=list)

    columns = (
        "group",
        "customers",
        "contacted",
        "offered",
        "held_out",
        "converted",
        "flags",
        "warning",
    )

    @property
    def flagged(self) -> int:
        return sum(1 for r in self.rows if r["flags"])


def converted_customers(store: Store, since: str | None, until: str, window_days: int) -> list[int]:
    """The customers with a countable order within ``window_days`` after a message sent to
    them (from ``since`` to ``until``): each message looked up among the packed orders,
    sorted by customer and time, with one binary search."""
    import numpy as np

    from retain_cli.analytics.metrics import load_orders

    refs, times = store.sent_times(since, until)
    if not refs:
        return []
    orders = load_orders(store)
    sent_ref = np.asarray(refs, dtype=np.int64)
    sent_t = np.asarray(times, dtype=np.int64)
    if not len(orders):
        return []
    base = int(min(orders.t.min(), sent_t.min()))
    # one int64 key per (customer, time): the span is past every time from ``base``
    span = int(max(orders.t.max(), sent_t.max())) - base + window_days * 86400 + 1
    keys = orders.customer * span + (orders.t - base)
    after = sent_ref * span + (sent_t - base)
    first = np.searchsorted(keys, after, side="right")  # the first order after the message
    found = first < len(keys)
    hit = np.zeros(len(after), dtype=bool)
    limit = after + window_days * 86400
    hit[found] = keys[first[found]] <= limit[found]
    return sorted({int(r) for r in sent_ref[hit]})


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def fairness(
    store: Store,
    by: str,
    *,
    config: CampaignConfig | None,
    offers: Sequence[str] | None = None,
    since: datetime | None = None,
    as_of: datetime,
    window_days: int = 30,
    min_n: int = MIN_N,
    top: int = TOP_GROUPS,
) -> Fairness:
    """The fairness table for ``--by`` (see the module's doc)."""
    if window_days < 1:
        raise UsageError(f"--window must be at least 1 day, not {window_days}")
    expression, label = group_sql(store, by)
    if offers is None:
        chosen, how = offer_campaigns(config)
    else:
        chosen = [o for o in offers if o and o != "none"]
        how = "named with --offers" if chosen else "none (--offers none)"
    start, end = (to_iso(since) if since else None), to_iso(as_of)
    counts = store.fairness_counts(
        expression,
        offers=chosen,
        since=start,
        until=end,
        converted=converted_customers(store, start, end, window_days),
        today=as_of.date().isoformat(),
    )
    if len(counts) > top:
        kept, rest = counts[: top - 1], counts[top - 1 :]
        merged: dict[str, Any] = {"grp": OTHER}
        for key in ("customers", "contacted", "offered", "held_out", "converted"):
            merged[key] = sum(r[key] for r in rest)
        counts = [*kept, merged]
    rows = []
    for r in counts:
        rows.append(
            {
                "group": str(r["grp"]),
                "customers": r["customers"],
                "contacted": _rate(r["contacted"], r["customers"]),
                "offered": _rate(r["offered"], r["customers"]),
                "held_out": _rate(r["held_out"], r["customers"]),
                "converted": _rate(r["converted"], r["contacted"]),
                "n_contacted": r["contacted"],
                "flags": "",
                "warning": "",
            }
        )
    result = Fairness(label, rows, chosen, how, since, as_of, window_days, min_n)
    _flag(result)
    total = {k: sum(r[k] for r in counts) for k in ("customers", "contacted", "offered")}
    if not total["contacted"]:
        result.notes.append(
            "nobody was sent a message in this time, so there is nothing to compare yet; "
            "run 'retain send' first (or widen --since)"
        )
    return result


def _flag(result: Fairness) -> None:
    """Mark each group's rates below four fifths of the reference group's."""
    rows = result.rows
    for row in rows:
        if row["customers"] < result.min_n:
            row["warning"] = "small sample"
        elif row["n_contacted"] < result.min_n and row["n_contacted"]:
            row["warning"] = f"converted: only {row['n_contacted']} contacted"
    flags: dict[str, list[str]] = {r["group"]: [] for r in rows}
    for rate in RATES:
        size = "n_contacted" if rate == "converted" else "customers"
        known = [r for r in rows if r[rate] is not None and r["group"] != OTHER]
        big = [r for r in known if r[size] >= result.min_n] or known
        if not big:
            continue
        if rate == "held_out":
            ref = min(big, key=lambda r: r[rate])
        else:
            ref = max(big, key=lambda r: r[rate])
        best = ref[rate]
        result.reference[rate] = f"{ref['group']} ({best * 100:.1f}%)"
        for row in known:
            value = row[rate]
            if rate == "held_out":
                ratio = (best / value) if value else 1.0
            else:
                ratio = (value / best) if best else 1.0
            if ratio < FOUR_FIFTHS:
                flags[row["group"]].append(f"{rate.replace('_', ' ')} {ratio:.2f}")
    for row in rows:
        row["flags"] = ", ".join(flags[row["group"]])
