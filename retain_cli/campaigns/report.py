"""What each campaign earned: recipients against the holdout, within a window after the send.

For every customer a campaign wrote to, the reference time is the first time it was sent to
them; for every customer held out, the time they were held out (recorded by the same run that
sent to the others). Counted: countable orders (``order_facts``: cancelled left out, refunds
subtracted) placed after the reference time and within the window. Then, per group:

- conversion = customers with at least one such order / customers in the group;
- revenue per customer = net revenue of those orders / customers in the group;
- lift = recipients minus holdout, for both (the holdout shows what would have happened
  anyway, so the lift is what the messages added).

A window that has not ended yet counts the orders known so far.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from retain_cli.errors import UsageError
from retain_cli.timeutil import to_iso

if TYPE_CHECKING:
    from retain_cli.store import Store

_WINDOW = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
_UNITS = {"h": 1, "d": 24, "w": 24 * 7}

COLUMNS = [
    "campaign",
    "recipients",
    "held_out",
    "sent",
    "failed",
    "ambiguous",
    "recipient_orders",
    "recipient_revenue",
    "recipient_conversion",
    "recipient_revenue_per_customer",
    "holdout_orders",
    "holdout_revenue",
    "holdout_conversion",
    "holdout_revenue_per_customer",
    "conversion_lift",
    "revenue_per_customer_lift",
    "currency",
]
MONEY_COLUMNS = (
    "recipient_revenue",
    "recipient_revenue_per_customer",
    "holdout_revenue",
    "holdout_revenue_per_customer",
    "revenue_per_customer_lift",
)
RATE_COLUMNS = ("recipient_conversion", "holdout_conversion")


def parse_window(text: str) -> timedelta:
    """``14d``, ``2w``, ``48h`` -> timedelta; UsageError otherwise."""
    match = _WINDOW.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise UsageError(f"--window {text!r} is not a window; write 14d, 2w or 48h")
    return timedelta(hours=int(match.group(1)) * _UNITS[match.group(2)])


def campaign_report(
    store: Store, campaign: str | None, window: timedelta, now: datetime
) -> list[dict[str, Any]]:
    """One row per campaign in the ledger (or the one named), with the figures above."""
    from retain_cli.campaigns.context import minor_digits

    rows = store.ledger_campaign_counts(campaign)
    if campaign is not None and not rows:
        raise UsageError(
            f"campaign {campaign!r} has nothing in the send ledger yet; run 'retain send' "
            "first, or see 'retain sends' for what was sent"
        )
    currency = store.shop_currency() or "USD"
    scale = 10 ** minor_digits(currency)
    out = []
    for counts in rows:
        outcomes = store.ledger_outcomes(
            counts["campaign"], int(window.total_seconds()), to_iso(now)
        )
        row: dict[str, Any] = {
            key: counts[key]
            for key in ("campaign", "recipients", "held_out", "sent", "failed", "ambiguous")
        }
        rates: dict[str, tuple[float | None, float | None]] = {}
        for group, prefix in (("recipients", "recipient"), ("holdout", "holdout")):
            data = outcomes.get(group)
            customers = data["customers"] if data else 0
            revenue = data["revenue_minor"] / scale if data else 0.0
            conversion = data["converted"] / customers if data and customers else None
            per_customer = revenue / customers if customers else None
            row[f"{prefix}_orders"] = data["orders"] if data else 0
            row[f"{prefix}_revenue"] = round(revenue, 2)
            row[f"{prefix}_conversion"] = None if conversion is None else round(conversion, 4)
            row[f"{prefix}_revenue_per_customer"] = (
                None if per_customer is None else round(per_customer, 2)
            )
            rates[group] = (conversion, per_customer)
        (conv_r, rev_r), (conv_h, rev_h) = rates["recipients"], rates["holdout"]
        row["conversion_lift"] = (
            None if conv_r is None or conv_h is None else round(conv_r - conv_h, 4)
        )
        row["revenue_per_customer_lift"] = (
            None if rev_r is None or rev_h is None else round(rev_r - rev_h, 2)
        )
        row["currency"] = currency
        out.append(row)
    return out


def readable(row: dict[str, Any], locale: str) -> dict[str, Any]:
    """A report row for people: amounts as the shop writes money (``shop.locale``, the row's
    currency), conversions as percentages, the conversion lift in percentage points."""
    import copy

    from babel import Locale
    from babel.numbers import format_decimal

    from retain_cli.money import format_money, minor_units

    digits = 10 ** minor_units(row["currency"])
    out = {key: value for key, value in row.items() if key not in ("campaign", "currency")}
    for key in MONEY_COLUMNS:
        if out.get(key) is not None:
            out[key] = format_money(round(out[key] * digits), row["currency"], locale)
    percent = copy.copy(Locale.parse(locale).percent_formats[None])  # "12.5%", "12,5 %"
    percent.frac_prec = (1, 1)
    for key in RATE_COLUMNS:
        if out.get(key) is not None:
            out[key] = percent.apply(out[key], locale)
    lift = out.get("conversion_lift")
    if lift is not None:
        points = format_decimal(abs(lift) * 100, "#,##0.0", locale=locale)
        out["conversion_lift"] = f"{'-' if lift < 0 else '+'}{points} pp"
    return out
