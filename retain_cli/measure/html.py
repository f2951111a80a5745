"""``retain report --html FILE``: one self-contained HTML file.

KPIs (with ``--compare``: the previous period and the change), the acquisition cohorts as a
heatmap, lifecycle segment sizes and the moves between them over the last 30 days, every
campaign's effect with its 95% intervals as error bars (A/B variants side by side), and
the goals on their track. The charts are SVG drawn here; the page has no scripts, fonts,
images or links to load, so it opens the same without a network. Every campaign figure
carries ``data-check`` (campaign, step, variant, column of ``retain report --format json``)
and ``data-value`` (the JSON value), so a test can hold the page to the JSON.

Nothing is written to the database: segment memberships are computed, not kept.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retain_cli.errors import RetainError
from retain_cli.measure import svg
from retain_cli.measure.present import Units
from retain_cli.measure.report import (
    COLUMNS,
    campaign_report,
    grouped,
    sentences,
    title,
    variant_sentences,
)
from retain_cli.timeutil import to_iso, utc_now

if TYPE_CHECKING:
    from retain_cli.campaigns.model import CampaignConfig
    from retain_cli.measure.effects import Effect
    from retain_cli.store import Store

MOVES_DAYS = 30
COHORTS = 12


def write_html(store: Store, path: Path, **options: Any) -> int:
    """Write the report (:func:`render_html` with ``options``) to ``path``; returns its size
    in bytes."""
    data = render_html(store, **options).encode("utf-8")
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise RetainError(f"cannot write {path}: {exc.strerror or exc}") from None
    return len(data)


def render_html(
    store: Store,
    *,
    as_of: datetime,
    period: str,
    compare: bool,
    window: timedelta,
    config: CampaignConfig | None,
    campaign: str | None = None,
) -> str:
    from markupsafe import Markup

    from retain_cli.measure.page import render_page

    report = campaign_report(store, campaign, window, as_of, config)
    units = report.units
    currency = report.currency
    context = {
        "as_of": to_iso(as_of),
        "generated": to_iso(utc_now()),
        "currency": currency,
        "kpis": _kpis(store, as_of, period, compare, units),
        "cohorts": Markup(_cohorts(store, as_of)),
        "segments": _segments(store, as_of),
        "campaigns": _campaigns(report.effects, units),
        "campaign_notes": report.notes,
        "window_days": f"{window.total_seconds() / 86400:g}",
        "goals": _goals(store, as_of, units),
        "program": _program(store, as_of, config),
    }
    return render_page(context)


def _kpis(
    store: Store, as_of: datetime, period: str, compare: bool, units: Units
) -> dict[str, Any]:
    from retain_cli.analytics.definitions import DEFINITIONS
    from retain_cli.analytics.metrics import metrics

    result = metrics(store, as_of, period, compare=compare)
    rows = []
    for row in result.rows():
        unit = DEFINITIONS[row["metric"]].unit
        change = ""
        if compare and row.get("change") is not None:
            if unit == "rate":
                change = units.points(row["change"])
            elif row.get("change_pct") is not None:
                change = f"{row['change_pct'] * 100:+.1f}%"
        rows.append(
            {
                "metric": row["metric"],
                "value": units.goal(row["value"], unit),
                "previous": units.goal(row.get("previous"), unit) if compare else "",
                "change": change,
            }
        )
    return {
        "label": result.period.label,
        "previous": result.previous.label if result.previous else None,
        "rows": rows,
    }


def _cohorts(store: Store, as_of: datetime) -> str:
    from retain_cli.analytics.cohorts import cohorts

    table = cohorts(store, as_of, by="month", last=COHORTS)
    if not table.rows:
        return "<p>No orders yet.</p>"
    offsets = [str(k) for k in table.offsets][:COHORTS]
    return svg.heatmap(
        [r["cohort"] for r in table.rows],
        offsets,
        [[r.get(k) for k in offsets] for r in table.rows],
        "Share of each monthly cohort ordering 0, 1, 2 ... months after its first order",
        row_notes=[f"{r['size']:,}" for r in table.rows],
    )


def _segments(store: Store, as_of: datetime) -> dict[str, Any]:
    """Lifecycle sizes now, and the moves from MOVES_DAYS days before (computed, not kept)."""
    import numpy as np
    from markupsafe import Markup

    from retain_cli.analytics.features import core_features
    from retain_cli.analytics.segments import membership_of, segments_report

    now = segments_report(store, "lifecycle", as_of, save=False)
    chart = svg.bars(
        [(r["segment"], float(r["customers"]), f"{r['customers']:,}") for r in now.rows],
        "Customers per lifecycle segment",
    )
    before_day = as_of - timedelta(days=MOVES_DAYS)
    after = membership_of(core_features(store, as_of), "lifecycle")
    before = membership_of(core_features(store, before_day), "lifecycle")
    names = list(after.names)
    counts: dict[tuple[str, str], int] = {}
    position = np.searchsorted(before.refs, after.refs).clip(max=max(len(before.refs) - 1, 0))
    known = (
        before.refs[position] == after.refs if len(before.refs) else np.zeros(len(after.refs), bool)
    )
    for was, code, seen in zip(
        before.codes[position] if len(before.refs) else after.codes, after.codes, known, strict=True
    ):
        key = (names[int(was)] if seen else "not yet a customer", names[int(code)])
        counts[key] = counts.get(key, 0) + 1
    sources = [n for n in [*names, "not yet a customer"] if any(k[0] == n for k in counts)]
    targets = [n for n in names if any(k[1] == n for k in counts)]
    return {
        "chart": Markup(chart),
        "note": now.note,
        "customers": now.customers,
        "from": before_day.date().isoformat(),
        "to": as_of.date().isoformat(),
        "sources": sources,
        "targets": targets,
        "moves": [[counts.get((a, b), 0) for b in targets] for a in sources],
    }


def _campaigns(effects: list[Effect], units: Units) -> dict[str, Any]:
    from markupsafe import Markup

    from retain_cli.measure.report import effect_row

    conversion: list[svg.Bar] = []
    revenue: list[svg.Bar] = []
    cards = []
    for effect, variants in grouped(effects):
        name = f"{effect.campaign} {effect.step}"
        _bars(conversion, revenue, name, effect, units)
        for variant in variants:
            _bars(conversion, revenue, f"{name} {variant.variant}", variant, units)
            if variant.versus is not None:
                label = f"{name} {variant.variant} vs {variant.versus_variant}"
                _bars(conversion, revenue, label, variant.versus, units)
        row = effect_row(effect, units.currency)
        cards.append(
            {
                "title": title(effect),
                "cells": _cells(row, effect, units),
                "sentences": sentences(effect, units),
                "variants": _variant_card(variants, units) if variants else None,
            }
        )
    return {
        "conversion": Markup(svg.error_bars(conversion, "Conversion difference", "pp"))
        if conversion
        else "",
        "revenue": Markup(
            svg.error_bars(revenue, "Revenue per customer difference", units.currency)
        )
        if revenue
        else "",
        "cards": cards,
    }


def _bars(
    conversion: list[svg.Bar], revenue: list[svg.Bar], name: str, effect: Effect, units: Units
) -> None:
    """One comparison's error bars (a difference with its interval), if it has them."""
    if effect.conversion is not None:
        c = effect.conversion
        verdict = "so far" if effect.conversion_verdict is None else effect.conversion_verdict
        text = units.interval(c, "rate")
        conversion.append(svg.Bar(name, c.estimate * 100, c.low * 100, c.high * 100, verdict, text))
    if effect.revenue is not None:
        r = effect.revenue
        verdict_r = "so far" if effect.revenue_verdict is None else effect.revenue_verdict
        revenue.append(
            svg.Bar(name, r.estimate, r.low, r.high, verdict_r, units.interval(r, "money"))
        )


def _check(row: dict[str, Any], column: str, text: str) -> dict[str, Any]:
    """A cell showing ``column`` of a JSON row, checkable against it."""
    assert column in COLUMNS
    key = f"{row['campaign']}|{row['step']}|{row['variant'] or ''}|{column}"
    return {"check": key, "value": row[column], "text": text}


def _plain(text: str) -> dict[str, Any]:
    return {"check": None, "value": None, "text": text}


def _variant_card(variants: list[Effect], units: Units) -> dict[str, Any]:
    """The variants side by side (the holdout last), and each difference with its verdict."""
    from retain_cli.measure.report import effect_row

    rows = [effect_row(v, units.currency) for v in variants]
    first = rows[0]
    side = [
        [_plain("share"), *(_check(r, "variant_share", units.percent(r["variant_share"]))
                            for r in rows), _plain("")],
        [_plain("customers"), *(_check(r, "recipients", f"{r['recipients']:,}") for r in rows),
         _check(first, "held_out", f"{first['held_out']:,}")],
        [_plain("conversion"),
         *(_check(r, "recipient_conversion", units.percent(r["recipient_conversion"]))
           for r in rows),
         _check(first, "holdout_conversion", units.percent(first["holdout_conversion"]))],
        [_plain("orders"), *(_check(r, "recipient_orders", f"{r['recipient_orders']:,}")
                             for r in rows),
         _check(first, "holdout_orders", f"{first['holdout_orders']:,}")],
        [_plain("revenue per customer"),
         *(_check(r, "recipient_revenue_per_customer",
                  units.money(r["recipient_revenue_per_customer"])) for r in rows),
         _check(first, "holdout_revenue_per_customer",
                units.money(first["holdout_revenue_per_customer"]))],
    ]  # fmt: skip
    differences = []
    for row, effect in zip(rows, variants, strict=True):
        differences.append(
            [_plain(f"{effect.variant} - holdout"),
             _check(row, "conversion_difference", units.interval(effect.conversion, "rate")),
             _check(row, "conversion_verdict", row["conversion_verdict"] or "none yet"),
             _check(row, "revenue_per_customer_difference",
                    units.interval(effect.revenue, "money")),
             _check(row, "revenue_verdict", row["revenue_verdict"] or "none yet")]
        )  # fmt: skip
    for row, effect in zip(rows, variants, strict=True):
        versus = effect.versus
        if versus is None:
            continue
        differences.append(
            [_plain(f"{effect.variant} - {effect.versus_variant}"),
             _check(row, "versus_conversion_difference",
                    units.interval(versus.conversion, "rate")),
             _check(row, "versus_conversion_verdict",
                    row["versus_conversion_verdict"] or "none yet"),
             _check(row, "versus_revenue_per_customer_difference",
                    units.interval(versus.revenue, "money")),
             _check(row, "versus_revenue_verdict", row["versus_revenue_verdict"] or "none yet")]
        )  # fmt: skip
    return {
        "names": [str(v.variant) for v in variants],
        "rows": side,
        "differences": differences,
        "sentences": variant_sentences(variants, units),
    }


def _cells(row: dict[str, Any], effect: Effect, units: Units) -> list[list[dict[str, Any]]]:
    """The table of one campaign row: [label, recipients, holdout, difference] cells, each
    checkable against the JSON column it shows."""

    def cell(column: str, text: str) -> dict[str, Any]:
        return _check(row, column, text)

    plain = _plain
    return [
        [plain("customers"), cell("recipients", f"{row['recipients']:,}"),
         cell("held_out", f"{row['held_out']:,}"), plain("")],
        [plain("conversion"),
         cell("recipient_conversion", units.percent(row["recipient_conversion"])),
         cell("holdout_conversion", units.percent(row["holdout_conversion"])),
         cell("conversion_difference", units.interval(effect.conversion, "rate"))],
        [plain("orders"), cell("recipient_orders", f"{row['recipient_orders']:,}"),
         cell("holdout_orders", f"{row['holdout_orders']:,}"), plain("")],
        [plain("revenue per customer"),
         cell("recipient_revenue_per_customer",
              units.money(row["recipient_revenue_per_customer"])),
         cell("holdout_revenue_per_customer",
              units.money(row["holdout_revenue_per_customer"])),
         cell("revenue_per_customer_difference", units.interval(effect.revenue, "money"))],
        [plain("verdict on conversion"), plain(""), plain(""),
         cell("conversion_verdict", row["conversion_verdict"] or "none yet")],
        [plain("verdict on revenue"), plain(""), plain(""),
         cell("revenue_verdict", row["revenue_verdict"] or "none yet")],
    ]  # fmt: skip


def _program(store: Store, as_of: datetime, config: CampaignConfig | None) -> dict[str, Any]:
    """The program holdout against everyone else (``retain report program`` with its
    defaults); each figure's cells carry ``data-program`` (figure|column of its JSON) and
    ``data-value``. Empty when there is no program holdout."""
    from markupsafe import Markup

    from retain_cli.errors import UsageError
    from retain_cli.measure.program import (
        figure_text,
        interval_text,
        program_report,
        program_sentences,
        program_title,
    )

    try:
        report = program_report(store, as_of, config=config)
    except UsageError as exc:
        return {"missing": str(exc)}
    units = report.units
    rows = {row["figure"]: row for row in report.rows()}
    bars = [
        svg.Bar(
            f.label,
            f.interval.estimate * 100,
            f.interval.low * 100,
            f.interval.high * 100,
            f.verdict or "so far",
            interval_text(f, units),
        )
        for f in report.figures
        if f.unit == "rate" and f.interval is not None
    ]
    figures = []
    for f in report.figures:
        row = rows[f.name]

        def cell(column: str, text: str, name: str = f.name, row: dict = row) -> dict[str, Any]:
            return {"check": f"{name}|{column}", "value": row[column], "text": text}

        figures.append(
            [
                {"check": None, "value": None, "text": f.label},
                cell("program_value", figure_text(f.program, f.unit, units)),
                cell("held_out_value", figure_text(f.held, f.unit, units)),
                cell("difference", interval_text(f, units)),
                cell("verdict", f.verdict or "none yet"),
            ]
        )
    return {
        "title": program_title(report),  # days in UTC, as the page's as-of
        "customers": (report.program_customers, report.held_customers),
        "chart": Markup(svg.error_bars(bars, "Difference, marketing minus held out", "pp"))
        if bars
        else "",
        "figures": figures,
        "sentences": program_sentences(report),
    }


def _goals(store: Store, as_of: datetime, units: Units) -> list[dict[str, Any]]:
    from markupsafe import Markup

    from retain_cli.measure.goals import goals_report

    out = []
    for row in goals_report(store, as_of):
        unit = row["unit"]
        out.append(
            {
                **row,
                "start_text": units.goal(row["start"], unit),
                "now_text": units.goal(row["now"], unit),
                "expected_text": units.goal(row["expected_now"], unit),
                "target_text": units.goal(row["target"], unit),
                "bar": Markup(
                    svg.progress(row["start"], row["target"], row["now"], row["expected_now"])
                ),
            }
        )
    return out
