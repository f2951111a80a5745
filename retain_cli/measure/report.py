"""``retain report [CAMPAIGN]``: every campaign's effect (:mod:`.effects`) as rows for
scripts and as sentences for people, in the shop's currency and the units of ``retain
metrics`` (conversion in percent, differences in percentage points)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retain_cli.errors import UsageError
from retain_cli.measure.coupons import CouponUse, coupon_uses
from retain_cli.measure.effects import MIN_GROUP, SO_FAR, CampaignInfo, Effect, Windows
from retain_cli.measure.present import Units
from retain_cli.measure.stats import SRM_THRESHOLD
from retain_cli.money import DEFAULT_LOCALE, minor_units

if TYPE_CHECKING:
    from retain_cli.campaigns.model import CampaignConfig
    from retain_cli.store import Store

_WINDOW = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
_UNITS = {"h": 1, "d": 24, "w": 24 * 7}

#: the coupon codes a step's messages carried (:mod:`retain_cli.measure.coupons`)
COUPON_COLUMNS = [
    "coupon_pool",
    "coupons_sent",
    "coupons_redeemed",
    "coupon_redemption_rate",
    "coupon_discount",
    "coupons_used_by_others",
    "coupon_discount_by_others",
]
#: the columns of ``retain report --format csv/json``: rates are fractions (as in ``retain
#: metrics --format json``), money in major units of ``currency``
COLUMNS = [
    "campaign",
    "step",
    "variant",
    "status",
    "window_days",
    "days_passed",
    "still_in_window",
    "currency",
    "recipients",
    "held_out",
    "sent",
    "failed",
    "ambiguous",
    "recipient_orders",
    "holdout_orders",
    "recipient_revenue",
    "holdout_revenue",
    "recipient_conversion",
    "holdout_conversion",
    "conversion_difference",
    "conversion_low",
    "conversion_high",
    "conversion_verdict",
    "conversion_detectable",
    "conversion_recipients_needed",
    "recipient_revenue_per_customer",
    "holdout_revenue_per_customer",
    "revenue_per_customer_difference",
    "revenue_per_customer_low",
    "revenue_per_customer_high",
    "revenue_verdict",
    "revenue_per_customer_detectable",
    "revenue_recipients_needed",
    "revenue_interval",
    "incremental_orders",
    "incremental_orders_low",
    "incremental_orders_high",
    "incremental_revenue",
    "incremental_revenue_low",
    "incremental_revenue_high",
    "no_verdict",
    "offer_code",
    "recipient_offer_orders",
    "holdout_offer_orders",
    "discount_given",
    *COUPON_COLUMNS,
    "expected_holdout",
    "realised_holdout",
    "ratio_p_value",
    "ratio_test",
    "sample_ratio_mismatch",
    "variant_share",
    "variant_realised_share",
    "variant_split_p_value",
    "variant_split_mismatch",
    "versus_variant",
    "versus_status",
    "versus_conversion_difference",
    "versus_conversion_low",
    "versus_conversion_high",
    "versus_conversion_verdict",
    "versus_conversion_detectable",
    "versus_revenue_per_customer_difference",
    "versus_revenue_per_customer_low",
    "versus_revenue_per_customer_high",
    "versus_revenue_verdict",
    "versus_revenue_per_customer_detectable",
    "versus_no_verdict",
]


def optional_config(explicit: Path | None) -> CampaignConfig | None:
    """The campaign file named by --config (it must exist), else the default one if it
    exists (the report works without one, checking less)."""
    from retain_cli.campaigns.config import config_path, load_config

    path = config_path(explicit)
    if explicit is None and not path.exists():
        return None
    return load_config(path)


def shop_units(store: Store, config: CampaignConfig | None) -> Units:
    """The shop's main currency and the campaign file's shop.locale (the default without
    one), for figures outside a campaign report (goals)."""
    locale = config.shop.locale if config is not None else DEFAULT_LOCALE
    return Units(store.shop_currency() or "", locale)


def parse_window(text: str) -> timedelta:
    """``14d``, ``2w``, ``48h`` -> timedelta; UsageError otherwise."""
    match = _WINDOW.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise UsageError(f"--window {text!r} is not a window; write 14d, 2w or 48h")
    return timedelta(hours=int(match.group(1)) * _UNITS[match.group(2)])


@dataclass
class CampaignReport:
    """Every campaign's rows, the currency, and notes about what could not be checked."""

    effects: list[Effect]
    currency: str
    window: timedelta
    now: datetime
    notes: list[str] = field(default_factory=list)
    locale: str = DEFAULT_LOCALE  # the campaign file's shop.locale

    @property
    def units(self) -> Units:
        return Units(self.currency, self.locale)

    def rows(self) -> list[dict[str, Any]]:
        return [effect_row(e, self.currency) for e in self.effects]


def campaign_report(
    store: Store,
    campaign: str | None,
    window: timedelta,
    now: datetime,
    config: CampaignConfig | None = None,
) -> CampaignReport:
    """Every campaign in the send ledger (or the one named), measured up to ``now``.

    ``config`` (the campaign file, when there is one) gives each campaign's configured
    holdout (for the sample ratio check) and ``offer_code``."""
    from retain_cli.analytics.order_arrays import load_orders

    names = store.measure_campaigns(campaign)
    if campaign is not None and not names:
        raise UsageError(
            f"campaign {campaign!r} has nothing in the send ledger yet; run 'retain send' "
            "first, or see 'retain sends' for what was sent"
        )
    orders = load_orders(store)
    # one currency (the usual case) is in the packed orders; asking SQLite scans every order
    single = len(orders.currencies) == 1
    currency = orders.currencies[0] if single else store.shop_currency() or ""
    notes = []
    if len(orders.currencies) > 1:
        notes.append(
            "orders come in several currencies ("
            + ", ".join(orders.currencies)
            + f"); amounts are added without conversion and shown as {currency}"
        )
    info: dict[str, CampaignInfo] = {}
    if config is None:
        if names:
            notes.append(
                "no campaign file: the holdout share each campaign was set to is unknown, so "
                "the split is not checked, and no offer code is counted"
            )
    else:
        configured = {c.name: c for c in config.campaigns}
        for name in names:
            if name in configured:
                found = configured[name]
                info[name] = CampaignInfo(
                    found.holdout,
                    found.offer_code,
                    tuple((v.name, v.share) for v in found.variants),
                )
            else:
                notes.append(f"campaign {name!r} is not in {config.path}: its split is not checked")
    effects = _effects(store, names, orders, window, now, info, currency)
    uses = coupon_uses(store, names, currency)
    for effect in effects:
        effect.coupons = uses.get((effect.campaign, effect.step))
    return CampaignReport(
        effects=effects,
        currency=currency,
        window=window,
        now=now,
        notes=notes,
        locale=config.shop.locale if config is not None else DEFAULT_LOCALE,
    )


def _effects(
    store: Store,
    names: list[str],
    orders: Any,
    window: timedelta,
    now: datetime,
    info: dict[str, CampaignInfo],
    currency: str,
) -> list[Effect]:
    import numpy as np

    from retain_cli.analytics.order_arrays import OrderArrays
    from retain_cli.measure.effects import CampaignLedger, campaign_effects

    codes = sorted({i.offer_code for i in info.values() if i.offer_code})
    found = store.measure_offer_orders(codes)
    used = np.array([row[0] for row in found], dtype=object)
    table = np.array([row[1:] for row in found], dtype=np.int64).reshape(-1, 3)
    scale = 10 ** minor_units(currency)
    offers: dict[str, Windows] = {}
    for code in codes:
        mine = table[used == code] if len(table) else table
        packed = OrderArrays.sorted(mine[:, 0], mine[:, 1], mine[:, 2] / scale, ())
        offers[code] = Windows(packed.customer, packed.t, packed.amount)
    variants = store.measure_variants()
    ledgers = [
        CampaignLedger.from_rows(
            name, store.measure_ledger(name, variants.get(name, ())), variants.get(name, ())
        )
        for name in names
    ]
    return campaign_effects(ledgers, orders, window, now, info=info, offers=offers)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def effect_row(effect: Effect, currency: str) -> dict[str, Any]:
    """One flat row of the report (see :data:`COLUMNS`)."""
    rec, hold = effect.recipients, effect.holdout
    money = minor_units(currency)
    row: dict[str, Any] = {
        "campaign": effect.campaign,
        "step": effect.step,
        "variant": effect.variant,
        "status": effect.status,
        "window_days": round(effect.window_days, 2),
        "days_passed": round(effect.days_passed, 1),
        "still_in_window": effect.still_in_window,
        "currency": currency,
        "recipients": rec.customers,
        "held_out": hold.customers,
        "sent": effect.sent,
        "failed": effect.failed,
        "ambiguous": effect.ambiguous,
        "recipient_orders": int(rec.orders.total),
        "holdout_orders": int(hold.orders.total),
        "recipient_revenue": round(rec.revenue.total, money),
        "holdout_revenue": round(hold.revenue.total, money),
        "recipient_conversion": _round(rec.conversion, 4),
        "holdout_conversion": _round(hold.conversion, 4),
        "conversion_verdict": effect.conversion_verdict,
        "conversion_detectable": _round(effect.conversion_mde, 4),
        "conversion_recipients_needed": effect.conversion_needed,
        "recipient_revenue_per_customer": _round(rec.revenue_per_customer, money),
        "holdout_revenue_per_customer": _round(hold.revenue_per_customer, money),
        "revenue_verdict": effect.revenue_verdict,
        "revenue_per_customer_detectable": _round(effect.revenue_mde, money),
        "revenue_recipients_needed": effect.revenue_needed,
        "revenue_interval": "welch",
        "no_verdict": effect.no_verdict or None,
        "offer_code": effect.offer_code,
        "recipient_offer_orders": rec.offer_orders if effect.offer_code else None,
        "holdout_offer_orders": hold.offer_orders if effect.offer_code else None,
        "discount_given": round(rec.discount, money) if effect.offer_code else None,
        **_coupon_columns(effect.coupons, money),
        "expected_holdout": effect.expected_holdout,
        "realised_holdout": None,
        "ratio_p_value": None,
        "ratio_test": None,
        "sample_ratio_mismatch": None,
    }
    for prefix, interval, digits in (
        ("conversion", effect.conversion, 4),
        ("revenue_per_customer", effect.revenue, money),
        ("incremental_orders", effect.incremental_orders, 2),
        ("incremental_revenue", effect.incremental_revenue, money),
    ):
        key = prefix if prefix.startswith("incremental") else f"{prefix}_difference"
        row[key] = None if interval is None else round(interval.estimate, digits)
        row[f"{prefix}_low"] = None if interval is None else round(interval.low, digits)
        row[f"{prefix}_high"] = None if interval is None else round(interval.high, digits)
    if effect.ratio is not None:
        row["realised_holdout"] = round(effect.ratio.share, 4)
        row["ratio_p_value"] = float(f"{effect.ratio.p_value:.3g}")
        row["ratio_test"] = effect.ratio.test
        row["sample_ratio_mismatch"] = effect.ratio.mismatch
    row.update(_variant_columns(effect, money))
    return {column: row[column] for column in COLUMNS}


def _coupon_columns(use: CouponUse | None, money: int) -> dict[str, Any]:
    if use is None:
        return dict.fromkeys(COUPON_COLUMNS)
    return {
        "coupon_pool": use.pool,
        "coupons_sent": use.sent,
        "coupons_redeemed": use.redeemed,
        "coupon_redemption_rate": _round(use.rate, 4),
        "coupon_discount": round(use.discount, money),
        "coupons_used_by_others": use.others,
        "coupon_discount_by_others": round(use.others_discount, money),
    }


def _variant_columns(effect: Effect, money: int) -> dict[str, Any]:
    """A variant row's share, the split check, and the difference from the reference."""
    row: dict[str, Any] = dict.fromkeys(
        (c for c in COLUMNS if c.startswith(("variant_", "versus_"))), None
    )
    row["variant_share"] = _round(effect.variant_share, 4)
    split = effect.split
    if split is not None:
        row["variant_realised_share"] = _round(effect.variant_realised_share, 4)
        row["variant_split_p_value"] = (
            None if split.p_value is None else float(f"{split.p_value:.3g}")
        )
        row["variant_split_mismatch"] = split.mismatch
    versus = effect.versus
    if versus is not None:
        row["versus_variant"] = effect.versus_variant
        row["versus_status"] = versus.status
        for prefix, interval, digits in (
            ("versus_conversion", versus.conversion, 4),
            ("versus_revenue_per_customer", versus.revenue, money),
        ):
            row[f"{prefix}_difference"] = (
                None if interval is None else round(interval.estimate, digits)
            )
            row[f"{prefix}_low"] = None if interval is None else round(interval.low, digits)
            row[f"{prefix}_high"] = None if interval is None else round(interval.high, digits)
        row["versus_conversion_verdict"] = versus.conversion_verdict
        row["versus_revenue_verdict"] = versus.revenue_verdict
        row["versus_conversion_detectable"] = _round(versus.conversion_mde, 4)
        row["versus_revenue_per_customer_detectable"] = _round(versus.revenue_mde, money)
        row["versus_no_verdict"] = versus.no_verdict or None
    return row


# --- words for people ------------------------------------------------------------------------


def title(effect: Effect) -> str:
    step = f", step {effect.step}" if effect.step != 1 else ""
    days = f"{effect.window_days:g}"
    if effect.status == SO_FAR:
        return (
            f"{effect.campaign}{step}: so far, {int(effect.days_passed)} of {days} days of "
            "the window have passed since the last message"
        )
    return f"{effect.campaign}{step}: the {days} days after the message (finished)"


def sentences(effect: Effect, units: Units) -> list[str]:
    """What the table means, for people: verdicts, sizes, offer, split, waiting customers."""
    rec, hold = effect.recipients, effect.holdout
    out: list[str] = []
    if effect.conversion is None:
        out.append(f"No comparison: {effect.no_verdict}.")
    elif effect.status == SO_FAR:
        out.append(
            "No verdict yet: the window has not ended (looking early and often "
            "finds differences that are not there)."
        )
    else:
        for label, verdict, mde, needed, kind in (
            ("Conversion", effect.conversion_verdict, effect.conversion_mde,
             effect.conversion_needed, "rate"),
            ("Revenue per customer", effect.revenue_verdict, effect.revenue_mde,
             effect.revenue_needed, "money"),
        ):  # fmt: skip
            out.append(_verdict_sentence(label, verdict, mde, needed, kind, effect, units))
    if effect.still_in_window and effect.status != SO_FAR:
        out.append(
            f"{effect.still_in_window:,} more customers are still inside their window; "
            "they are counted once it has passed."
        )
    if effect.incremental_revenue is not None and effect.incremental_orders is not None:
        out.append(
            f"Incremental for all {rec.customers:,} recipients: orders "
            f"{units.interval(effect.incremental_orders, 'count')}, revenue "
            f"{units.interval(effect.incremental_revenue, 'money')} "
            "(95% intervals; revenue per customer by Welch's t)."
        )
    if effect.offer_code:
        out.append(
            f"Offer {effect.offer_code}: used on {rec.offer_orders:,} recipient orders, "
            f"giving away {units.money(rec.discount)}; the revenue above is what "
            "customers paid, so it is already net of that discount."
            + (
                f" The holdout used it {hold.offer_orders:,} times: the code reached "
                "people who were not sent it."
                if hold.offer_orders
                else ""
            )
        )
    if effect.coupons is not None:
        out.append(coupon_sentence(effect.coupons, units))
    ratio = effect.ratio
    if ratio is not None and not ratio.mismatch:
        out.append(
            f"Split: {ratio.held_out:,} of {ratio.total:,} held out ({units.percent(ratio.share)}; "
            f"the campaign file says {units.percent(effect.expected_holdout)}, p = "
            f"{ratio.p_value:.2g}): as expected."
        )
    if ratio is not None and ratio.mismatch:
        out.append(
            f"WARNING: sample ratio mismatch: {ratio.held_out:,} of {ratio.total:,} held out "
            f"({units.percent(ratio.share)}) where the campaign file says "
            f"{units.percent(effect.expected_holdout)} "
            f"(p = {ratio.p_value:.2g} < {SRM_THRESHOLD}). "
            "The split is broken, so these comparisons mean nothing until the cause is "
            "found (a changed holdout, sends recorded by hand, customers merged)."
        )
    return out


def _verdict_sentence(
    label: str,
    verdict: str | None,
    mde: float | None,
    needed: int | None,
    kind: str,
    effect: Effect,
    units: Units,
) -> str:
    if verdict in ("better", "worse"):
        return f"{label}: {verdict} for the recipients (the 95% interval leaves out zero)."
    why = (
        f"fewer than {MIN_GROUP} customers in a group"
        if effect.no_verdict.startswith("fewer")
        else "the interval spans zero"
    )
    size = (
        (units.points(mde).lstrip("+") if kind == "rate" else units.money(mde))
        if mde is not None
        else "-"
    )
    text = (
        f"{label}: inconclusive ({why}). At this size ({effect.recipients.customers:,} "
        f"recipients, {effect.holdout.customers:,} held out) the smallest difference it "
        f"detects (4 times in 5) is about {size}"
    )
    if needed is not None:
        text += (
            f"; telling a difference as large as this one from chance takes about "
            f"{needed:,} recipients"
        )
    return text + "."


def coupon_sentence(use: CouponUse, units: Units) -> str:
    """The coupon codes a step's messages carried, for people."""
    codes = f"{use.sent:,} code{'s' if use.sent != 1 else ''}"
    text = (
        f"Coupons (pool {use.pool}): {codes} sent, {use.redeemed:,} redeemed by the customer "
        f"it was sent to ({units.percent(use.rate)}), giving away {units.money(use.discount)}."
    )
    if use.others:
        text += (
            f" {use.others:,} order{'s' if use.others != 1 else ''} of other customers used "
            f"a code sent to someone else (forwarded), giving away "
            f"{units.money(use.others_discount)} more: not counted as redeemed."
        )
    return text


# --- A/B variants ----------------------------------------------------------------------------


def grouped(effects: list[Effect]) -> list[tuple[Effect, list[Effect]]]:
    """Each campaign step's row with the rows of its variants (which follow it)."""
    out: list[tuple[Effect, list[Effect]]] = []
    for effect in effects:
        if effect.variant is None or not out:
            out.append((effect, []))
        else:
            out[-1][1].append(effect)
    return out


def variant_sentences(variants: list[Effect], units: Units) -> list[str]:
    """What the variants' rows mean, for people: each against the holdout, each against the
    reference variant, and whether the split between them came out as the file says."""
    out: list[str] = []
    for effect in variants:
        out.append(_pair(effect, f"{effect.variant} against the holdout", units))
    for effect in variants:
        if effect.versus is not None:
            what = f"{effect.variant} against {effect.versus_variant}"
            out.append(_pair(effect.versus, what, units))
    split = next((e.split for e in variants if e.split is not None), None)
    if split is not None:
        got = ", ".join(
            f"{e.variant} {count:,} ({units.percent(share)})"
            for e, count, share in zip(variants, split.counts, split.shares, strict=False)
        )
        said = ", ".join(f"{e.variant} {units.percent(e.variant_share)}" for e in variants)
        if split.p_value is None:
            out.append(f"Split between the variants: {got}; too few customers to check it yet.")
        elif split.mismatch:
            out.append(
                f"WARNING: sample ratio mismatch between the variants: {got} where the campaign "
                f"file says {said} (p = {split.p_value:.2g} < {SRM_THRESHOLD}). The split is "
                "broken, so the variants cannot be compared until the cause is found (changed "
                "shares or salt, sends recorded by hand)."
            )
        else:
            out.append(
                f"Split between the variants: {got}; the campaign file says {said} "
                f"(p = {split.p_value:.2g}): as expected."
            )
    return out


def _pair(effect: Effect, what: str, units: Units) -> str:
    """One comparison's verdicts in a sentence (the same rules as the campaign's row)."""
    if effect.conversion is None:
        return f"{what}: no comparison ({effect.no_verdict})."
    if effect.status == SO_FAR:
        return (
            f"{what}: no verdict yet, the window has not ended (conversion "
            f"{units.interval(effect.conversion, 'rate')} so far)."
        )
    small = effect.no_verdict.startswith("fewer")
    text = (
        f"{what}: conversion {effect.conversion_verdict}, revenue per customer "
        f"{effect.revenue_verdict}"
        + (f" (fewer than {MIN_GROUP} customers in a group: no winner on so few)" if small else "")
    )
    if "inconclusive" in (effect.conversion_verdict, effect.revenue_verdict):
        mde = effect.conversion_mde
        size = units.points(mde).lstrip("+") if mde is not None else "-"
        text += f"; at this size the smallest difference in conversion it detects is about {size}"
        if effect.revenue_mde is not None:
            text += f", in revenue per customer about {units.money(effect.revenue_mde)}"
    return text + "."
