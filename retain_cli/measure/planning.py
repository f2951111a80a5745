"""What ``retain plan`` says about measuring: the holdout's size and the smallest difference
in conversion the report could detect, before anything is sent.

Counted per campaign: the customers this plan would send to or hold out, plus those of
earlier runs in the ledger (the report compares them all). The rate at which the
campaign's customers would order within the window anyway is estimated from their own
orders of the past year (a customer with k orders in 365 days orders within w days with
probability 1 - exp(-k w / 365)), averaged over the customers in this plan.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from retain_cli.measure.stats import detectable_difference, proportion_sd

if TYPE_CHECKING:
    from retain_cli.campaigns.model import CampaignConfig
    from retain_cli.campaigns.planner import Plan
    from retain_cli.store import Store

DAY = 86400
WINDOW = timedelta(days=14)


def plan_power(
    store: Store, config: CampaignConfig, plan: Plan, window: timedelta = WINDOW
) -> list[dict[str, Any]]:
    """Per campaign of the plan with someone due or held out (now or earlier)."""
    import numpy as np

    from retain_cli.analytics.order_arrays import load_orders

    orders = load_orders(store).upto(plan.as_of)
    start = int(plan.as_of.timestamp()) - 365 * DAY
    recent = orders.t > start
    counts = np.bincount(orders.customer[recent]) if recent.any() else np.zeros(1, np.int64)
    earlier = _earlier(store, plan.campaigns)
    out = []
    for name in plan.campaigns:
        campaign = config.campaign(name)
        due = {i.customer_ref for i in plan.items if i.campaign == name and i.status == "due"}
        held = {i.customer_ref for i in plan.items if i.campaign == name and i.status == "held_out"}
        past_sent, past_held = earlier.get(name, (set(), set()))
        recipients = len(due | past_sent)
        holdout = len(held | past_held)
        if not (due or held or past_sent or past_held):
            continue
        refs = np.fromiter(due | held, dtype=np.int64, count=len(due | held))
        per_year = np.where(refs < len(counts), counts[refs.clip(max=len(counts) - 1)], 0)
        days = window.total_seconds() / DAY
        base = float(np.mean(1 - np.exp(-per_year * days / 365))) if len(refs) else None
        detectable = None
        if base is not None and holdout and recipients:
            sd = proportion_sd(min(max(base, 0.01), 0.99))
            detectable = detectable_difference(sd, sd, recipients, holdout)
        out.append(
            {
                "campaign": name,
                "holdout": campaign.holdout,
                "held_out_now": len(held),
                "held_out": holdout,
                "recipients": recipients,
                "base_conversion": None if base is None else round(base, 4),
                "detectable_difference": None if detectable is None else round(detectable, 4),
                "window_days": round(window.total_seconds() / DAY, 2),
            }
        )
    return out


def _earlier(store: Store, names: list[str]) -> dict[str, tuple[set[int], set[int]]]:
    """Per campaign: customers sent to and held out at its first step by earlier runs."""
    out: dict[str, tuple[set[int], set[int]]] = {}
    for name in names:
        rows = store.measure_ledger(name)
        if not rows:
            continue
        first = min(row[0] for row in rows)
        sent = {ref for step, ref, kind, *_ in rows if step == first and kind == 1}
        held = {ref for step, ref, kind, *_ in rows if step == first and kind == 2}
        out[name] = (sent, held)
    return out


def power_lines(rows: list[dict[str, Any]]) -> list[str]:
    """What ``retain plan`` prints under its table: one line per measured campaign, one for
    the campaigns nobody is held out of."""
    lines = []
    for row in rows:
        name, now, held = row["campaign"], row["held_out_now"], row["held_out"]
        if not held:
            continue
        earlier = f" ({held:,} with earlier runs)" if held != now else ""
        text = f"{name}: {now:,} held out now{earlier}, against {row['recipients']:,} recipients"
        if row["detectable_difference"] is None:
            lines.append(text + ".")
            continue
        detectable = row["detectable_difference"]
        lines.append(
            f"{text}; the smallest difference in {row['window_days']:g}-day conversion the "
            f"report could detect is about {detectable * 100:.0f} pp (if about "
            f"{row['base_conversion'] * 100:.0f}% would order anyway)."
            + (
                " Widen the audience or the holdout to see smaller effects."
                if detectable > 0.05
                else ""
            )
        )
    unmeasured = [row["campaign"] for row in rows if not row["held_out"]]
    if unmeasured:
        lines.append(
            "Nobody is held out of "
            + ", ".join(unmeasured)
            + ": 'retain report' will have nothing to compare them with (holdout: 10% in the "
            "campaign file would)."
        )
    return lines


__all__ = ["plan_power", "power_lines"]
