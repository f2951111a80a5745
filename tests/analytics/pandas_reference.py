"""An independent implementation of retain's documented definitions, written with pandas
from the text of 'retain explain' (never from retain's code): the oracle that
test_cli_definitions.py holds the CLI's figures to, on the CDNOW log and the demo shop.

Orders come in as a frame with the columns customer, at (UTC timestamps), total, refunded,
tax, shipping (money in major units) and cancelled (bool).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd

YEAR = pd.Timedelta(days=365)


def cdnow_orders(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path)
    return pd.DataFrame(
        {
            "customer": raw["email"],
            "at": pd.to_datetime(raw["date"]).dt.tz_localize("UTC"),
            "total": raw["amount"].astype(float),
            "refunded": 0.0,
            "tax": 0.0,
            "shipping": 0.0,
            "cancelled": False,
        }
    )


def shopify_orders(path: Path) -> pd.DataFrame:
    """Shopify's orders export: one row per line item, the order's fields on its first."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    first = raw[raw["Total"] != ""].drop_duplicates("Name")
    money = {c: pd.to_numeric(first[c].replace("", "0")) for c in ("Total", "Taxes", "Shipping")}
    return pd.DataFrame(
        {
            "customer": first["Email"].str.strip().str.lower(),
            "at": pd.to_datetime(first["Created at"], format="%Y-%m-%d %H:%M:%S %z", utc=True),
            "total": money["Total"],
            "refunded": pd.to_numeric(first["Refunded Amount"].replace("", "0")),
            "tax": money["Taxes"],
            "shipping": money["Shipping"],
            "cancelled": first["Cancelled at"] != "",
        }
    ).reset_index(drop=True)


def countable(orders: pd.DataFrame, revenue: str = "gross") -> pd.DataFrame:
    """'retain explain order': cancelled and fully refunded orders out, refunds subtracted;
    'retain explain revenue_kind': gross keeps tax and shipping, net takes them out."""
    fully = (orders["total"] > 0) & (orders["refunded"] >= orders["total"])
    kept = orders[~orders["cancelled"] & ~fully].copy()
    base = kept["total"] - (kept["tax"] + kept["shipping"] if revenue == "net" else 0)
    kept["amount"] = (base - kept["refunded"]).clip(lower=0)
    return kept.sort_values(["customer", "at"])


def end_of_day(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC") + pd.Timedelta(hours=23, minutes=59, seconds=59)


@dataclass
class Period:
    start: pd.Timestamp  # exclusive
    end: pd.Timestamp  # inclusive


MONTHS = {"month": 1, "quarter": 3, "year": 12}


def period(as_of: pd.Timestamp, kind: str) -> Period:
    """'retain explain period'."""
    if kind.endswith("d"):
        return Period(as_of - pd.Timedelta(days=int(kind[:-1])), as_of)
    if kind == "month":
        begin = as_of.normalize().replace(day=1)
    elif kind == "quarter":
        begin = as_of.normalize().replace(day=1, month=3 * ((as_of.month - 1) // 3) + 1)
    else:
        begin = as_of.normalize().replace(day=1, month=1)
    return Period(begin - pd.Timedelta(seconds=1), as_of)


def previous(current: Period, kind: str) -> Period:
    """The previous calendar period cut at the same offset: pandas' DateOffset keeps the
    day of the month (clamped), MonthEnd takes a month's last day to the last day."""
    if kind.endswith("d"):
        span = current.end - current.start
        return Period(current.start - span, current.start)
    shift = pd.DateOffset(months=MONTHS[kind])
    begin = current.start + pd.Timedelta(seconds=1) - shift
    end = current.end - shift
    if current.end.is_month_end:
        end = (end + pd.offsets.MonthEnd(0)).normalize() + (current.end - current.end.normalize())
    return Period(begin - pd.Timedelta(seconds=1), end)


def metrics(orders: pd.DataFrame, p: Period) -> dict[str, float | int | None]:
    """Every figure of 'retain metrics', from the definitions of 'retain explain'."""
    o = orders[orders["at"] <= p.end]
    lookback = max(YEAR, p.end - p.start)
    first = o.groupby("customer")["at"].min()
    inside = o[o["at"] > p.start]
    active = set(inside["customer"])
    new = set(first[first > p.start].index)
    start = set(o[(o["at"] > p.start - lookback) & (o["at"] <= p.start)]["customer"])
    end = set(o[o["at"] > p.end - lookback]["customer"])
    days = o.assign(day=o["at"].dt.floor("D")).drop_duplicates(["customer", "day"])
    order_days = days.groupby("customer").size()
    gaps = days.groupby("customer")["day"].diff().dt.days.dropna()
    nth = days.groupby("customer").cumcount()
    first_day = days[nth == 0].set_index("customer")["day"]
    second_day = days[nth == 1].set_index("customer")["day"]
    to_second = (second_day - first_day[second_day.index]).dt.days
    revenue = inside["amount"].sum()

    def ratio(a: float, b: float, digits: int = 4) -> float | None:
        return round(a / b, digits) if b else None

    def median(values: pd.Series) -> float | None:
        return round(float(values.median()), 1) if len(values) else None

    return {
        "active_customers": len(active),
        "new_customers": len(new),
        "returning_customers": len(active - new),
        "returning_customer_rate": ratio(sum(order_days[c] >= 2 for c in active), len(active)),
        "orders": len(inside),
        "revenue": round(revenue, 2),
        "returning_revenue_share": ratio(
            inside[~inside["customer"].isin(new)]["amount"].sum(), revenue
        ),
        "average_order_value": ratio(revenue, len(inside), 2),
        "purchase_frequency": ratio(len(inside), len(active), 3),
        "customer_base_start": len(start),
        "customer_base_end": len(end),
        "retention_rate": ratio(len(start & end), len(start)),
        "churn_rate": ratio(len(start - end), len(start)),
        "reactivated_customers": len(active - new - start),
        "customers": len(first),
        "repeat_purchase_rate": ratio(int((order_days >= 2).sum()), len(first)),
        "historic_clv": ratio(o["amount"].sum(), len(first), 2),
        "median_days_between_orders": median(gaps),
        "median_days_to_second_order": median(to_second),
    }


def half_up(value: float) -> int:
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def lifecycle(orders: pd.DataFrame, as_of: pd.Timestamp) -> tuple[int, dict[str, int]]:
    """'retain explain lifecycle': G and how many customers with orders are in each segment."""
    o = orders[orders["at"] <= as_of]
    days = o.assign(day=o["at"].dt.floor("D")).drop_duplicates(["customer", "day"])
    gaps = days.groupby("customer")["day"].diff().dt.days.dropna()
    gap = 30 if len(gaps) < 20 else min(max(half_up(float(gaps.median())), 7), 365)
    today = as_of.floor("D")
    since_last = (today - days.groupby("customer")["day"].max()).dt.days
    since_first = (today - days.groupby("customer")["day"].min()).dt.days
    segment = np.select(
        [since_first <= gap, since_last <= gap, since_last <= 2 * gap, since_last <= 4 * gap],
        ["new", "active", "at_risk", "lapsing"],
        default="lost",
    )
    counts = pd.Series(segment).value_counts()
    return gap, {
        name: int(counts.get(name, 0)) for name in ("new", "active", "at_risk", "lapsing", "lost")
    }


def cohorts(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """'retain explain cohorts' by month: cohort x offset -> share ordering."""
    o = orders[orders["at"] <= as_of].copy()
    o["month"] = o["at"].dt.tz_localize(None).dt.to_period("M")
    o["cohort"] = o.groupby("customer")["month"].transform("min")
    o["offset"] = (o["month"] - o["cohort"]).apply(lambda d: d.n)
    size = o.groupby("cohort")["customer"].nunique()
    active = o.groupby(["cohort", "offset"])["customer"].nunique().unstack(fill_value=0)
    return active.div(size, axis=0).round(4)
