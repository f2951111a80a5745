"""What ``retain plan`` says about measuring: the holdout's size and the smallest difference
in conversion the report could detect, before anything is sent.

Counted per campaign: the customers this plan would send to or hold out, plus those of
earlier runs in the ledger (the report compares them all). The rate at which the
campaign's customers would order within the window anyway is estimated from their own
orders of the past year (a customer with k orders in 365 days orders within w days with
probability 1 - exp(-k w / 365)), averaged over the customers in this plan.

A campaign with A/B variants gets the same per variant: its recipients (now and earlier),
the smallest difference each variant against the holdout could show, and each later variant
against the first.
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
    by_variant = _earlier_variants(store, config, plan.campaigns)
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
        sd = proportion_sd(min(max(base, 0.01), 0.99)) if base is not None else None
        if sd is not None and holdout and recipients:
            detectable = detectable_difference(sd, sd, recipients, holdout)
        row: dict[str, Any] = {
            "campaign": name,
            "holdout": campaign.holdout,
            "held_out_now": len(held),
            "held_out": holdout,
            "recipients": recipients,
            "base_conversion": None if base is None else round(base, 4),
            "detectable_difference": None if detectable is None else round(detectable, 4),
            "window_days": round(window.total_seconds() / DAY, 2),
        }
        if campaign.variants:
            row["variants"] = _variant_power(plan, campaign, by_variant.get(name, {}), holdout, sd)
        out.append(row)
    return out


def _variant_power(
    plan: Plan, campaign: Any, earlier: dict[str, set[int]], holdout: int, sd: float | None
) -> list[dict[str, Any]]:
    """Per variant: due now, recipients with earlier runs, and the smallest difference in
    conversion against the holdout and (after the first) against the first variant."""

    def detectable(n: int, m: int) -> float | None:
        found = detectable_difference(sd, sd, n, m) if sd is not None and n and m else None
        return None if found is None else round(found, 4)

    out = []
    first = 0
    for position, variant in enumerate(campaign.variants):
        due = {
            i.customer_ref
            for i in plan.items
            if i.campaign == campaign.name and i.status == "due" and i.variant == variant.name
        }
        recipients = len(due | earlier.get(variant.name, set()))
        if position == 0:
            first = recipients
        out.append(
            {
                "variant": variant.name,
                "share": round(variant.share, 4),
                "due_now": len(due),
                "recipients": recipients,
                "detectable_difference": detectable(recipients, holdout),
                "detectable_versus_first": None if position == 0 else detectable(recipients, first),
            }
        )
    return out


def _earlier_variants(
    store: Store, config: CampaignConfig, names: list[str]
) -> dict[str, dict[str, set[int]]]:
    """Per campaign with variants: per variant, the customers earlier runs sent its first
    step to."""
    out: dict[str, dict[str, set[int]]] = {}
    recorded = store.measure_variants()
    for name in names:
        if not config.campaign(name).variants:
            continue
        known = recorded.get(name, [])
        rows = store.measure_ledger(name, known)
        if not rows or not known:
            continue
        first = min(row[0] for row in rows)
        groups: dict[str, set[int]] = {}
        for step, ref, kind, _, _, number in rows:
            if step == first and kind == 1 and number:
                groups.setdefault(known[number - 1], set()).add(ref)
        out[name] = groups
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
    for row in rows:
        if row.get("variants"):
            lines.append(_variant_line(row))
    unmeasured = [row["campaign"] for row in rows if not row["held_out"]]
    if unmeasured:
        lines.append(
            "Nobody is held out of "
            + ", ".join(unmeasured)
            + ": 'retain report' will have nothing to compare them with (holdout: 10% in the "
            "campaign file would)."
        )
    return lines


def _variant_line(row: dict[str, Any]) -> str:
    """``win-back variants: A (50%) 4 due now (31 with earlier runs), B (50%) ...``."""
    variants = row["variants"]
    split = ", ".join(
        f"{v['variant']} ({v['share'] * 100:g}%) {v['due_now']:,} due now"
        + (f" ({v['recipients']:,} with earlier runs)" if v["recipients"] != v["due_now"] else "")
        for v in variants
    )
    text = f"{row['campaign']} variants: {split}"
    against = [
        f"{v['variant']} about {v['detectable_difference'] * 100:.0f} pp"
        for v in variants
        if v["detectable_difference"] is not None
    ]
    if against:
        text += "; the smallest difference in conversion against the holdout: " + ", ".join(against)
    first = variants[0]["variant"]
    between = [
        f"{v['variant']} against {first} about {v['detectable_versus_first'] * 100:.0f} pp"
        for v in variants[1:]
        if v["detectable_versus_first"] is not None
    ]
    if between:
        text += "; between the variants: " + ", ".join(between)
    return text + "."


__all__ = ["plan_power", "power_lines"]
