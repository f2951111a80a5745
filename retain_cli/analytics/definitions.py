"""The exact definition of every figure retain prints (``retain explain``).

Keep these texts in step with :mod:`retain_cli.analytics.metrics`,
:mod:`retain_cli.analytics.cohorts`, :mod:`retain_cli.analytics.segments`, the columns of
``retain predict`` (:data:`PREDICT_DEFINITIONS`) and of ``retain report``
(:data:`REPORT_DEFINITIONS`); tests check that every metric and column has a definition.
"""

from __future__ import annotations

from dataclasses import dataclass

from retain_cli.analytics.report_definitions import REPORT_COLUMN_TEXTS
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
_ALL_TIME = "All history up to the end of the period (not only the period)."

_PREDICT = "A column of 'retain predict' (one row per customer with an order by --as-of). "
#: the columns of 'retain predict'
PREDICT_DEFINITIONS = [
    Definition(
        "frequency",
        "count",
        _PREDICT + "Repeat purchases: the days on which the customer ordered, minus the first "
        "(several orders on one day are one purchase).",
    ),
    Definition(
        "recency",
        "days",
        _PREDICT + "The customer's age at their last purchase: days (or weeks, --time-unit) "
        "from their first to their last purchase day; 0 for one-time buyers.",
    ),
    Definition(
        "T",
        "days",
        _PREDICT + "The customer's age at --as-of: days (or weeks) from their first purchase "
        "day to as-of.",
    ),
    Definition(
        "monetary_value",
        "money",
        _PREDICT + "The mean net amount of the repeat purchase days (the first left out, as "
        "the Gamma-Gamma model wants); 0 for one-time buyers.",
    ),
    Definition(
        "p_alive",
        "rate",
        _PREDICT + "The probability that the customer is still a customer. For repeat "
        "buyers, from the BG/NBD model. The model gives every one-time buyer 1.0 (in it "
        "people drop out only after a repeat purchase), so their p_alive is the rules score "
        "instead: their usual gap (the shop's median) / days since their order, capped at 1 "
        "(method 'model+rules'). With too little data for the model, every row uses the "
        "rules score (method 'rules'). churn_risk is always the band of this p_alive.",
    ),
    Definition(
        "expected_orders",
        "number",
        _PREDICT + "Purchase days expected in the next --horizon days (BG/NBD; with the "
        "rules, the customer's own past rate times p_alive).",
    ),
    Definition(
        "predicted_clv",
        "money",
        _PREDICT + "expected_orders x the expected value of a purchase (Gamma-Gamma, or the "
        "customer's own mean), over --horizon days, undiscounted.",
    ),
    Definition(
        "churn_risk",
        "term",
        _PREDICT + "low when p_alive >= 0.7, medium when >= 0.3, high below; --risk high "
        "shows only those.",
    ),
    Definition(
        "method",
        "term",
        _PREDICT + "model: every figure from BG/NBD and Gamma-Gamma; model+rules: a one-time "
        "buyer, whose p_alive (and so churn_risk) comes from the rules score while "
        "expected_orders and predicted_clv come from the model; rules: the models were not "
        "trusted (a notice says why) and every figure comes from the customer's own history.",
    ),
]

#: the columns of 'retain report' (their texts: analytics/report_definitions.py)
REPORT_DEFINITIONS = [Definition(*row) for row in REPORT_COLUMN_TEXTS]

_DEFINITIONS = [
    # --- terms ------------------------------------------------------------------------------
    Definition(
        "order",
        "term",
        "A countable order is a row of the order_facts view: cancelled orders (with a "
        "cancellation time) and fully refunded orders (a positive total refunded in full) are "
        "left out; a partial refund is subtracted, so an order counts with its net amount = "
        "total - refunded. Every metric, cohort, segment and prediction uses this one "
        "definition, so a customer whose only order was refunded is no customer yet.",
    ),
    Definition(
        "as_of",
        "term",
        "The reference moment. --as-of YYYY-MM-DD means the end of that day (23:59:59 UTC); "
        "without it, now. Orders placed after it are ignored everywhere, and customers who "
        "did not exist yet do not count (see 'retain explain customer'), so a past date "
        "reproduces what the figures were then.",
    ),
    Definition(
        "customer",
        "term",
        "A customer exists from the earliest of their first order (even a cancelled one), "
        "the sign-up date their platform gives, and the day they were first imported. At an "
        "--as-of before that they are not counted at all, not even as a prospect.",
    ),
    Definition(
        "period",
        "term",
        "--period 30d or 90d: the N days up to as-of (as-of minus N days, exclusive, to as-of). "
        "--period month, quarter or year: the calendar month, quarter or year containing "
        "as-of, from its first day up to as-of (so far, if as-of is mid-period). --compare "
        "puts the previous period beside it: the N days before, or the previous calendar "
        "period cut at the same offset, up to the same day of the same month in it (1 Jan-15 "
        "Feb against 1 Oct-15 Nov; a full quarter against the full quarter before; the last "
        "day of a month stands for the last day of the shorter month). Times are UTC.",
    ),
    Definition(
        "refunds",
        "term",
        "A partial refund is subtracted from the order it belongs to (net amount); a fully "
        "refunded order does not count at all, like a cancelled one: not in the orders, the "
        "average order value or the customers.",
    ),
    Definition(
        "revenue_kind",
        "term",
        "--revenue gross (the default): the order totals as the export gives them, tax and "
        "shipping included, less refunds. --revenue net: the totals without tax and shipping "
        "(where the export has those columns), less refunds, which is what Shopify calls net "
        "sales. Either way cancelled and fully refunded orders add nothing. 'retain metrics' "
        "says which it used under the table.",
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
        "order in the 365 days up to it (or in the period's length, if that is longer). "
        "'retain metrics' compares the base at the start of the period (S) with the base at "
        "its end (E): E = the retained part of S + new customers + reactivated customers.",
    ),
    # --- metrics ----------------------------------------------------------------------------
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
        "returning_customer_rate",
        "rate",
        "Shopify's returning customer rate: of the customers who ordered in the period, the "
        "share with orders on two or more days up to its end (the earlier order may be "
        "before the period, or in it). Shopify counts orders; retain counts order days, so "
        "two orders on one day (a split checkout) are not a return. Compare "
        "repeat_purchase_rate, which looks at all customers ever.",
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
        "without a customer (walk-ins) included, as --revenue says: gross (tax and shipping "
        "included, the default) or net (without them); see 'retain explain revenue_kind'.",
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
        "revenue / orders in the period (fully refunded orders are in neither).",
    ),
    Definition(
        "purchase_frequency",
        "number",
        "Customers' orders / active_customers in the period: orders per active customer "
        "(sales without a customer left out).",
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
        "Customers of S (customer_base_start) who are still in the customer base at the end "
        "of the period, divided by S. New customers and lapsed customers who came back are "
        "not in it (see reactivated_customers), so retention_rate + churn_rate = 100%.",
    ),
    Definition(
        "churn_rate",
        "rate",
        "Customers of S (customer_base_start) who are no longer in the customer base at the "
        "end of the period, divided by S: their last order slid out of the 365-day window "
        "during the period without a new one. 1 - retention_rate.",
    ),
    Definition(
        "reactivated_customers",
        "count",
        "Returning customers of the period who were not in the customer base at its start "
        "(S): they had not ordered for more than 365 days, and came back. Counted apart "
        "from retention, which only follows the customers of S.",
    ),
    Definition(
        "customers",
        "count",
        "Customers with at least one countable order up to the end of the period. " + _ALL_TIME,
    ),
    Definition(
        "repeat_purchase_rate",
        "rate",
        "Customers with countable orders on two or more days / customers with one or more. "
        + _ALL_TIME
        + " Several orders on one day count as one. For the period alone, see "
        "returning_customer_rate.",
    ),
    Definition(
        "historic_clv",
        "money",
        "Historic customer lifetime value: all revenue up to the end of the period / "
        "customers (with at least one order) up to then. " + _ALL_TIME,
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
    # --- cohorts and segments ---------------------------------------------------------------
    Definition(
        "cohorts",
        "term",
        "'retain cohorts': customers are grouped by the period (month, quarter or ISO week "
        "starting Monday) of their first countable order. Cell (c, k) is the share of cohort "
        "c's customers who ordered in period c+k (--value customers; k = 0 is always 100%), or "
        "the net revenue cohort c brought in period c+k (--value revenue). The period holding "
        "as-of is not over yet: its cells count the orders so far and are marked incomplete "
        "(a * in the table, incomplete_from in csv and json); later periods are empty.",
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
        "Every one of the 125 cells is in exactly one segment. No orders: prospect. Written "
        "rfm:NAME elsewhere (see 'retain explain segment_names').",
    ),
    Definition(
        "lifecycle",
        "term",
        "G = the shop's typical gap: the median days between a customer's consecutive order "
        "days over all history up to as-of, rounded half up (22.5 -> 23, the rule RFM's FM "
        "uses too) and kept within 7..365 days (30 days when there are fewer than 20 such "
        "gaps). new: first order at most G days ago; active: last order at most G days ago; "
        "at_risk: at most 2G; lapsing: at most 4G; lost: more than 4G; prospect: no countable "
        "order. 'retain segments --scheme lifecycle' prints G. Written lifecycle:NAME "
        "elsewhere (see 'retain explain segment_names').",
    ),
    Definition(
        "segment_names",
        "term",
        "rfm and lifecycle both have an at_risk and a lost segment, with different customers. "
        "In a campaign, 'customers list --segment' and everywhere else these are written with "
        "their scheme, rfm:at_risk or lifecycle:at_risk; a bare at_risk is an error naming "
        "both. A name only one scheme has may be written bare (champions is rfm:champions, "
        "lapsing is lifecycle:lapsing); campaigns show the qualified name. A custom segment "
        "may not take a built-in name.",
    ),
    Definition(
        "custom_segments",
        "term",
        "Segments from a YAML file (--segments, RETAIN_SEGMENTS, default ./segments.yaml, "
        "which 'retain init' writes as an example), each a name and a 'where' rule over "
        "customer fields. A customer belongs to the first segment in the file whose rule "
        "matches. A missing value (no orders yet) never satisfies a comparison.",
    ),
    Definition(
        "snapshots",
        "term",
        "Each 'retain send' keeps every customer's segment for the day, for the schemes its "
        "entered_segment triggers use (a later send on the same day replaces it); a trigger "
        "compares the kept days. 'retain segments', 'segments moves' and 'retain plan' only "
        "read: a day without a kept snapshot is computed from the order history up to the "
        "end of that day and not kept, so looking at the past never makes customers seem "
        "to have just entered a segment.",
    ),
    *PREDICT_DEFINITIONS,
    *REPORT_DEFINITIONS,
]

DEFINITIONS: dict[str, Definition] = {d.name: d for d in _DEFINITIONS}


def explain(name: str | None = None) -> list[Definition]:
    """All definitions, or the one named; an unknown name is an error naming the close ones
    (``clv`` -> historic_clv, predicted_clv; ``p-alive`` is ``p_alive``)."""
    if name is None:
        return list(DEFINITIONS.values())
    key = name.strip().replace("-", "_").replace(" ", "_")
    if key not in DEFINITIONS:
        key = key.lower()
    if key == "t":
        key = "T"
    if key in DEFINITIONS:
        return [DEFINITIONS[key]]
    close = _close_names(key)
    hint = f"did you mean {_either(close)}? " if close else ""
    raise UsageError(
        f"no definition for {name!r}; {hint}'retain explain' with no name lists all "
        f"{len(DEFINITIONS)}"
    )


def _close_names(key: str) -> list[str]:
    """Names that have every word of ``key`` (churn -> churn_rate, churn_risk; repeat rate
    -> repeat_purchase_rate), then close spellings (difflib)."""
    import difflib

    words = set(key.split("_"))
    found = [n for n in DEFINITIONS if words <= set(n.lower().split("_"))]
    scored = []
    for n in DEFINITIONS:
        parts = [n.lower(), *n.lower().split("_")]
        best = max(difflib.SequenceMatcher(None, key, part).ratio() for part in parts)
        if best >= 0.75 and n not in found:
            scored.append((-best, n))
    return (found + [n for _, n in sorted(scored)])[:6]


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
