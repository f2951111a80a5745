"""What each campaign did: its recipients against its holdout, within a window after the
message, with the uncertainty of every difference.

The comparison is the randomised one the ledger records: the planner holds out a fixed share
of a campaign's audience by a hash of campaign and customer (state ``held_out``), so the
held-out customers show what the recipients would have done without the message.

Per campaign and step:

- **recipients**: customers the step was sent to; their clock starts at the first message
  of that step they got. **holdout**: the campaign's held-out customers; their clock starts
  when they were held out, plus, for step k > 1, the usual time from step 1 to step k (the
  median over the customers who got both), so both groups are watched over the same days.
- Counted per customer: countable orders (cancelled and fully refunded orders left out,
  partial refunds subtracted: the ``order_facts`` definition every metric uses) placed
  after the clock started and within the window. Conversion = customers with an order /
  customers; revenue per customer = net revenue / customers (in major units of the shop's
  currency).
- **finished** rows count only customers whose whole window has passed; customers still
  inside theirs are counted later. When no one in a group has a finished window yet, the row
  is **so far**: what is known up to now, with no verdict (looking early and often inflates
  false wins).
- Differences: conversion with Newcombe's hybrid score interval; revenue and orders per
  customer with Welch's t interval. Incremental orders and revenue = the per-customer
  difference times the recipients, with the interval scaled alike.
- Verdict: ``better`` / ``worse`` when the 95% interval lies above / below zero, else
  ``inconclusive``; only on a finished window with at least :data:`MIN_GROUP` customers in
  each group (never a winner on a small sample).
- **A/B variants** (``sends.variant``): after a campaign's row, one row per variant: its
  recipients against the same holdout, by the same rules; and every variant after the first
  against the first (the reference, the control when it is the campaign's own message): the
  difference between the variants with its interval and a verdict, by the same rules too
  (finished windows, :data:`MIN_GROUP` customers each). The split between the variants is
  checked against the shares in the campaign file (:func:`~.stats.split_test`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from retain_cli.measure.stats import (
    Interval,
    Moments,
    RatioCheck,
    SplitCheck,
    detectable_difference,
    newcombe_difference,
    proportion_sd,
    recipients_needed,
    sample_ratio_test,
    split_test,
    welch_difference,
)

if TYPE_CHECKING:
    import numpy as np

    from retain_cli.analytics.order_arrays import OrderArrays
    from retain_cli.measure.coupons import CouponUse

DAY = 86400
#: customers each group needs before a row gets a verdict
MIN_GROUP = 30
FINISHED = "finished"
SO_FAR = "so far"
_TIME_BITS = 34  # unix seconds up to the year 2514 fit below the customer in one int64 key


@dataclass(frozen=True)
class Group:
    """One side of a comparison: per-customer orders and revenue summed up."""

    customers: int
    converted: int
    orders: Moments
    revenue: Moments
    offer_orders: int = 0
    discount: float = 0.0

    @property
    def conversion(self) -> float | None:
        return self.converted / self.customers if self.customers else None

    @property
    def revenue_per_customer(self) -> float | None:
        return self.revenue.mean


@dataclass
class Effect:
    """One row of ``retain report``: a campaign's step, recipients against the holdout."""

    campaign: str
    step: int
    window_days: float
    status: str  # finished | so far
    days_passed: float
    still_in_window: int
    recipients: Group
    holdout: Group
    sent: int = 0
    failed: int = 0
    ambiguous: int = 0
    offer_code: str | None = None
    expected_holdout: float | None = None
    ratio: RatioCheck | None = None
    conversion: Interval | None = None
    revenue: Interval | None = None
    orders: Interval | None = None
    incremental_orders: Interval | None = None
    incremental_revenue: Interval | None = None
    conversion_verdict: str | None = None
    revenue_verdict: str | None = None
    conversion_mde: float | None = None
    revenue_mde: float | None = None
    conversion_needed: int | None = None
    revenue_needed: int | None = None
    no_verdict: str = ""  # why there is none ("" when there is one)
    notes: list[str] = field(default_factory=list)
    coupons: CouponUse | None = None  # the coupon codes its messages carried, if any
    variant: str | None = None  # an A/B variant's recipients (None: all recipients)
    variant_share: float | None = None  # its share in the campaign file
    variant_realised_share: float | None = None  # its share of the first step's customers
    split: SplitCheck | None = None  # the split between the variants (first step)
    versus: Effect | None = None  # this variant's recipients against the reference variant's
    versus_variant: str | None = None  # the reference variant


@dataclass(frozen=True)
class CampaignInfo:
    """What the campaign file says about a campaign (None fields: not in the file)."""

    holdout: float | None = None
    offer_code: str | None = None
    variants: tuple[tuple[str, float], ...] = ()  # (name, share) in the file's order


class Windows:
    """Sums of per-customer values over time windows, for many customers at once.

    ``customer`` and ``t`` must be sorted by (customer, t), as :class:`OrderArrays` are."""

    def __init__(self, customer: np.ndarray, t: np.ndarray, value: np.ndarray) -> None:
        import numpy as np

        self.key = _key(customer, t)
        self.cum = np.concatenate([[0.0], np.cumsum(value, dtype=np.float64)])

    def sums(
        self, refs: np.ndarray, start: np.ndarray, end: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per customer: how many rows and the sum of values with start < t <= end."""
        lo = self.key.searchsorted(_key(refs, start), side="right")
        hi = self.key.searchsorted(_key(refs, end), side="right")
        hi = hi.clip(min=lo)
        return hi - lo, self.cum[hi] - self.cum[lo]


def _key(customer: Any, t: Any) -> np.ndarray:
    import numpy as np

    seconds = np.clip(np.asarray(t, dtype=np.int64), 0, (1 << _TIME_BITS) - 1)
    return (np.asarray(customer, dtype=np.int64) << _TIME_BITS) | seconds


SENT, HELD, FAILED, AMBIGUOUS = 1, 2, 3, 4  # the kinds of Store.measure_ledger


@dataclass
class CampaignLedger:
    """One campaign's ledger as arrays (``Store.measure_ledger``)."""

    name: str
    step: np.ndarray
    ref: np.ndarray
    kind: np.ndarray
    planned: np.ndarray
    sent: np.ndarray
    variant: np.ndarray  # 0: none, k: variant_names[k - 1]
    variant_names: list[str] = field(default_factory=list)

    @classmethod
    def from_rows(
        cls, name: str, rows: Sequence[tuple[int, ...]], variants: Sequence[str] = ()
    ) -> CampaignLedger:
        import numpy as np

        table = np.array(rows, dtype=np.int64).reshape(-1, 6)
        step, ref, kind, planned, sent, variant = (table[:, i] for i in range(6))
        return cls(name, step, ref, kind, planned, sent, variant, list(variants))

    def steps(self) -> list[int]:
        import numpy as np

        return [int(s) for s in np.unique(self.step)]

    def count(self, step: int, kind: int) -> int:
        return int(((self.step == step) & (self.kind == kind)).sum())


def _first(refs: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each customer once, with their earliest time (customers ascending)."""
    import numpy as np

    order = np.lexsort((times, refs))
    refs, times = refs[order], times[order]
    keep = np.r_[True, refs[1:] != refs[:-1]] if len(refs) else np.zeros(0, bool)
    return refs[keep], times[keep]


def campaign_effects(
    ledgers: Sequence[CampaignLedger],
    orders: OrderArrays,
    window: timedelta,
    now: datetime,
    *,
    info: dict[str, CampaignInfo] | None = None,
    offers: dict[str, Windows] | None = None,
) -> list[Effect]:
    """Every campaign and step of ``ledgers``, measured on ``orders`` (major units), up to
    ``now``. ``info``: holdout and offer code per campaign from the campaign file;
    ``offers``: per offer code, its orders' discounts as windows."""
    import numpy as np

    info = info or {}
    offers = offers or {}
    windows = Windows(orders.customer, orders.t, orders.amount)
    moment = int(now.timestamp())
    span = int(window.total_seconds())
    effects: list[Effect] = []
    for item in ledgers:
        known = info.get(item.name, CampaignInfo())
        steps = item.steps()
        if not steps:
            continue
        first_step = steps[0]
        held = _first(item.ref[item.kind == HELD], item.planned[item.kind == HELD])
        assigned = np.unique(item.ref[item.step == first_step])
        ratio = _ratio_check(held[0], assigned, known.holdout)
        first_sent = None
        for step in steps:
            mask = (item.kind == SENT) & (item.step == step)
            refs, start = _first(item.ref[mask], item.sent[mask])
            keep = ~np.isin(refs, held[0], assume_unique=True)
            refs, start = refs[keep], start[keep]
            if step == first_step:
                first_sent = (refs, start)
            elif not len(refs):
                continue
            shift = _median_shift(first_sent, (refs, start)) if step != first_step else 0
            effect = _measure(
                windows,
                offers.get(known.offer_code or ""),
                (refs, start),
                (held[0], held[1] + shift),
                span,
                moment,
            )
            effect.campaign, effect.step = item.name, step
            effect.sent = item.count(step, SENT)
            effect.failed = item.count(step, FAILED)
            effect.ambiguous = item.count(step, AMBIGUOUS)
            effect.offer_code = known.offer_code
            effect.expected_holdout = known.holdout
            effect.ratio = ratio if step == first_step else None
            _judge(effect, known.holdout)
            effects.append(effect)
            if item.variant_names:
                first = step == first_step
                effects += _variants(item, known, step, first, held, shift, windows, offers,
                                     span, moment)  # fmt: skip
    return effects


def _variant_order(item: CampaignLedger, known: CampaignInfo) -> list[tuple[str, int]]:
    """(name, number in the ledger) of the variants the ledger names: the campaign file's
    order first (its first variant is the reference), then any the file no longer has."""
    numbers = {name: k for k, name in enumerate(item.variant_names, start=1)}
    named = [name for name, _ in known.variants if name in numbers]
    rest = [name for name in item.variant_names if name not in named]
    return [(name, numbers[name]) for name in [*named, *rest]]


def _variants(
    item: CampaignLedger,
    known: CampaignInfo,
    step: int,
    first_step: bool,
    held: tuple[np.ndarray, np.ndarray],
    shift: int,
    windows: Windows,
    offers: dict[str, Windows],
    span: int,
    moment: int,
) -> list[Effect]:
    """One step's rows per A/B variant: each against the holdout, and each after the first
    against the first."""
    import numpy as np

    order = _variant_order(item, known)
    shares = dict(known.variants)
    offer = offers.get(known.offer_code or "")
    split = _split_check(item, step, order, shares) if first_step else None
    groups = {}
    for name, number in order:
        mask = (item.kind == SENT) & (item.step == step) & (item.variant == number)
        refs, start = _first(item.ref[mask], item.sent[mask])
        keep = ~np.isin(refs, held[0], assume_unique=True)
        groups[name] = (refs[keep], start[keep])
    out = []
    reference = order[0][0]
    holdout = (held[0], held[1] + shift)
    memo: dict[tuple[int, bool], Group] = {}  # (the arrays stay alive while it is used)
    for position, (name, number) in enumerate(order):
        if not len(groups[name][0]) and not first_step:
            continue
        effect = _measure(windows, offer, groups[name], holdout, span, moment, memo)
        effect.step, effect.variant = step, name
        mine = (item.step == step) & (item.variant == number)
        effect.sent = int((mine & (item.kind == SENT)).sum())
        effect.failed = int((mine & (item.kind == FAILED)).sum())
        effect.ambiguous = int((mine & (item.kind == AMBIGUOUS)).sum())
        effect.variant_share = shares.get(name)
        effect.split = split
        if split is not None:
            effect.variant_realised_share = split.shares[position]
        _judge(effect, known.holdout)
        if name != reference:
            versus = _measure(windows, offer, groups[name], groups[reference], span, moment, memo)
            versus.step, versus.variant = step, name
            _judge(versus, None)
            if not versus.recipients.customers or not versus.holdout.customers:
                empty = name if not versus.recipients.customers else reference
                versus.no_verdict = f"nobody has been counted in variant {empty} yet"
            effect.versus, effect.versus_variant = versus, reference
        out.append(effect)
    for effect in out:
        effect.campaign, effect.offer_code = item.name, known.offer_code
        effect.expected_holdout = known.holdout
        if effect.versus is not None:
            effect.versus.campaign = item.name
    return out


def _split_check(
    item: CampaignLedger, step: int, order: list[tuple[str, int]], shares: dict[str, float]
) -> SplitCheck | None:
    """The first step's customers per variant (held out or not) against the file's shares;
    None when the file does not give every variant the ledger names a share."""
    import numpy as np

    if not order or any(name not in shares for name, _ in order):
        return None
    mine = (item.step == step) & (item.kind != HELD)
    counts = tuple(len(np.unique(item.ref[mine & (item.variant == number)])) for _, number in order)
    if sum(counts) == 0 or len(counts) < 2:
        return None
    total = sum(shares[name] for name, _ in order)
    return split_test(counts, tuple(shares[name] / total for name, _ in order))


def _median_shift(
    first: tuple[np.ndarray, np.ndarray] | None, later: tuple[np.ndarray, np.ndarray]
) -> int:
    """The median time from a customer's first step to this one (0 when none got both)."""
    import numpy as np

    if first is None:
        return 0
    _, i, j = np.intersect1d(first[0], later[0], assume_unique=True, return_indices=True)
    return int(np.median(later[1][j] - first[1][i])) if len(i) else 0


def _ratio_check(
    held: np.ndarray, assigned: np.ndarray, expected: float | None
) -> RatioCheck | None:
    """Held out against everyone the first step was planned for (sent or not)."""
    import numpy as np

    if expected is None or not len(assigned):
        return None
    held_count = int(np.isin(held, assigned, assume_unique=True).sum())
    if expected == 0 and held_count == 0:
        return None
    return sample_ratio_test(held_count, len(assigned), expected)


def _measure(
    windows: Windows,
    offer: Windows | None,
    recipients: tuple[np.ndarray, np.ndarray],
    holdout: tuple[np.ndarray, np.ndarray],
    span: int,
    now: int,
    memo: dict[tuple[int, bool], Group] | None = None,
) -> Effect:
    """Both groups over their windows: finished customers only, else so far. ``memo``
    keeps each group's sums (by the id of its arrays and finished or not) for the next
    comparison of the same group: the variants are each compared with the holdout and the
    first variant."""
    import numpy as np

    rec_done = recipients[1] + span <= now
    hold_done = holdout[1] + span <= now
    finished = bool(rec_done.any()) and (len(holdout[0]) == 0 or bool(hold_done.any()))
    if finished:
        keep_r, keep_h = rec_done, hold_done
        days = span / DAY
    else:
        keep_r, keep_h = recipients[1] <= now, holdout[1] <= now
        started = np.concatenate([recipients[1][keep_r], holdout[1][keep_h]])
        days = max(0.0, (now - float(started.max())) / DAY) if len(started) else 0.0
    still = int((~keep_r).sum() + (~keep_h).sum())
    if not finished:
        still = int(len(recipients[0]) + len(holdout[0]))
    groups = []
    for (refs, start), keep in ((recipients, keep_r), (holdout, keep_h)):
        key = (id(start), finished)
        if memo is not None and key in memo:
            groups.append(memo[key])
            continue
        refs, start = refs[keep], start[keep]
        end = np.minimum(start + span, now)
        count, revenue = windows.sums(refs, start, end)
        offer_orders, discount = 0, 0.0
        if offer is not None and len(refs):
            used, given = offer.sums(refs, start, end)
            offer_orders, discount = int(used.sum()), float(given.sum())
        groups.append(
            Group(
                customers=len(refs),
                converted=int((count > 0).sum()),
                orders=Moments(len(refs), float(count.sum()), float((count * count).sum())),
                revenue=Moments(len(refs), float(revenue.sum()), float((revenue**2).sum())),
                offer_orders=offer_orders,
                discount=discount,
            )
        )
        if memo is not None:
            memo[key] = groups[-1]
    return Effect(
        campaign="",
        step=0,
        window_days=span / DAY,
        status=FINISHED if finished else SO_FAR,
        days_passed=min(days, span / DAY),
        still_in_window=still,
        recipients=groups[0],
        holdout=groups[1],
    )


def _judge(effect: Effect, expected: float | None) -> None:
    """Intervals, verdicts, the detectable difference and the recipients needed."""
    rec, hold = effect.recipients, effect.holdout
    if rec.customers == 0 or hold.customers == 0:
        effect.no_verdict = (
            "nobody was held out: there is nothing to compare with (set holdout: 10% in the "
            "campaign file)"
            if hold.customers == 0
            else "no recipient has been counted yet"
        )
        return
    effect.conversion = newcombe_difference(
        rec.converted, rec.customers, hold.converted, hold.customers
    )
    effect.revenue = welch_difference(rec.revenue, hold.revenue)
    effect.orders = welch_difference(rec.orders, hold.orders)
    if effect.orders is not None:
        effect.incremental_orders = effect.orders.scaled(rec.customers)
    if effect.revenue is not None:
        effect.incremental_revenue = effect.revenue.scaled(rec.customers)
    per_recipient = expected / (1 - expected) if expected else hold.customers / rec.customers
    pooled = (rec.converted + hold.converted + 1) / (rec.customers + hold.customers + 2)
    sd = proportion_sd(pooled)
    effect.conversion_mde = detectable_difference(sd, sd, rec.customers, hold.customers)
    effect.conversion_needed = recipients_needed(
        sd, sd, abs(effect.conversion.estimate), per_recipient
    )
    if rec.revenue.variance is not None and hold.revenue.variance is not None:
        sd_r, sd_h = rec.revenue.variance**0.5, hold.revenue.variance**0.5
        effect.revenue_mde = detectable_difference(sd_r, sd_h, rec.customers, hold.customers)
        if effect.revenue is not None:
            effect.revenue_needed = recipients_needed(
                sd_r, sd_h, abs(effect.revenue.estimate), per_recipient
            )
    if effect.status == SO_FAR:
        effect.no_verdict = "the window has not ended"
        return
    if min(rec.customers, hold.customers) < MIN_GROUP:
        effect.no_verdict = f"fewer than {MIN_GROUP} customers in a group"
    effect.conversion_verdict = _verdict(effect.conversion, effect.no_verdict)
    effect.revenue_verdict = _verdict(effect.revenue, effect.no_verdict)


def _verdict(interval: Interval | None, too_small: str) -> str:
    if interval is None or too_small or interval.spans_zero():
        return "inconclusive"
    return "better" if interval.low > 0 else "worse"
