"""Retention KPIs (``retain metrics``): pure functions over packed order arrays.

Everything starts from :class:`~retain_cli.analytics.order_arrays.OrderArrays`, the
countable orders sorted by customer and time. The exact definitions printed by ``retain
explain`` live in :mod:`retain_cli.analytics.definitions`; keep the two in step.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

# the packed orders moved to order_arrays; these names stay importable from here
from retain_cli.analytics.order_arrays import DAY as DAY
from retain_cli.analytics.order_arrays import ORDERS_CACHE as ORDERS_CACHE
from retain_cli.analytics.order_arrays import OrderArrays as OrderArrays
from retain_cli.analytics.order_arrays import _any_in, _seconds, currency_label
from retain_cli.analytics.order_arrays import add_orders as add_orders
from retain_cli.analytics.order_arrays import countable_orders as countable_orders
from retain_cli.analytics.order_arrays import load_orders as load_orders
from retain_cli.analytics.order_arrays import order_day_gaps as order_day_gaps
from retain_cli.analytics.order_arrays import summarise as summarise
from retain_cli.errors import UsageError

if TYPE_CHECKING:
    import numpy as np

    from retain_cli.store import Store

#: a customer belongs to the customer base at moment t when they ordered in the year up to t
BASE_LOOKBACK_DAYS = 365
PERIODS = ("30d", "90d", "month", "quarter", "year")

# --- periods --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Orders with ``start < ordered_at <= end`` (both UTC), and a label for people."""

    start: datetime  # exclusive
    end: datetime  # inclusive
    label: str

    @property
    def first_day(self) -> date:
        return (self.start + timedelta(seconds=1)).date()

    @property
    def last_day(self) -> date:
        return self.end.date()


def _calendar_start(moment: datetime, period: str) -> datetime:
    if period == "month":
        return datetime(moment.year, moment.month, 1, tzinfo=UTC)
    if period == "quarter":
        return datetime(moment.year, 3 * ((moment.month - 1) // 3) + 1, 1, tzinfo=UTC)
    return datetime(moment.year, 1, 1, tzinfo=UTC)


_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def _months_back(moment: datetime, months: int) -> datetime:
    """The same moment ``months`` calendar months earlier: the same day of the month and time
    of day, clamped to a shorter month's end; the last day of a month goes to the last day
    (31 March -> 28 February, 30 June -> 31 March), so a full period maps to a full one."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = index // 12, index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    month_end = moment.day == calendar.monthrange(moment.year, moment.month)[1]
    return moment.replace(year=year, month=month, day=last if month_end else min(moment.day, last))


def period_for(as_of: datetime, period: str) -> Period:
    """The period ending at ``as_of``: the last N days (``30d``), or the calendar month,
    quarter or year containing ``as_of``, up to ``as_of``."""
    as_of = as_of.astimezone(UTC)
    if period not in PERIODS:
        raise UsageError(f"--period {period!r} is not one of {', '.join(PERIODS)}")
    if period.endswith("d"):
        days = int(period[:-1])
        start = as_of - timedelta(days=days)
        return Period(start, as_of, f"{days} days to {as_of.date().isoformat()}")
    begin = _calendar_start(as_of, period)
    return Period(begin - timedelta(seconds=1), as_of, _calendar_label(begin, as_of, period))


def previous_period(current: Period, period: str) -> Period:
    """The period before: the N days before (``30d``), or the previous calendar month,
    quarter or year cut at the same offset: its start up to the same day of the same month
    within it (1 Jan-15 Feb -> 1 Oct-15 Nov; a full Q1 -> the full Q4; 1-31 March -> all of
    February), the same time of day."""
    if period.endswith("d"):
        span = current.end - current.start
        end = current.start
        return Period(end - span, end, f"{span.days} days to {end.date().isoformat()}")
    begin = current.start + timedelta(seconds=1)
    previous_begin = _months_back(begin, _MONTHS[period])
    end = min(_months_back(current.end, _MONTHS[period]), begin - timedelta(seconds=1))
    return Period(
        previous_begin - timedelta(seconds=1), end, _calendar_label(previous_begin, end, period)
    )


def _calendar_label(begin: datetime, end: datetime, period: str) -> str:
    if period == "month":
        name = f"{calendar.month_abbr[begin.month]} {begin.year}"
    elif period == "quarter":
        name = f"Q{(begin.month - 1) // 3 + 1} {begin.year}"
    else:
        name = str(begin.year)
    return f"{name} ({begin.date().isoformat()} to {end.date().isoformat()})"


# --- metrics --------------------------------------------------------------------------------

#: the figures, in the order they are shown, by scope; definitions in analytics.definitions
METRIC_SCOPES: dict[str, tuple[str, ...]] = {
    "period": (
        "active_customers",
        "new_customers",
        "returning_customers",
        "returning_customer_rate",
        "orders",
        "revenue",
        "returning_revenue_share",
        "average_order_value",
        "purchase_frequency",
    ),
    "customer base": (
        "customer_base_start",
        "customer_base_end",
        "retention_rate",
        "churn_rate",
        "reactivated_customers",
    ),
    "all time": (
        "customers",
        "repeat_purchase_rate",
        "historic_clv",
        "median_days_between_orders",
        "median_days_to_second_order",
    ),
}
METRIC_NAMES: tuple[str, ...] = tuple(n for names in METRIC_SCOPES.values() for n in names)
#: what each scope counts, for a heading in the table (short: it shares the metric column)
SCOPE_TEXT = {
    "period": "in the period:",
    "customer base": "customer base (365 days):",
    "all time": "all history to the end:",
}


def _ratio(part: float, whole: float, digits: int = 4) -> float | None:
    return round(part / whole, digits) if whole else None


def _median(values: np.ndarray) -> float | None:
    import numpy as np

    return round(float(np.median(values)), 1) if len(values) else None


def compute_metrics(orders: OrderArrays, period: Period) -> dict[str, float | int | None]:
    """Every figure of ``retain metrics`` for one period (definitions: ``retain explain``)."""
    import numpy as np

    orders = orders.upto(period.end)
    lo, hi = _seconds(period.start), _seconds(period.end)
    lookback = max(BASE_LOOKBACK_DAYS * DAY, hi - lo)
    summary = summarise(orders)
    t, amount = orders.t, orders.amount
    in_period = t > lo
    active = _any_in(in_period, summary.starts)
    new = summary.first_t > lo
    returning = active & ~new
    base_start = _any_in((t > lo - lookback) & (t <= lo), summary.starts)
    base_end = _any_in(t > hi - lookback, summary.starts)
    order_days = _order_days(orders, summary.starts)

    revenue = float(amount[in_period].sum())
    period_orders = int(in_period.sum())
    returning_per_order = np.repeat(returning, summary.orders) if len(t) else np.zeros(0, bool)
    returning_revenue = float(amount[in_period & returning_per_order].sum())
    customers = len(summary.customer)
    active_count = int(active.sum())
    start_count = int(base_start.sum())
    gaps, to_second = order_day_gaps(orders)
    values: dict[str, float | int | None] = {
        "customers": customers,
        "active_customers": active_count,
        "new_customers": int(new.sum()),
        "returning_customers": int(returning.sum()),
        "returning_customer_rate": _ratio(int((active & (order_days >= 2)).sum()), active_count),
        "orders": period_orders,
        "revenue": round(revenue, 2),
        "returning_revenue_share": _ratio(returning_revenue, revenue),
        "average_order_value": _ratio(revenue, period_orders, 2),
        "purchase_frequency": _ratio(period_orders, active_count, 3),
        "repeat_purchase_rate": _ratio(int((order_days >= 2).sum()), customers),
        "customer_base_start": start_count,
        "customer_base_end": int(base_end.sum()),
        "retention_rate": _ratio(int((base_start & base_end).sum()), start_count),
        "churn_rate": _ratio(int((base_start & ~base_end).sum()), start_count),
        "reactivated_customers": int((returning & ~base_start).sum()),
        "historic_clv": _ratio(float(summary.total.sum()), customers, 2),
        "median_days_between_orders": _median(gaps),
        "median_days_to_second_order": _median(to_second),
    }
    return {name: values[name] for name in METRIC_NAMES}


def _order_days(orders: OrderArrays, starts: np.ndarray) -> np.ndarray:
    """Per customer (in summary order): on how many distinct days they ordered."""
    import numpy as np

    if len(starts) == 0:
        return np.zeros(0, dtype=np.int64)
    c, day = orders.customer, orders.t // DAY
    first_of_day = np.r_[True, (c[1:] != c[:-1]) | (day[1:] != day[:-1])]
    return np.add.reduceat(first_of_day.astype(np.int64), starts)


@dataclass
class MetricsReport:
    period: Period
    values: dict[str, float | int | None]
    currency: str
    revenue: str = "gross"  # which amounts: see REVENUE_TEXT
    previous: Period | None = None
    previous_values: dict[str, float | int | None] | None = None
    #: the period's sales without a customer (walk-ins), counted in orders and revenue
    sales_without_customer: int = 0

    def rows(self) -> list[dict[str, Any]]:
        """One row per metric: metric, value[, previous, change, change_pct]."""
        out = []
        for name in METRIC_NAMES:
            row: dict[str, Any] = {"metric": name, "value": self.values[name]}
            if self.previous_values is not None:
                before = self.previous_values[name]
                now = self.values[name]
                row["previous"] = before
                if now is None or before is None:
                    row["change"] = None
                    row["change_pct"] = None
                else:
                    row["change"] = round(float(now) - float(before), 4)
                    row["change_pct"] = (
                        round((float(now) - float(before)) / abs(float(before)), 4)
                        if before
                        else None
                    )
            out.append(row)
        return out


#: which revenue the money figures add up (``--revenue``)
REVENUE_TEXT = {
    "gross": "gross: order totals with tax and shipping, less refunds",
    "net": "net: order totals without tax and shipping, less refunds",
}


def metrics(
    store: Store,
    as_of: datetime,
    period: str = "30d",
    *,
    compare: bool = False,
    revenue: str = "gross",
) -> MetricsReport:
    """``retain metrics``: the figures for the period ending at ``as_of``, money as
    ``revenue`` (``gross`` or ``net``, see :data:`REVENUE_TEXT`); sales without a customer
    counted in orders and revenue (see :mod:`retain_cli.analytics.walk_ins`)."""
    from retain_cli.analytics.walk_ins import add_walk_ins, load_walk_ins

    orders = load_orders(store, revenue).upto(as_of)
    walk_ins = load_walk_ins(store, revenue)
    current = period_for(as_of, period)
    codes = tuple(sorted({*orders.currencies, *walk_ins.currencies}))
    report = MetricsReport(
        current,
        add_walk_ins(compute_metrics(orders, current), walk_ins, current),
        currency_label(replace(orders, currencies=codes)),
        revenue,
        sales_without_customer=walk_ins.between(current)[0],
    )
    if compare:
        before = report.previous = previous_period(current, period)
        report.previous_values = add_walk_ins(compute_metrics(orders, before), walk_ins, before)
    return report
