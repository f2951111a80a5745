"""Loyalty points and tiers, computed from the countable orders every time (never stored).

The program (the campaign file's ``loyalty:`` section, read by
:mod:`retain_cli.campaigns.config_loyalty`) says how many points a unit of money earns, the
tiers by spend (or number of orders) over the last :data:`WINDOW_DAYS` days, the rewards the
points buy, when points expire and when tiers are recalculated.

The rules, for each customer, over the countable orders (``order_facts``: cancelled and fully
refunded orders left out, partial refunds subtracted):

- **points**: each order earns ``floor(net amount x points_per_unit)``. A reward's points are
  spent by an order that used the reward's discount ``code``. With ``expiry``, the balance
  expires when that long passes without an order (a new order keeps every point alive).
- **tiers**: a customer *qualifies* for the highest tier whose minimum their spend (or order
  count) in the trailing window reaches. At each recalculation (the first day of the month,
  quarter or year, in the shop's time zone) their tier becomes the one they qualify for then;
  between recalculations an order that qualifies for a higher tier upgrades them at once, and
  nothing takes a tier away. So a tier *drops* only at a recalculation, and is *at risk* when
  the orders already placed will not keep it at the next one.

:func:`loyalty_states` computes this for every customer at once over the packed arrays
(:class:`~retain_cli.analytics.order_arrays.OrderArrays`); :mod:`.loyalty_history` walks one
customer's orders in plain Python, the twin a test holds it to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from retain_cli.timeutil import zone

if TYPE_CHECKING:
    import numpy as np

    from retain_cli.analytics.order_arrays import OrderArrays

WINDOW_DAYS = 365
DAY = 86400
RECALCULATIONS = ("monthly", "quarterly", "yearly")
_MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12}
#: a hair above float noise, so 16.40 x 1 point is 16 points, never 15
_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    minimum: float  # spend in major units (basis spend) or orders (basis orders)


@dataclass(frozen=True, slots=True)
class Reward:
    name: str
    points: int
    code: str | None = None  # the discount code an order redeems it with


@dataclass(frozen=True, slots=True)
class LoyaltyProgram:
    points_per_unit: float
    tiers: tuple[Tier, ...]  # ascending minimum
    basis: Literal["spend", "orders"] = "spend"
    recalculate: Literal["monthly", "quarterly", "yearly"] = "monthly"
    rewards: tuple[Reward, ...] = ()
    expiry_days: int | None = None  # points expire after this long without an order
    notice_days: int = 30  # tier_at_risk and points_expiring are due this long before
    timezone: str = "UTC"

    @property
    def minimums(self) -> list[float]:
        return [t.minimum for t in self.tiers]

    def tier_name(self, rank: int) -> str | None:
        return self.tiers[rank].name if 0 <= rank < len(self.tiers) else None

    def rank_of(self, value: float) -> int:
        """The highest tier ``value`` (window spend or orders) reaches; -1 for none."""
        rank = -1
        for i, tier in enumerate(self.tiers):
            if value + _EPS >= tier.minimum:
                rank = i
        return rank

    def points_for(self, amount: float) -> int:
        """Points an order of ``amount`` (major units, net) earns."""
        import math

        return max(math.floor(amount * self.points_per_unit + _EPS), 0)

    def reward_by_code(self) -> dict[str, Reward]:
        return {r.code.upper(): r for r in self.rewards if r.code}


# --- recalculation days ---------------------------------------------------------------------


def period_start(day: date, recalculate: str) -> date:
    """The first day of the recalculation period ``day`` falls in."""
    months = _MONTHS[recalculate]
    month = (day.month - 1) // months * months + 1
    return date(day.year, month, 1)


def next_period(day: date, recalculate: str) -> date:
    start = period_start(day, recalculate)
    month = start.month - 1 + _MONTHS[recalculate]
    return date(start.year + month // 12, month % 12 + 1, 1)


def local_midnight(day: date, timezone: str) -> int:
    """Unix seconds of the start of ``day`` in the shop's time zone."""
    moment = datetime(day.year, day.month, day.day, tzinfo=zone(timezone))
    return int(moment.astimezone(UTC).timestamp())


def local_date(seconds: int, timezone: str) -> date:
    return datetime.fromtimestamp(int(seconds), UTC).astimezone(zone(timezone)).date()


def recalculation_days(first: date, last: date, recalculate: str) -> list[date]:
    """Every period start from the one holding ``first`` to the one after ``last``."""
    days = [period_start(first, recalculate)]
    while days[-1] <= last:
        days.append(next_period(days[-1], recalculate))
    return days


# --- every customer at once -------------------------------------------------------------


@dataclass(frozen=True)
class LoyaltyStates:
    """Per customer with countable orders by ``as_of`` (sorted by customer_ref)."""

    as_of: int  # unix seconds
    customer: np.ndarray  # customer_ref
    tier: np.ndarray  # rank now (-1: below the lowest tier)
    window: np.ndarray  # spend (or orders) in the trailing window now
    balance: np.ndarray  # points now
    expires: np.ndarray  # unix seconds the balance expires at (0: never / nothing to expire)
    next_window: np.ndarray  # spend (or orders) already placed that counts at the next recalc
    next_tier: np.ndarray  # the rank those orders keep at the next recalculation
    upgraded_at: np.ndarray  # unix seconds of the last upgrade (0: none)
    upgraded_to: np.ndarray  # the rank reached then (-1: none)
    last_t: np.ndarray  # the last order
    next_recalculation: date  # the shop's day the tiers are recalculated next
    recalculated: date  # the shop's day they were recalculated last

    def __len__(self) -> int:
        return len(self.customer)

    @property
    def at_risk(self) -> np.ndarray:
        return self.next_tier < self.tier


def _block_starts(customer: np.ndarray) -> np.ndarray:
    """For each row, the index of its customer's first row (rows sorted by customer)."""
    import numpy as np

    n = len(customer)
    first = np.r_[True, customer[1:] != customer[:-1]] if n else np.zeros(0, dtype=bool)
    index = np.where(first, np.arange(n), 0)
    return np.maximum.accumulate(index) if n else index


def _window_sums(
    key: np.ndarray, cum: np.ndarray, query: np.ndarray, lo_floor: np.ndarray, width: int
) -> np.ndarray:
    """Sum of the values with ``query - width < key <= query`` within each query's customer
    block (``lo_floor``: the block's first row); ``cum`` is the cumulative sum with a 0 first."""
    import numpy as np

    hi = np.searchsorted(key, query, side="right")
    lo = np.maximum(np.searchsorted(key, query - width, side="right"), lo_floor)
    lo = np.minimum(lo, hi)
    return cum[hi] - cum[lo]


def _ranks(values: np.ndarray, minimums: list[float]) -> np.ndarray:
    import numpy as np

    return np.searchsorted(np.asarray(minimums, dtype=np.float64), values + _EPS, side="right") - 1


def loyalty_states(
    program: LoyaltyProgram,
    orders: OrderArrays,
    as_of: datetime,
    redemptions: Sequence[tuple[int, int, int]] = (),
) -> LoyaltyStates:
    """Every customer's points and tier at ``as_of`` from the countable orders (sorted by
    customer and time). ``redemptions``: (customer_ref, unix seconds, points) of the orders
    that used a reward's code."""
    import numpy as np

    tz = program.timezone
    orders = orders.upto(as_of)
    moment = int(as_of.timestamp())
    today = local_date(moment, tz)
    c, t = orders.customer, orders.t
    n = len(c)
    width = WINDOW_DAYS * DAY
    first_day = local_date(int(t.min()), tz) if n else today
    recalcs = recalculation_days(min(first_day, today), today, program.recalculate)
    bounds = np.array([local_midnight(d, tz) for d in recalcs], dtype=np.int64)
    origin = int(min(bounds[0], t.min() if n else bounds[0])) - width - DAY
    current = int(np.searchsorted(bounds, moment, side="right") - 1)
    starts = _block_starts(c)
    block_first = np.flatnonzero(np.r_[True, c[1:] != c[:-1]]) if n else np.zeros(0, np.int64)
    block_last = np.r_[block_first[1:] - 1, n - 1].astype(np.int64) if n else block_first
    key = (c << 34) | (t - origin)
    value = orders.amount if program.basis == "spend" else np.ones(n)
    cum = np.r_[0.0, np.cumsum(value)]
    minimums = program.minimums

    # each order: what the customer qualifies for right after it
    rank = _ranks(_window_sums(key, cum, key, starts, width), minimums)
    # each order's period, and what they qualified for at its start (the recalculation)
    period = np.searchsorted(bounds, t, side="right") - 1
    base_key = (c << 34) | (bounds[period] - origin)
    base = _ranks(_window_sums(key, cum, base_key, starts, width), minimums)
    # tier after each order: the running max of base and ranks within (customer, period)
    group = np.cumsum(np.r_[True, (c[1:] != c[:-1]) | (period[1:] != period[:-1])]) if n else c
    levels = len(minimums) + 2
    after = np.maximum.accumulate(group * levels + np.maximum(rank, base) + 1) - group * levels - 1
    new_group = np.r_[True, group[1:] != group[:-1]] if n else np.zeros(0, dtype=bool)
    before = np.where(new_group, base, np.r_[-1, after[:-1]] if n else after)
    upgrade = after > before

    customers = c[block_first]
    # the tier now: the last order's when it fell in this period, else the recalculation's
    now_key = (customers << 34) | (bounds[current] - origin)
    recalc_rank = _ranks(_window_sums(key, cum, now_key, block_first, width), minimums)
    last = block_last
    tier = np.where(period[last] == current, after[last], recalc_rank) if n else recalc_rank
    window = _window_sums(key, cum, (customers << 34) | (moment - origin), block_first, width)
    next_key = (customers << 34) | (bounds[current + 1] - origin)
    next_window = _window_sums(key, cum, next_key, block_first, width)
    next_tier = _ranks(next_window, minimums)

    idx = np.where(upgrade, np.arange(n), -1)
    last_up = np.maximum.reduceat(idx, block_first) if n else idx
    has_up = last_up >= block_first
    upgraded_at = np.where(has_up, t[np.maximum(last_up, 0)], 0) if n else last_up
    upgraded_to = np.where(has_up, after[np.maximum(last_up, 0)], -1) if n else last_up

    balance, expires = _points(program, orders, block_first, block_last, moment, redemptions)
    return LoyaltyStates(
        as_of=moment,
        customer=customers,
        tier=tier.astype(np.int64),
        window=window,
        balance=balance,
        expires=expires,
        next_window=next_window,
        next_tier=next_tier.astype(np.int64),
        upgraded_at=upgraded_at.astype(np.int64),
        upgraded_to=upgraded_to.astype(np.int64),
        last_t=t[block_last] if n else t,
        next_recalculation=recalcs[current + 1],
        recalculated=recalcs[current],
    )


def _points(
    program: LoyaltyProgram,
    orders: OrderArrays,
    block_first: np.ndarray,
    block_last: np.ndarray,
    moment: int,
    redemptions: Sequence[tuple[int, int, int]],
) -> tuple[np.ndarray, np.ndarray]:
    """(balance, unix seconds it expires at or 0) per customer."""
    import numpy as np

    c, t = orders.customer, orders.t
    n = len(c)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    earned = np.floor(orders.amount * program.points_per_unit + _EPS).astype(np.int64)
    earned = np.maximum(earned, 0)
    expiry = program.expiry_days
    if expiry is None:
        streak = block_first
    else:
        # a streak of orders begins at a customer's first order or after a gap longer than
        # the expiry: points before it expired
        breaks = np.r_[True, (c[1:] != c[:-1]) | (t[1:] - t[:-1] >= expiry * DAY)]
        streak = np.maximum.reduceat(np.where(breaks, np.arange(n), 0), block_first)
    cum = np.r_[0, np.cumsum(earned)]
    balance = cum[block_last + 1] - cum[streak]
    if redemptions:
        customers = c[block_first]
        spent = np.zeros(len(customers), dtype=np.int64)
        for ref, when, points in redemptions:
            i = int(np.searchsorted(customers, ref))
            if i < len(customers) and customers[i] == ref and t[streak[i]] <= when <= moment:
                spent[i] += points
        balance = np.maximum(balance - spent, 0)
    if expiry is None:
        return balance, np.zeros(len(balance), dtype=np.int64)
    ends = t[block_last] + expiry * DAY
    alive = ends > moment
    balance = np.where(alive, balance, 0)
    return balance, np.where(alive & (balance > 0), ends, 0)


def expiry_day(program: LoyaltyProgram, last_order: int) -> date:
    """The shop's day points earned up to ``last_order`` expire on."""
    assert program.expiry_days is not None
    return local_date(last_order + program.expiry_days * DAY, program.timezone)


def notice_day(day: date, program: LoyaltyProgram) -> date:
    return day - timedelta(days=program.notice_days)
