"""Loyalty points and tiers: the rules on hand-made histories, and the all-customers
computation held to the one-customer walk on random shops (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from retain_cli.analytics.loyalty import (
    LoyaltyProgram,
    Reward,
    Tier,
    loyalty_states,
    next_period,
    period_start,
)
from retain_cli.analytics.loyalty_history import LoyaltyOrder, walk
from retain_cli.analytics.order_arrays import OrderArrays

BASE = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp())
DAY = 86400
SPEND = (Tier("Crumb", 0), Tier("Loaf", 100), Tier("Golden Crust", 300))


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def program(**changes: object) -> LoyaltyProgram:
    values: dict[str, object] = {
        "points_per_unit": 1,
        "tiers": SPEND,
        "rewards": (Reward("Coffee", 50, "COFFEE"),),
        "expiry_days": 365,
        "timezone": "Europe/Berlin",
    }
    values.update(changes)
    return LoyaltyProgram(**values)  # type: ignore[arg-type]


def test_periods_start_on_the_first_of_month_quarter_or_year():
    day = date(2025, 8, 17)
    assert period_start(day, "monthly") == date(2025, 8, 1)
    assert period_start(day, "quarterly") == date(2025, 7, 1)
    assert period_start(day, "yearly") == date(2025, 1, 1)
    assert next_period(date(2025, 12, 3), "monthly") == date(2026, 1, 1)
    assert next_period(day, "quarterly") == date(2025, 10, 1)


def test_points_are_whole_and_never_lost_to_float_noise():
    assert program().points_for(16.40) == 16
    assert program(points_per_unit=0.1).points_for(30.0) == 3
    assert program(points_per_unit=2.5).points_for(0.0) == 0


def test_an_upgrade_holds_until_the_recalculation_then_drops():
    orders = [LoyaltyOrder(at("2024-05-20T10:00:00"), 120.0)]
    kept = walk(program(), orders, datetime(2025, 5, 31, 12, tzinfo=UTC))
    assert (kept.tier, kept.next_tier) == (1, 0)  # Loaf now, Crumb at the 1 June recalculation
    dropped = walk(program(), orders, datetime(2025, 6, 2, tzinfo=UTC))
    assert dropped.tier == 0
    assert dropped.history[-1]["event"] == "recalculated: Loaf -> Crumb"
    assert dropped.history[-1]["date"] == "2025-06-01"  # midnight in Berlin


def test_tiers_by_orders_count_orders_in_the_window():
    tiers = (Tier("Regular", 3), Tier("Friend", 6))
    orders = [LoyaltyOrder(at(f"2025-0{m}-10T10:00:00"), 5.0) for m in range(1, 7)]
    story = walk(program(tiers=tiers, basis="orders"), orders, datetime(2025, 6, 30, tzinfo=UTC))
    assert story.tier == 1 and story.window == 6
    assert [h["event"] for h in story.history if "reached" in h["event"]] == [
        "order; reached Regular",
        "order; reached Friend",
    ]


def test_points_expire_without_an_order_and_a_reward_spends_them():
    orders = [
        LoyaltyOrder(at("2023-03-01T10:00:00"), 70.0),
        LoyaltyOrder(at("2024-04-01T10:00:00"), 60.0),  # 397 days later: the 70 expired
        LoyaltyOrder(at("2024-05-01T10:00:00"), 0.0, "#3", "coffee"),
    ]
    story = walk(program(), orders, datetime(2024, 6, 1, tzinfo=UTC))
    assert story.balance == 10
    assert [(h["event"], h["points"]) for h in story.history] == [
        ("order", 70),
        ("points expired", -70),
        ("order", 60),
        ("order", 0),
        ("reward: Coffee", -50),
    ]
    assert story.expires == at("2025-05-01T10:00:00")


orders_strategy = st.lists(
    st.tuples(
        st.integers(1, 6),  # customer
        st.integers(0, 3 * 365 * DAY),  # when
        st.floats(0, 250, allow_nan=False).map(lambda x: round(x, 2)),
        st.booleans().map(lambda b: "COFFEE" if b else None),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(
    orders=orders_strategy,
    as_of=st.integers(30 * DAY, 3 * 365 * DAY + 60 * DAY),
    per_unit=st.sampled_from([1, 0.5, 3]),
    recalculate=st.sampled_from(["monthly", "quarterly", "yearly"]),
    expiry=st.sampled_from([None, 30, 365]),
    zero_tier=st.booleans(),
    timezone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]),
    coffee=st.booleans(),
)
def test_every_customer_at_once_matches_the_walk_one_by_one(
    orders, as_of, per_unit, recalculate, expiry, zero_tier, timezone, coffee
):
    tiers = SPEND if zero_tier else SPEND[1:]
    loyal = program(
        points_per_unit=per_unit,
        tiers=tiers,
        recalculate=recalculate,
        expiry_days=expiry,
        timezone=timezone,
        notice_days=7,
    )
    mine: dict[int, list[LoyaltyOrder]] = {}
    for ref, t, amount, code in orders:
        mine.setdefault(ref, []).append(
            LoyaltyOrder(BASE + t, amount, code=code if coffee else None)
        )
    arrays = OrderArrays.from_rows((r, o.t, o.amount) for r, os in mine.items() for o in os)
    spent = [(r, o.t, 50) for r, os in mine.items() for o in os if o.code]
    moment = datetime.fromtimestamp(BASE + as_of, UTC)
    states = loyalty_states(loyal, arrays, moment, spent)
    assert len(states) == len({r for r, os in mine.items() if any(o.t <= BASE + as_of for o in os)})
    for i, ref in enumerate(states.customer.tolist()):
        story = walk(loyal, mine[ref], moment)
        assert (
            int(states.tier[i]),
            int(states.balance[i]),
            int(states.expires[i]),
            int(states.next_tier[i]),
            int(states.upgraded_at[i]),
            int(states.upgraded_to[i]),
        ) == (
            story.tier,
            story.balance,
            story.expires,
            story.next_tier,
            story.upgraded_at,
            story.upgraded_to,
        )
        assert abs(float(states.window[i]) - story.window) < 1e-6
        assert abs(float(states.next_window[i]) - story.next_window) < 1e-6
        assert states.next_recalculation == story.next_recalculation


@settings(max_examples=60, deadline=None)
@given(
    orders=orders_strategy,
    as_of=st.integers(30 * DAY, 3 * 365 * DAY + 60 * DAY),
    recalculate=st.sampled_from(["monthly", "quarterly", "yearly"]),
    some=st.sets(st.integers(1, 8), max_size=4),
)
def test_a_few_customers_alone_get_the_states_everyone_s_pass_gives_them(
    orders, as_of, recalculate, some
):
    """``retain explain`` computes one customer's loyalty from their own orders
    (``OrderArrays.of_customers``): the same as their row of the pass over every customer."""
    loyal = program(recalculate=recalculate, notice_days=7)
    arrays = OrderArrays.from_rows((ref, BASE + t, amount) for ref, t, amount, _ in orders)
    spent = [(ref, BASE + t, 50) for ref, t, _, code in orders if code]
    moment = datetime.fromtimestamp(BASE + as_of, UTC)
    everyone = loyalty_states(loyal, arrays, moment, spent)
    few = loyalty_states(
        loyal, arrays.of_customers(some), moment, [r for r in spent if r[0] in some]
    )
    rows = [i for i, ref in enumerate(everyone.customer.tolist()) if ref in some]
    assert few.customer.tolist() == everyone.customer[rows].tolist()
    for name in ("tier", "balance", "expires", "next_tier", "upgraded_at", "upgraded_to"):
        assert getattr(few, name).tolist() == getattr(everyone, name)[rows].tolist(), name
    assert few.last_t.tolist() == everyone.last_t[rows].tolist()
    for name in ("window", "next_window"):  # running sums: the same up to float noise
        assert abs(getattr(few, name) - getattr(everyone, name)[rows]).max(initial=0) < 1e-6
    assert (few.next_recalculation, few.recalculated) == (
        everyone.next_recalculation,
        everyone.recalculated,
    )
