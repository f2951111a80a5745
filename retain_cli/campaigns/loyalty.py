"""The loyalty triggers and the ``loyalty`` a template sees, from the campaign file's
``loyalty:`` section applied to the orders at the run's ``as_of``.

Each trigger's event has a day (when it is due, before ``trigger.days``) and an occurrence
(the send key's last part), so a message goes once per event, never twice:

- ``tier_upgraded``: the day of the order that reached the tier they hold now; occurrence
  ``DAY TIER``.
- ``tier_at_risk``: the orders so far will not keep the tier at the next recalculation; due
  ``loyalty.notice`` before it (or on the day of their last order, if later); occurrence
  ``RECALCULATION-DAY TIER``: once per tier and recalculation.
- ``points_expiring``: the balance expires on a day (``loyalty.expiry`` after the last
  order); due ``loyalty.notice`` before it; occurrence the expiry day. A new order moves the
  day, and so makes a new event.
"""

from __future__ import annotations

import weakref
from collections.abc import Collection
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from retain_cli.analytics.loyalty import LoyaltyProgram, LoyaltyStates, local_date

if TYPE_CHECKING:
    from retain_cli.store import Store

#: one run computes the states once for all its batches: per open store, (orders
#: fingerprint, as_of, program) -> states; forgotten with the store
_MEMO: weakref.WeakKeyDictionary[Store, dict[tuple[str, int, LoyaltyProgram], LoyaltyStates]] = (
    weakref.WeakKeyDictionary()
)


#: at most this many customers (``retain explain``'s plan: one) get their own states
#: computed from their orders alone, rather than every customer's (0.4 s on a million orders)
FEW = 64


def states_at(
    store: Store, program: LoyaltyProgram, as_of: datetime, refs: Collection[int] | None = None
) -> LoyaltyStates:
    """Every customer's loyalty at ``as_of`` (kept while the store is open and its orders do
    not change); for a few ``refs`` (and nothing kept), only theirs: the same answer."""
    from retain_cli.analytics.loyalty_report import shop_states

    key = (store.orders_fingerprint(), int(as_of.timestamp()), program)
    memo = _MEMO.setdefault(store, {})
    found = memo.get(key)
    if found is None and refs is not None and len(refs) <= FEW:
        return shop_states(store, program, as_of, refs)
    if found is None:
        memo.clear()
        found = memo[key] = shop_states(store, program, as_of)
    return found


def loyalty_events(
    store: Store, program: LoyaltyProgram, event: str, refs: Collection[int], as_of: datetime
) -> dict[int, tuple[date, str]]:
    """customer_ref -> (the event's day, its occurrence) for the members ``refs`` whose
    ``event`` exists at ``as_of``."""
    import numpy as np

    states = states_at(store, program, as_of, refs)
    wanted = np.isin(states.customer, np.asarray(list(refs), dtype=np.int64))
    tz = program.timezone
    notice = timedelta(days=program.notice_days)
    out: dict[int, tuple[date, str]] = {}
    if event == "tier_upgraded":
        hits = wanted & (states.upgraded_to >= 0) & (states.upgraded_to == states.tier)
        for i in np.flatnonzero(hits).tolist():
            day = local_date(int(states.upgraded_at[i]), tz)
            name = program.tier_name(int(states.tier[i]))
            out[int(states.customer[i])] = (day, f"{day.isoformat()} {name}")
    elif event == "tier_at_risk":
        recalc = states.next_recalculation
        for i in np.flatnonzero(wanted & states.at_risk).tolist():
            day = max(recalc - notice, local_date(int(states.last_t[i]), tz))
            name = program.tier_name(int(states.tier[i]))
            out[int(states.customer[i])] = (day, f"{recalc.isoformat()} {name}")
    elif event == "points_expiring":
        for i in np.flatnonzero(wanted & (states.expires > 0)).tolist():
            ends = local_date(int(states.expires[i]), tz)
            out[int(states.customer[i])] = (ends - notice, ends.isoformat())
    return out


def loyalty_contexts(
    store: Store, program: LoyaltyProgram, refs: Collection[int], as_of: datetime, currency: str
) -> dict[int, dict[str, Any]]:
    """customer_ref -> the template's ``loyalty`` (see the README's template reference)."""
    from retain_cli.analytics.loyalty_report import template_facts
    from retain_cli.money import minor_units

    states = states_at(store, program, as_of)
    return template_facts(states, program, refs, minor_units(currency))


def sample_loyalty(program: LoyaltyProgram, as_of: datetime) -> dict[str, Any]:
    """A made-up member's ``loyalty``, for ``campaigns check`` and previews of the sample."""
    from retain_cli.analytics.loyalty import next_period

    today = as_of.date()
    top = len(program.tiers) - 1
    tier = max(top - 1, 0)
    up = tier + 1 if tier + 1 <= top else None
    reward = program.rewards[0] if program.rewards else None
    points = max(reward.points if reward else 0, 120)
    return {
        "tier": program.tiers[tier].name,
        "tier_window": 180.0 if program.basis == "spend" else 6,
        "next_tier": program.tiers[up].name if up is not None else None,
        "to_next_tier": 20.0 if up is not None else None,
        "to_next_tier_minor": 2000 if up is not None and program.basis == "spend" else None,
        "points": points,
        "points_expiring": points if program.expiry_days else 0,
        "points_expire_on": (today + timedelta(days=program.notice_days)).isoformat()
        if program.expiry_days
        else None,
        "tier_at_risk": True,
        "recalculation_on": next_period(today, program.recalculate).isoformat(),
        "tier_after_recalculation": program.tiers[max(tier - 1, 0)].name,
        "to_keep_tier": 15.0,
        "to_keep_tier_minor": 1500 if program.basis == "spend" else None,
        "upgraded_on": (today - timedelta(days=3)).isoformat(),
        "rewards": [
            {"name": r.name, "points": r.points, "code": r.code}
            for r in program.rewards
            if r.points <= points
        ],
    }
