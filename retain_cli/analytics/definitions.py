"""The exact definition of every figure retain prints (``retain explain``).

Keep these texts in step with :mod:`retain_cli.analytics.metrics` and
:mod:`retain_cli.analytics.segments`;
tests check that every metric has a definition.
"""

from __future__ import annotations

from dataclasses import dataclass

from retain_cli.errors import UsageError


@dataclass(frozen=True)
class Definition:
    name: str
    unit: str  # count | money | rate | number | days | term
    text: str


_COMMON = (
    "Orders are countable orders (see 'retain explain order'); the period is the one chosen "
    "with --period, ending at --as-of (see 'retain explain period')."
)

_DEFINITIONS = [
    Definition(
        "order",
        "term",
        "A countable order is a row of the order_facts view: cancelled orders (with a "
        "cancellation time) are left out; refunds are subtracted, so an order counts with its "
        "net amount = total - refunded, never below zero. A fully refunded order still counts "
        "as an order, with amount 0. Every metric, cohort and segment uses this one definition.",
    ),
    Definition(
        "as_of",
        "term",
        "The reference moment. --as-of YYYY-MM-DD means the end of that day (23:59:59 UTC); "
        "without it, now. Orders placed after it are ignored everywhere, so a past date "
        "reproduces what the figures were then.",
    ),
    Definition(
        "period",
        "term",
        "--period 30d or 90d: the N days up to as-of (as-of minus N days, exclusive, to as-of). "
        "--period month, quarter or year: the calendar month, quarter or year containing "
        "as-of, from its first day up to as-of (so far, if as-of is mid-period). --compare "
        "puts the previous period beside it: the N days before, or the same span of the "
        "previous calendar period (1-12 March against 1-12 February, cut at the end of a "
        "shorter month). Times are UTC.",
    ),
    Definition(
        "refunds",
        "term",
        "Refunded amounts are subtracted from the order they belong to (net amount, never "
        "below zero); the order itself still counts. Cancelled orders do not count at all.",
    ),
    Definition(
        "money",
        "term",
        "Amounts are shown in major units (euros, dollars) of the orders' currency. If orders "
        "come in several currencies their amounts are added without conversion and the "
        "currency line of 'retain metrics' says so.",
    ),
    Definition(
        "customer_base",
        "term",
        "A customer belongs to the customer base at a moment when they placed a countable "
        "order in the 365 days up to it (or in the period's length, if that is longer).",
    ),
    Definition(
        "customers",
        "count",
        "Customers with at least one countable order up to the end of the period.",
    ),
    Definition(
        "active_customers",
        "count",
        "Customers with at least one countable order in the period. " + _COMMON,
    ),
    Definition(
        "new_customers",
        "count",
        "Customers whose first countable order ever falls in the period (N).",
    ),
    Definition(
        "returning_customers",
        "count",
        "Active customers in the period whose first order was before it "
        "(active_customers = new_customers + returning_customers).",
    ),
    Definition(
        "orders",
        "count",
        "Countable orders placed in the period, sales without a customer (walk-ins) included.",
    ),
    Definition(
        "revenue",
        "money",
        "Sum of the net amounts (total - refunded) of the period's countable orders, sales "
        "without a customer (walk-ins) included.",
    ),
    Definition(
        "returning_revenue_share",
        "rate",
        "Share of the period's revenue from customers that came from returning customers "
        "(sales without a customer left out).",
    ),
    Definition(
        "average_order_value",
        "money",
        "revenue / orders in the period.",
    ),
    Definition(
        "purchase_frequency",
        "number",
        "Customers' orders / active_customers in the period: orders per active customer "
        "(sales without a customer left out).",
    ),
    Definition(
        "repeat_purchase_rate",
        "rate",
        "Customers with 2 or more countable orders / customers with 1 or more, counting all "
        "orders up to the end of the period.",
    ),
    Definition(
        "customer_base_start",
        "count",
        "S: customers in the customer base at the start of the period (an order in the 365 "
        "days before the period began).",
    ),
    Definition(
        "customer_base_end",
        "count",
        "E: customers in the customer base at the end of the period (an order in the 365 days "
        "up to the end of the period).",
    ),
    Definition(
        "retention_rate",
        "rate",
        "(E - N) / S, with S = customer_base_start, E = customer_base_end and N = new_customers "
        "(see 'retain explain customer_base'). E - N counts the customers at the end who were "
        "not acquired in the period: those kept from S, plus lapsed customers who came back.",
    ),
    Definition(
        "churn_rate",
        "rate",
        "Customers in S (customer_base_start) who are no longer in the customer base at the "
        "end of the period, divided by S: those whose last order slid out of the 365-day "
        "window during the period without a new one. Because returning lapsed customers count "
        "in retention but not here, retention_rate + churn_rate can exceed 1.",
    ),
    Definition(
        "historic_clv",
        "money",
        "Historic customer lifetime value: all net revenue up to the end of the period / "
        "customers (with at least one order) up to then.",
    ),
    Definition(
        "median_days_between_orders",
        "days",
        "Median of the days between a customer's consecutive order days (several orders on "
        "one day count as one), over all customers and all orders up to the end of the "
        "period. The lifecycle segments use the same figure as the shop's typical gap.",
    ),
    Definition(
        "median_days_to_second_order",
        "days",
        "Median, over customers with orders on two or more days up to the end of the period, "
        "of the days from their first to their second order day.",
    ),
    Definition(
        "cohorts",
        "term",
        "'retain cohorts': customers are grouped by the period (month, quarter or ISO week "
        "starting Monday) of their first countable order. Cell (c, k) is the share of cohort "
        "c's customers who ordered in period c+k (--value customers; k = 0 is always 100%), or "
        "the net revenue cohort c brought in period c+k (--value revenue). The period holding "
        "as-of is counted so far; later periods are empty.",
    ),
    Definition(
        "rfm",
        "term",
        "RFM scores 1-5: R from days since the last order (fewer is better), F from the number "
        "of countable orders, M from net spend (to the cent). Score = 1 + floor(5 * b / n), b = "
        "customers with a strictly lower value, n = customers with orders: the usual quintiles, "
        "and equal values always get equal scores. With few distinct values the lowest always "
        "scores 1 and scores skip rather than invent differences (60% with 1 order, 20% with 2, "
        "20% with 3 score F = 1, 4, 5). "
        "Segment = R x FM grid, FM = (F + M) / 2 rounded half up: R5: new_customers, "
        "potential_loyalists, potential_loyalists, loyal, champions; R4: promising, "
        "potential_loyalists, potential_loyalists, loyal, champions; R3: about_to_sleep, "
        "about_to_sleep, need_attention, loyal, loyal; R2: hibernating, hibernating, at_risk, "
        "at_risk, cant_lose; R1: lost, hibernating, at_risk, cant_lose, cant_lose (FM 1 to 5). "
        "Every one of the 125 cells is in exactly one segment. No orders: prospect.",
    ),
    Definition(
        "lifecycle",
        "term",
        "G = the shop's typical gap: the median days between a customer's consecutive order "
        "days over all history up to as-of, rounded and kept within 7..365 days (30 days when "
        "there are fewer than 20 such gaps). new: first order at most G days ago; active: last "
        "order at most G days ago; at_risk: at most 2G; lapsing: at most 4G; lost: more than "
        "4G; prospect: no countable order. 'retain segments --scheme lifecycle' prints G.",
    ),
    Definition(
        "custom_segments",
        "term",
        "Segments from a YAML file (--segments, RETAIN_SEGMENTS, default ./segments.yaml), "
        "each a name and a 'where' rule over customer fields. A customer belongs to the first "
        "segment in the file whose rule matches. A missing value (no orders yet) never "
        "satisfies a comparison.",
    ),
    Definition(
        "snapshots",
        "term",
        "Every 'retain segments' run keeps each customer's segment for its scheme and as-of "
        "day (a later run on the same day replaces it). 'retain segments moves' and campaign "
        "triggers on entering a segment compare two days; a day without a stored snapshot is "
        "computed from the order history up to the end of that day, and kept.",
    ),
]

DEFINITIONS: dict[str, Definition] = {d.name: d for d in _DEFINITIONS}


def explain(name: str | None = None) -> list[Definition]:
    """All definitions, or the one named (unknown names list the known ones)."""
    if name is None:
        return list(DEFINITIONS.values())
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in DEFINITIONS:
        raise UsageError(f"no definition for {name!r}; known: {', '.join(DEFINITIONS)}")
    return [DEFINITIONS[key]]
