"""One customer's loyalty story, walked order by order in plain Python.

The rules are :mod:`retain_cli.analytics.loyalty`'s; this walk keeps every step (points
earned, spent on a reward, expired; tiers reached, recalculated), so ``retain loyalty
CUSTOMER`` can show the history, and a test holds the fast all-customers computation to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from retain_cli.analytics.loyalty import (
    DAY,
    WINDOW_DAYS,
    LoyaltyProgram,
    local_date,
    local_midnight,
    recalculation_days,
)


@dataclass(frozen=True, slots=True)
class LoyaltyOrder:
    t: int  # unix seconds
    amount: float  # net, major units
    order_id: str = ""
    code: str | None = None  # the discount code it used


@dataclass
class LoyaltyWalk:
    """Where one customer stands at ``as_of``, and how they got there."""

    tier: int
    window: float  # spend (or orders) in the trailing window now
    earned: int  # points earned in the current streak
    spent: int  # points spent on rewards in the current streak
    balance: int
    expires: int  # unix seconds (0: never / nothing to expire)
    next_window: float
    next_tier: int
    upgraded_at: int
    upgraded_to: int
    last_t: int
    next_recalculation: date
    history: list[dict[str, Any]] = field(default_factory=list)


def walk(program: LoyaltyProgram, orders: Sequence[LoyaltyOrder], as_of: datetime) -> LoyaltyWalk:
    """Replay ``orders`` (any order; those after ``as_of`` are left out) under ``program``."""
    tz = program.timezone
    moment = int(as_of.timestamp())
    mine = sorted((o for o in orders if o.t <= moment), key=lambda o: o.t)
    today = local_date(moment, tz)
    width = WINDOW_DAYS * DAY
    value = (lambda o: o.amount) if program.basis == "spend" else (lambda o: 1.0)
    rewards = program.reward_by_code()

    def window(at: int) -> float:
        return sum(value(o) for o in mine if at - width < o.t <= at)

    first = local_date(mine[0].t, tz) if mine else today
    days = recalculation_days(min(first, today), today, program.recalculate)
    bounds = [local_midnight(d, tz) for d in days]
    tier = program.rank_of(0.0)
    earned = spent = 0
    upgraded_at, upgraded_to = 0, -1
    history: list[dict[str, Any]] = []

    def note(at: int, event: str, order: LoyaltyOrder | None = None, points: int = 0) -> None:
        history.append(
            {
                "date": local_date(at, tz).isoformat(),
                "event": event,
                "order_id": order.order_id if order else "",
                "amount": round(order.amount, 2) if order else None,
                "points": points,
                "balance": max(earned - spent, 0),
                "tier": program.tier_name(tier) or "",
            }
        )

    previous: LoyaltyOrder | None = None

    def expire(before: int) -> None:
        """Points lapse when ``expiry`` passes without an order, before ``before``."""
        nonlocal earned, spent
        if program.expiry_days is None or previous is None:
            return
        ends = previous.t + program.expiry_days * DAY
        if ends <= before and (earned or spent):
            lost = max(earned - spent, 0)
            earned = spent = 0
            if lost:
                note(ends, "points expired", points=-lost)

    def recalculate(at: int) -> None:
        nonlocal tier
        new = program.rank_of(window(at))
        if new != tier:
            old = program.tier_name(tier) or "no tier"
            tier = new
            note(at, f"recalculated: {old} -> {program.tier_name(tier) or 'no tier'}")

    pending = [b for b in bounds if b <= moment]
    position = 0
    for order in mine:
        while position < len(pending) and pending[position] <= order.t:
            expire(pending[position])
            recalculate(pending[position])
            position += 1
        expire(order.t)
        points = program.points_for(order.amount)
        earned += points
        note_text = "order"
        reward = rewards.get((order.code or "").upper())
        qualified = program.rank_of(window(order.t))
        if qualified > tier:
            tier, upgraded_at, upgraded_to = qualified, order.t, qualified
            note_text = f"order; reached {program.tier_name(tier)}"
        note(order.t, note_text, order, points)
        if reward is not None:
            spent += reward.points
            note(order.t, f"reward: {reward.name}", order, -reward.points)
        previous = order
    while position < len(pending):
        expire(pending[position])
        recalculate(pending[position])
        position += 1
    expire(moment)
    balance = max(earned - spent, 0)
    expires = 0
    if program.expiry_days is not None and previous is not None and balance:
        expires = previous.t + program.expiry_days * DAY
    next_day = days[days.index(max(d for d in days if local_midnight(d, tz) <= moment)) + 1]
    next_window = window(local_midnight(next_day, tz))
    return LoyaltyWalk(
        tier=tier,
        window=window(moment),
        earned=earned,
        spent=spent,
        balance=balance,
        expires=expires,
        next_window=next_window,
        next_tier=program.rank_of(next_window),
        upgraded_at=upgraded_at,
        upgraded_to=upgraded_to,
        last_t=previous.t if previous else 0,
        next_recalculation=next_day,
        history=history,
    )
