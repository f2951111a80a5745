"""What ``retain loyalty`` shows, and what a template sees: the program applied to the shop's
orders at a moment (:mod:`.loyalty` for every customer, :mod:`.loyalty_history` for one)."""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from retain_cli.analytics.loyalty import (
    LoyaltyProgram,
    LoyaltyStates,
    local_date,
    loyalty_states,
)
from retain_cli.analytics.loyalty_history import LoyaltyOrder, walk
from retain_cli.money import minor_units

if TYPE_CHECKING:
    from retain_cli.store import Store

TIER_COLUMNS = ("tier", "from", "customers", "share", "at_risk", "points")
HISTORY_COLUMNS = ("date", "event", "order_id", "amount", "points", "balance", "tier")


def redemptions(store: Store, program: LoyaltyProgram) -> list[tuple[int, int, int]]:
    """(customer_ref, unix seconds, points) of every order that used a reward's code."""
    by_code = program.reward_by_code()
    return [(ref, t, by_code[code].points) for ref, t, code in store.reward_orders(list(by_code))]


def shop_states(
    store: Store,
    program: LoyaltyProgram,
    as_of: datetime,
    refs: Collection[int] | None = None,
) -> LoyaltyStates:
    """Every customer's points and tier at ``as_of``, from the countable orders; with
    ``refs``, only those customers' (each customer's state depends on their own orders
    alone, so the answer for them is the same, without the pass over every order)."""
    from retain_cli.analytics.order_arrays import load_orders

    orders = load_orders(store)
    spent = redemptions(store, program)
    if refs is not None:
        orders = orders.of_customers(refs)
        wanted = set(refs)
        spent = [r for r in spent if r[0] in wanted]
    return loyalty_states(program, orders, as_of, spent)


def _threshold(program: LoyaltyProgram, rank: int) -> str:
    minimum = program.tiers[rank].minimum
    if program.basis == "orders":
        return f"{minimum:g} orders"
    return f"{minimum:,.2f}".removesuffix(".00")


@dataclass
class LoyaltyOverview:
    rows: list[dict[str, Any]]
    summary: dict[str, Any]


def overview(store: Store, program: LoyaltyProgram, as_of: datetime) -> LoyaltyOverview:
    """Customers per tier (and at risk of dropping at the next recalculation), with their
    points, for ``retain loyalty``."""
    states = shop_states(store, program, as_of)
    everyone = len(store.customer_refs())
    without = max(everyone - len(states), 0)
    start = program.rank_of(0.0)
    rows: list[dict[str, Any]] = []
    ranks = range(-1, len(program.tiers)) if start < 0 else range(len(program.tiers))
    for rank in ranks:
        mine = states.tier == rank
        count = int(mine.sum()) + (without if rank == start else 0)
        rows.append(
            {
                "tier": program.tier_name(rank) or "(no tier)",
                "from": _threshold(program, rank) if rank >= 0 else "",
                "customers": count,
                "share": f"{count / everyone:.0%}" if everyone else "",
                "at_risk": int((mine & states.at_risk).sum()),
                "points": int(states.balance[mine].sum()),
            }
        )
    soon = states.expires > 0
    if program.expiry_days is not None:
        limit = states.as_of + program.notice_days * 86400
        soon &= states.expires <= limit
    summary = {
        "customers": everyone,
        "points_outstanding": int(states.balance.sum()),
        "points_expiring_soon": int(states.balance[soon].sum())
        if program.expiry_days is not None
        else 0,
        "customers_at_risk": int(states.at_risk.sum()),
        "recalculated_on": states.recalculated.isoformat(),
        "next_recalculation": states.next_recalculation.isoformat(),
        "tiers_by": "orders in the last 365 days"
        if program.basis == "orders"
        else "spend in the last 365 days",
    }
    return LoyaltyOverview(rows=rows, summary=summary)


@dataclass
class CustomerLoyalty:
    customer_id: str
    email: str | None
    summary: dict[str, Any]
    history: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {**self.summary, "history": self.history}


def _needed(program: LoyaltyProgram, rank: int, have: float) -> float | None:
    """What it takes to reach tier ``rank`` from ``have`` (spend or orders); None: no tier."""
    if not 0 <= rank < len(program.tiers):
        return None
    need = max(program.tiers[rank].minimum - have, 0.0)
    return float(math.ceil(need * 100 - 1e-6) / 100) if program.basis == "spend" else need


def _facts(
    program: LoyaltyProgram,
    *,
    tier: int,
    window: float,
    balance: int,
    expires: int,
    next_tier: int,
    next_window: float,
    next_recalculation: date,
    upgraded_at: int,
    upgraded_to: int,
) -> dict[str, Any]:
    """The figures one customer's view and templates share (amounts in major units)."""
    up = tier + 1 if tier + 1 < len(program.tiers) else None
    at_risk = next_tier < tier
    spend = program.basis == "spend"
    return {
        "tier": program.tier_name(tier),
        "tier_window": round(window, 2) if spend else int(window),
        "next_tier": program.tier_name(up) if up is not None else None,
        "to_next_tier": _needed(program, up, window) if up is not None else None,
        "points": balance,
        "points_expiring": balance if expires else 0,
        "points_expire_on": local_date(expires, program.timezone).isoformat() if expires else None,
        "tier_at_risk": at_risk,
        "recalculation_on": next_recalculation.isoformat(),
        "tier_after_recalculation": program.tier_name(next_tier),
        "to_keep_tier": _needed(program, tier, next_window) if at_risk else None,
        "upgraded_on": local_date(upgraded_at, program.timezone).isoformat()
        if upgraded_to >= 0
        else None,
        "rewards": [
            {"name": r.name, "points": r.points, "code": r.code}
            for r in program.rewards
            if r.points <= balance
        ],
    }


def customer_loyalty(
    store: Store, program: LoyaltyProgram, key: str, as_of: datetime
) -> CustomerLoyalty:
    """One customer's balance, tier, next tier and history (``retain loyalty CUSTOMER``)."""
    from retain_cli.analytics.customers import find_customer

    ref = find_customer(store, key)
    (customer,) = store.template_customers([ref])
    orders = [
        LoyaltyOrder(t, net / 10 ** minor_units(currency or None), order_id, code)
        for t, net, currency, order_id, code in store.loyalty_orders(ref)
    ]
    story = walk(program, orders, as_of)
    facts = _facts(
        program,
        tier=story.tier,
        window=story.window,
        balance=story.balance,
        expires=story.expires,
        next_tier=story.next_tier,
        next_window=story.next_window,
        next_recalculation=story.next_recalculation,
        upgraded_at=story.upgraded_at,
        upgraded_to=story.upgraded_to,
    )
    rewards = ", ".join(f"{r['name']} ({r['points']})" for r in facts.pop("rewards"))
    summary = {
        "customer_id": customer["customer_id"],
        "email": customer.get("email"),
        **facts,
        "rewards_available": rewards or None,
    }
    return CustomerLoyalty(
        customer_id=str(customer["customer_id"]),
        email=customer.get("email"),
        summary=summary,
        history=story.history,
    )


def template_facts(
    states: LoyaltyStates, program: LoyaltyProgram, refs: Collection[int], digits: int
) -> dict[int, dict[str, Any]]:
    """customer_ref -> ``loyalty`` as templates see it (customers without orders get the
    tier nothing qualifies for and no points). Money needed is also given in minor units
    (``to_next_tier_minor``, ``to_keep_tier_minor``) for the ``money`` filter."""
    import numpy as np

    out: dict[int, dict[str, Any]] = {}
    position = np.searchsorted(states.customer, np.asarray(sorted(refs), dtype=np.int64))
    for ref, i in zip(sorted(refs), position.tolist(), strict=True):
        found = i < len(states) and int(states.customer[i]) == ref
        zero = program.rank_of(0.0)
        facts = _facts(
            program,
            tier=int(states.tier[i]) if found else zero,
            window=float(states.window[i]) if found else 0.0,
            balance=int(states.balance[i]) if found else 0,
            expires=int(states.expires[i]) if found else 0,
            next_tier=int(states.next_tier[i]) if found else zero,
            next_window=float(states.next_window[i]) if found else 0.0,
            next_recalculation=states.next_recalculation,
            upgraded_at=int(states.upgraded_at[i]) if found else 0,
            upgraded_to=int(states.upgraded_to[i]) if found else -1,
        )
        for name in ("to_next_tier", "to_keep_tier"):
            value = facts[name]
            spend = program.basis == "spend" and value is not None
            facts[f"{name}_minor"] = round(value * 10**digits) if spend else None
        out[ref] = facts
    return out
