"""``retain report program``: the program holdout against everyone else ("was the whole
thing worth it").

The comparison is the randomised one the program holdout recorded (:mod:`retain_cli.
campaigns.program`): customers drawn by the time the period begins, held out of every
marketing campaign or not. Over the period (``--from``, default the day the holdout began;
``--to``, default now), per group:

- **retention**: of the customers active before the period (a countable order in the 365
  days before it began, as ``customer_base_start`` in ``retain metrics``), the share who
  ordered in the period;
- **repeat rate**: the share of the group who placed a repeat order in the period (an order
  on a later day than their first order ever);
- **orders per customer** and **revenue per customer**: the group's countable orders and
  their net revenue in the period, divided by the group's customers.

Differences are "everyone else minus held out" (positive: the marketing did better), with
95% intervals: Newcombe's for the rates, Welch's t for the means. The verdict rules are
``retain report``'s: ``better``/``worse`` when the interval leaves out zero, else
``inconclusive`` with the smallest difference this size detects and the customers a
conclusive answer would take; none while the period has not ended (``so far``) or with fewer
than 30 customers in a group.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from retain_cli.errors import UsageError
from retain_cli.measure.effects import FINISHED, MIN_GROUP, SO_FAR, Windows
from retain_cli.measure.present import Units
from retain_cli.measure.stats import (
    Interval,
    Moments,
    RatioCheck,
    detectable_difference,
    newcombe_difference,
    proportion_sd,
    recipients_needed,
    sample_ratio_test,
    welch_difference,
)
from retain_cli.money import DEFAULT_LOCALE, minor_units
from retain_cli.timeutil import from_iso, start_of_day, to_iso, zone

if TYPE_CHECKING:
    from retain_cli.campaigns.model import CampaignConfig
    from retain_cli.campaigns.program import ProgramHoldout
    from retain_cli.store import Store

DAY = 86400
BASE_DAYS = 365  # "active before": an order in this many days before the period

#: the figures: (name, label, unit, interval method)
FIGURES = (
    ("retention", "retention", "rate", "newcombe"),
    ("repeat_rate", "repeat rate", "rate", "newcombe"),
    ("orders_per_customer", "orders/customer", "count", "welch"),
    ("revenue_per_customer", "revenue/customer", "money", "welch"),
)
#: the columns of ``retain report program --format csv/json`` (one row per figure)
COLUMNS = [
    "figure",
    "unit",
    "status",
    "from",
    "to",
    "days_passed",
    "days",
    "currency",
    "share",
    "program_customers",
    "held_out_customers",
    "program_base",
    "held_out_base",
    "program_value",
    "held_out_value",
    "difference",
    "low",
    "high",
    "interval",
    "verdict",
    "detectable",
    "customers_needed",
    "no_verdict",
    "realised_share",
    "ratio_p_value",
    "sample_ratio_mismatch",
]


@dataclass
class Figure:
    """One figure for both groups, their difference and its verdict."""

    name: str
    label: str
    unit: str  # rate | count | money
    method: str  # newcombe | welch
    program: float | None
    held: float | None
    program_base: int  # customers the figure is over (retention: those active before)
    held_base: int
    interval: Interval | None = None
    verdict: str | None = None
    detectable: float | None = None
    needed: int | None = None


@dataclass
class ProgramReport:
    holdout: ProgramHoldout
    start: datetime
    end: datetime
    now: datetime
    status: str  # finished | so far
    program_customers: int
    held_customers: int
    figures: list[Figure]
    currency: str
    ratio: RatioCheck | None = None
    no_verdict: str = ""
    notes: list[str] = field(default_factory=list)
    locale: str = DEFAULT_LOCALE

    @property
    def units(self) -> Units:
        return Units(self.currency, self.locale)

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / DAY

    @property
    def days_passed(self) -> float:
        return max(0.0, (min(self.end, self.now) - self.start).total_seconds() / DAY)

    def rows(self) -> list[dict[str, Any]]:
        money = minor_units(self.currency)
        out = []
        for f in self.figures:
            digits = money if f.unit == "money" else 4 if f.unit == "rate" else 3
            interval = f.interval
            row = {
                "figure": f.name,
                "unit": f.unit,
                "status": self.status,
                "from": to_iso(self.start),
                "to": to_iso(self.end),
                "days_passed": round(self.days_passed, 1),
                "days": round(self.days, 1),
                "currency": self.currency,
                "share": self.holdout.share,
                "program_customers": self.program_customers,
                "held_out_customers": self.held_customers,
                "program_base": f.program_base,
                "held_out_base": f.held_base,
                "program_value": _round(f.program, digits),
                "held_out_value": _round(f.held, digits),
                "difference": None if interval is None else round(interval.estimate, digits),
                "low": None if interval is None else round(interval.low, digits),
                "high": None if interval is None else round(interval.high, digits),
                "interval": f.method,
                "verdict": f.verdict,
                "detectable": _round(f.detectable, digits),
                "customers_needed": f.needed,
                "no_verdict": self.no_verdict or None,
                "realised_share": None if self.ratio is None else round(self.ratio.share, 4),
                "ratio_p_value": None if self.ratio is None else float(f"{self.ratio.p_value:.3g}"),
                "sample_ratio_mismatch": None if self.ratio is None else self.ratio.mismatch,
            }
            out.append({column: row[column] for column in COLUMNS})
        return out


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def program_report(
    store: Store,
    now: datetime,
    *,
    start_day: date | None = None,
    end_day: date | None = None,
    config: CampaignConfig | None = None,
) -> ProgramReport:
    """The held-out customers against everyone else over the period (see the module)."""
    from retain_cli.analytics.order_arrays import load_orders
    from retain_cli.campaigns.program import latest_program

    holdout = latest_program(store)
    if holdout is None:
        raise UsageError(
            "no program holdout yet: nobody is held out of every campaign to compare with. "
            "Start one with 'retain config set program_holdout 5%' and look again once some "
            "weeks have passed"
        )
    tz = zone(config.timezone if config is not None else "UTC")
    began = from_iso(holdout.started_at)
    start, end = _period(began, start_day, end_day, now, tz)
    draws = store.program_draws(holdout.id, to_iso(start))
    orders = load_orders(store).upto(min(end, now))
    currency = orders.currencies[0] if len(orders.currencies) == 1 else store.shop_currency() or ""
    report = _compare(holdout, draws, orders, start, end, now)
    report.currency = currency
    report.locale = config.shop.locale if config is not None else DEFAULT_LOCALE
    if len(orders.currencies) > 1:
        report.notes.append(
            "orders come in several currencies (" + ", ".join(orders.currencies) + "); "
            f"amounts are added without conversion and shown as {currency}"
        )
    if holdout.ended_at is not None and from_iso(holdout.ended_at) < min(end, now):
        report.notes.append(
            f"the program holdout ended on {holdout.ended_at[:10]}: its customers got marketing "
            "campaigns after that, so a period past that day compares less than it seems"
        )
    return report


def _period(
    began: datetime, start_day: date | None, end_day: date | None, now: datetime, tz: Any
) -> tuple[datetime, datetime]:
    """(start, end) of the period: the start of --from (not before the holdout began), the
    end of --to (default: now)."""
    from datetime import timedelta

    start = began
    if start_day is not None:
        if start_day < began.astimezone(tz).date():
            raise UsageError(
                f"--from {start_day} is before the program holdout began "
                f"({began.astimezone(tz).date()}): nobody was held out then; use a later day"
            )
        start = max(start_of_day(start_day, tz), began)
    end = now if end_day is None else start_of_day(end_day + timedelta(days=1), tz)
    if end <= start:
        raise UsageError(
            f"the period ends ({end.astimezone(tz).date()}) before it begins "
            f"({start.astimezone(tz).date()}); --to must be after --from"
        )
    if start >= now:
        raise UsageError(
            f"the period begins {start.astimezone(tz).date()}, after now: nothing to measure yet"
        )
    return start, end


@dataclass(frozen=True)
class _Side:
    """One group's counts: customers, those active before, retained, repeaters, and the
    moments of their orders and revenue in the period."""

    n: int
    base: int
    retained: int
    repeat: int
    orders: Moments
    revenue: Moments


def _moments(values: Any) -> Moments:
    return Moments(len(values), float(values.sum()), float((values * values).sum()))


def _compare(
    holdout: ProgramHoldout,
    draws: tuple[list[int], list[int]],
    orders: Any,
    start: datetime,
    end: datetime,
    now: datetime,
) -> ProgramReport:
    import numpy as np

    refs = np.array(draws[0], dtype=np.int64)
    held = np.array(draws[1], dtype=bool)
    lo, hi = int(start.timestamp()), int(min(end, now).timestamp())
    windows = Windows(orders.customer, orders.t, orders.amount)

    def span(a: int | np.ndarray, b: int | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return windows.sums(refs, np.broadcast_to(a, refs.shape), np.broadcast_to(b, refs.shape))

    before, _ = span(lo - BASE_DAYS * DAY, lo)
    count, revenue = span(lo, hi)
    # each customer's first order ever: the first row of theirs in the sorted arrays
    first_row = np.searchsorted(orders.customer, refs, side="left")
    has_any = first_row < len(orders.customer)
    has_any[has_any] = orders.customer[first_row[has_any]] == refs[has_any]
    first_t = np.zeros(len(refs), dtype=np.int64)
    first_t[has_any] = orders.t[first_row[has_any]]
    next_day = (first_t // DAY + 1) * DAY - 1  # an order after this is on a later day
    repeat, _ = span(np.maximum(next_day, lo), hi)
    repeat = np.where(has_any, repeat, 0)

    active = before > 0
    p, h = (
        _Side(
            n=int(mask.sum()),
            base=int(active[mask].sum()),
            retained=int((active & (count > 0))[mask].sum()),
            repeat=int((repeat[mask] > 0).sum()),
            orders=_moments(count[mask].astype(float)),
            revenue=_moments(revenue[mask]),
        )
        for mask in (~held, held)
    )
    status = FINISHED if end <= now else SO_FAR
    report = ProgramReport(
        holdout=holdout,
        start=start,
        end=end,
        now=now,
        status=status,
        program_customers=p.n,
        held_customers=h.n,
        figures=[],
        currency="",
    )
    if len(refs):
        report.ratio = sample_ratio_test(h.n, len(refs), holdout.share)
    if status == SO_FAR:
        report.no_verdict = "the period has not ended"
    elif min(p.n, h.n) < MIN_GROUP:
        report.no_verdict = f"fewer than {MIN_GROUP} customers in a group"
    per_program = holdout.share / (1 - holdout.share)
    for name, label, unit, method in FIGURES:
        if method == "newcombe":
            x1, n1, x2, n2 = (
                (p.retained, p.base, h.retained, h.base)
                if name == "retention"
                else (p.repeat, p.n, h.repeat, h.n)
            )
            figure = _proportion(name, label, unit, x1, n1, x2, n2, per_program)
        elif unit == "count":
            figure = _mean(name, label, unit, p.orders, h.orders, per_program)
        else:
            figure = _mean(name, label, unit, p.revenue, h.revenue, per_program)
        if figure.interval is not None:
            if report.no_verdict.startswith("the period"):
                figure.verdict = None
            elif report.no_verdict or min(figure.program_base, figure.held_base) < MIN_GROUP:
                figure.verdict = "inconclusive"
            else:
                spans = figure.interval.spans_zero()
                figure.verdict = (
                    "inconclusive" if spans else "better" if figure.interval.low > 0 else "worse"
                )
        report.figures.append(figure)
    return report


def _needed_total(in_program: int | None, per_program: float) -> int | None:
    """Customers needed in the program -> customers in all (the held-out ones on top)."""
    return None if in_program is None else math.ceil(in_program * (1 + per_program))


def _proportion(
    name: str, label: str, unit: str, x1: int, n1: int, x2: int, n2: int, per_program: float
) -> Figure:
    figure = Figure(
        name, label, unit, "newcombe", x1 / n1 if n1 else None, x2 / n2 if n2 else None, n1, n2
    )
    if n1 and n2:
        figure.interval = newcombe_difference(x1, n1, x2, n2)
        sd = proportion_sd((x1 + x2 + 1) / (n1 + n2 + 2))
        figure.detectable = detectable_difference(sd, sd, n1, n2)
        figure.needed = _needed_total(
            recipients_needed(sd, sd, abs(figure.interval.estimate), per_program), per_program
        )
    return figure


def _mean(name: str, label: str, unit: str, a: Moments, b: Moments, per_program: float) -> Figure:
    figure = Figure(name, label, unit, "welch", a.mean, b.mean, a.n, b.n)
    figure.interval = welch_difference(a, b)
    if a.variance is not None and b.variance is not None:
        sd_a, sd_b = a.variance**0.5, b.variance**0.5
        figure.detectable = detectable_difference(sd_a, sd_b, a.n, b.n)
        if figure.interval is not None:
            figure.needed = _needed_total(
                recipients_needed(sd_a, sd_b, abs(figure.interval.estimate), per_program),
                per_program,
            )
    return figure


# --- words for people ------------------------------------------------------------------------


def program_title(report: ProgramReport, tz_name: str = "UTC") -> str:
    from datetime import timedelta

    tz = zone(tz_name)
    first = report.start.astimezone(tz).date()
    last = (report.end - timedelta(seconds=1)).astimezone(tz).date()
    if report.status == SO_FAR:
        when = f"so far: {report.days_passed:.0f} of {report.days:.0f} days have passed"
    else:
        when = f"{report.days:.0f} days, finished"
    return f"Program holdout ({report.holdout.share_text}): {first} to {last} ({when})"


def program_sentences(report: ProgramReport) -> list[str]:
    """What the table means: a verdict per figure, the split, the notes."""
    units = report.units
    out: list[str] = []
    if report.status == SO_FAR:
        out.append(
            "No verdict yet: the period has not ended (looking early and often finds "
            "differences that are not there)."
        )
    else:
        for figure in report.figures:
            out.append(_figure_sentence(figure, report, units))
    ratio = report.ratio
    if ratio is not None:
        split = (
            f"{ratio.held_out:,} of {ratio.total:,} customers held out "
            f"({units.percent(ratio.share)}; the setting is {report.holdout.share_text}, "
            f"p = {ratio.p_value:.2g})"
        )
        if ratio.mismatch:
            out.append(
                f"WARNING: sample ratio mismatch: {split}. The split is broken, so these "
                "comparisons mean nothing until the cause is found."
            )
        else:
            out.append(f"Split: {split}: as expected.")
    out.append(
        "Retention: of the customers with an order in the 365 days before the period, the "
        "share who ordered in it; repeat rate: the share who ordered in it on a later day "
        "than their first order; per customer: over everyone in the group."
    )
    out.extend(f"Note: {note}." for note in report.notes)
    return out


def figure_text(value: float | None, unit: str, units: Units) -> str:
    if unit == "rate":
        return units.percent(value)
    if unit == "money":
        return units.money(value)
    return "-" if value is None else f"{value:,.2f}"


def interval_text(figure: Figure, units: Units) -> str:
    if figure.interval is None:
        return "-"
    if figure.unit == "count":
        i = figure.interval
        return f"{i.estimate:+,.2f} ({i.low:+,.2f} to {i.high:+,.2f})"
    return units.interval(figure.interval, figure.unit)


def _figure_sentence(figure: Figure, report: ProgramReport, units: Units) -> str:
    label = figure.label[0].upper() + figure.label[1:]
    if figure.interval is None:
        return f"{label}: no comparison (a group has fewer than two customers)."
    if figure.verdict in ("better", "worse"):
        return (
            f"{label}: {figure.verdict} with the marketing than without it (the 95% interval "
            "leaves out zero)."
        )
    why = (
        f"fewer than {MIN_GROUP} customers in a group"
        if min(figure.program_base, figure.held_base) < MIN_GROUP
        else "the interval spans zero"
    )
    if figure.detectable is None:
        size = "-"
    elif figure.unit == "rate":
        size = units.points(figure.detectable).lstrip("+")
    elif figure.unit == "money":
        size = units.money(figure.detectable)
    else:
        size = f"{figure.detectable:,.2f}"
    text = (
        f"{label}: inconclusive ({why}). At this size ({figure.program_base:,} customers in "
        f"the program, {figure.held_base:,} held out) the smallest difference it detects "
        f"(4 times in 5) is about {size}"
    )
    if figure.needed is not None:
        text += (
            f"; telling a difference as large as this one from chance takes about "
            f"{figure.needed:,} customers in all"
        )
    return text + "."
