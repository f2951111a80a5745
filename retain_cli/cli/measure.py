"""Commands: ``report`` (campaign effects, ``report goals``, ``--html``), ``baseline``,
``goals``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from retain_cli.cli.analytics import PeriodChoice
from retain_cli.cli.campaigns import ConfigOption
from retain_cli.cli.options import (
    AsOfOption,
    DbOption,
    FormatOption,
    OutputFormat,
    open_store,
)
from retain_cli.cli.output import console, render_mapping, render_rows, write_json
from retain_cli.errors import UsageError
from retain_cli.timeutil import parse_as_of, utc_now

PANEL = "Measuring"


PeriodOption = Annotated[
    PeriodChoice,
    typer.Option(
        "--period", help="The period each figure is measured over, as in 'retain metrics'."
    ),
]
GOAL_COLUMNS = [
    "metric",
    "change",
    "period",
    "start",
    "start_as_of",
    "now",
    "as_of",
    "expected_now",
    "target",
    "by",
    "time_gone",
    "status",
    "baseline",
]
STATUS_STYLES = {"reached": "green", "on track": "green", "off track": "yellow", "missed": "red"}


def report(
    ctx: typer.Context,
    campaign: Annotated[
        str | None,
        typer.Argument(
            help="One campaign, 'goals' for the goals report, or 'program' for the program "
            "holdout (default: every campaign).",
            show_default=False,
        ),
    ] = None,
    window: Annotated[
        str, typer.Option("--window", help="Orders counted this long after the message: 14d, 2w.")
    ] = "14d",
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Write the whole report (KPIs, cohorts, segments, campaigns, goals) to one "
            "self-contained HTML file.",
            show_default=False,
        ),
    ] = None,
    compare: Annotated[
        bool, typer.Option("--compare", help="With --html: the previous period beside the KPIs.")
    ] = False,
    period: PeriodOption = PeriodChoice.d30,
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="'report program': the first day of the period (default: the day the "
            "program holdout began).",
            show_default=False,
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="'report program': the last day of the period (default: up to now).",
            show_default=False,
        ),
    ] = None,
    as_of: AsOfOption = None,
    config: ConfigOption = None,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Did it pay? Each campaign's recipients against its holdout, with 95% intervals.

    Per campaign and step, over the window after the message: customers, conversion, orders and revenue per customer for the recipients and for the held-out customers, the difference with its 95% confidence interval (conversion: Newcombe's score interval; revenue: Welch's t), and the incremental orders and revenue for all recipients. A verdict (better, worse, inconclusive) comes only once the window has passed and each group has 30 customers; an inconclusive one says the smallest difference this size can detect and how many recipients would settle it. The split is checked against the campaign file's holdout (sample ratio mismatch), and a campaign's offer_code is counted in its orders.

    A campaign with A/B variants (variants: in the campaign file) shows them side by side: each variant against the holdout, each later variant against the first (the difference, its interval and a verdict, by the same rules), and the split between the variants checked against their shares.

    'retain report program [--from DATE --to DATE]': was the whole thing worth it? The customers the program holdout keeps out of every marketing campaign ('retain config set program_holdout 5%') against everyone else: retention, repeat rate, orders and revenue per customer over the period, with 95% intervals and the same verdict rules.

    'retain report goals' shows each goal against its track; --html FILE writes everything to one HTML file that needs no network.

    Example: retain report win-back --window 30d
    """  # noqa: E501
    from retain_cli.measure.report import campaign_report, optional_config, parse_window

    typed = {
        name
        for name in ("window", "html", "compare", "period", "start", "end")
        if (source := ctx.get_parameter_source(name)) is not None and source.name == "COMMANDLINE"
    }
    if campaign == "program":
        if typed - {"start", "end"}:
            raise UsageError(
                "'retain report program' takes --from, --to, --as-of, --config, --db and "
                "--format only; "
                + ", ".join("--" + name for name in sorted(typed - {"start", "end"}))
                + " does not apply to it (--html writes the program holdout's section with "
                "the whole report)"
            )
        _program_report(ctx, start, end, as_of, db, fmt, config)
        return
    if typed & {"start", "end"}:
        raise UsageError("--from and --to are for 'retain report program'")
    if campaign == "goals":
        if typed:
            raise UsageError(
                "'retain report goals' takes --as-of, --config, --db and --format only; "
                f"{', '.join('--' + name for name in sorted(typed))} "
                f"{'does' if len(typed) == 1 else 'do'} not apply to goals"
            )
        _goals_report(ctx, as_of, db, fmt, config)
        return
    if html is None and typed & {"compare", "period"}:
        raise UsageError(
            "--compare and --period are for the KPIs of the HTML report; add --html FILE"
        )
    span = parse_window(window)
    store = open_store(ctx, db)
    moment = parse_as_of(as_of) if as_of else utc_now()
    loaded = optional_config(config)
    if html is not None:
        from retain_cli.measure.html import write_html

        written = write_html(
            store,
            html,
            as_of=moment,
            period=period.value,
            compare=compare,
            window=span,
            config=loaded,
            campaign=campaign,
        )
        console.print(f"Wrote {escape(str(html))} ({written / 1024:,.0f} KB).")
        return
    result = campaign_report(store, campaign, span, moment, loaded)
    if fmt is OutputFormat.json:
        write_json(result.rows())
        return
    if fmt is OutputFormat.csv:
        from retain_cli.measure.report import COLUMNS

        render_rows(result.rows(), COLUMNS, fmt)
        return
    if not result.effects:
        console.print("Nothing sent yet: run 'retain send' first.")
    from retain_cli.measure.report import grouped

    for effect, variants in grouped(result.effects):
        _render_effect(effect, result.units)
        if variants:
            _render_variants(variants, result.units)
    for note in result.notes:
        console.print(f"[dim]Note: {escape(note)}[/]")


def _render_effect(effect: Any, units: Any) -> None:
    from retain_cli.measure.report import sentences, title

    rec, hold = effect.recipients, effect.holdout
    console.print(f"[bold]{escape(title(effect))}[/]")
    table = _comparison("recipients", "holdout")
    rows = [
        ("customers", f"{rec.customers:,}", f"{hold.customers:,}", ""),
        (
            "conversion",
            units.percent(rec.conversion),
            units.percent(hold.conversion),
            units.interval(effect.conversion, "rate"),
        ),
        ("orders", f"{rec.orders.total:,.0f}", f"{hold.orders.total:,.0f}", ""),
        (
            "revenue/customer",
            units.money(rec.revenue_per_customer),
            units.money(hold.revenue_per_customer),
            units.interval(effect.revenue, "money"),
        ),
    ]
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)
    _print_sentences(sentences(effect, units))
    console.print()


def _comparison(group: str, other: str) -> Table:
    """The table of a comparison: a label, the two groups, the difference with its CI."""
    table = Table(box=box.SIMPLE_HEAD, header_style="bold")
    table.add_column("", no_wrap=True)
    table.add_column(group, justify="right", no_wrap=True)
    table.add_column(other, justify="right", no_wrap=True)
    table.add_column("difference (95% CI)", justify="right")
    return table


def _print_sentences(lines: list[str]) -> None:
    """Sentences for people; a WARNING in bold red."""
    for line in lines:
        style = "bold red" if line.startswith("WARNING") else ""
        console.print(f"[{style}]{escape(line)}[/]" if style else escape(line))


def _program_report(
    ctx: typer.Context,
    start: str | None,
    end: str | None,
    as_of: str | None,
    db: Path | None,
    fmt: OutputFormat,
    config: Path | None,
) -> None:
    from retain_cli.measure.program import (
        COLUMNS,
        figure_text,
        interval_text,
        program_report,
        program_sentences,
        program_title,
    )
    from retain_cli.measure.report import optional_config
    from retain_cli.timeutil import zone

    loaded = optional_config(config)
    store = open_store(ctx, db)
    tz = zone(loaded.timezone if loaded else "UTC")
    result = program_report(
        store,
        parse_as_of(as_of, tz=tz) if as_of else utc_now(),
        start_day=_day("--from", start),
        end_day=_day("--to", end),
        config=loaded,
    )
    if fmt is not OutputFormat.table:
        render_rows(result.rows(), COLUMNS, fmt)
        return
    units = result.units
    console.print(f"[bold]{escape(program_title(result, loaded.timezone if loaded else 'UTC'))}[/]")
    table = _comparison("marketing", "held out")
    table.add_row("customers", f"{result.program_customers:,}", f"{result.held_customers:,}", "")
    for figure in result.figures:
        table.add_row(
            figure.label,
            figure_text(figure.program, figure.unit, units),
            figure_text(figure.held, figure.unit, units),
            escape(interval_text(figure, units)),
        )
    console.print(table)
    _print_sentences(program_sentences(result))


def _day(option: str, text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date; use YYYY-MM-DD") from None


def _render_variants(variants: list[Any], units: Any) -> None:
    """The variants side by side, then each difference with its interval, then verdicts."""
    from retain_cli.measure.report import variant_sentences

    names = [str(e.variant) for e in variants]
    console.print(f"[bold]Variants of {escape(variants[0].campaign)}, side by side[/]")
    table = Table(box=box.SIMPLE_HEAD, header_style="bold")
    table.add_column("", no_wrap=True)
    for name in [*names, "holdout"]:
        table.add_column(escape(name), justify="right", no_wrap=True)
    hold = variants[0].holdout
    rows = [
        ("share", *(units.percent(e.variant_share) for e in variants), ""),
        ("customers", *(f"{e.recipients.customers:,}" for e in variants), f"{hold.customers:,}"),
        (
            "conversion",
            *(units.percent(e.recipients.conversion) for e in variants),
            units.percent(hold.conversion),
        ),
        ("orders", *(f"{e.recipients.orders.total:,.0f}" for e in variants),
         f"{hold.orders.total:,.0f}"),
        (
            "revenue/customer",
            *(units.money(e.recipients.revenue_per_customer) for e in variants),
            units.money(hold.revenue_per_customer),
        ),
    ]  # fmt: skip
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)
    differences = Table(box=box.SIMPLE_HEAD, header_style="bold")
    differences.add_column("difference", no_wrap=True)
    differences.add_column("conversion (95% CI)", justify="right")
    differences.add_column("revenue/customer (95% CI)", justify="right")
    pairs = [(f"{e.variant} - holdout", e) for e in variants]
    pairs += [(f"{e.variant} - {e.versus_variant}", e.versus) for e in variants if e.versus]
    for label, effect in pairs:
        differences.add_row(
            escape(label),
            escape(units.interval(effect.conversion, "rate")),
            escape(units.interval(effect.revenue, "money")),
        )
    console.print(differences)
    _print_sentences(variant_sentences(variants, units))
    console.print()


def _goals_report(
    ctx: typer.Context, as_of: str | None, db: Path | None, fmt: OutputFormat, config: Path | None
) -> None:
    from retain_cli.measure.goals import goals_report
    from retain_cli.measure.report import optional_config, shop_units

    store = open_store(ctx, db)
    rows = goals_report(store, parse_as_of(as_of))
    if fmt is not OutputFormat.table:
        render_rows(rows, GOAL_COLUMNS, fmt)
        return
    if not rows:
        console.print(
            "No goals yet; set one with 'retain goals set retention_rate +5pp --by DATE'."
        )
        return
    units = shop_units(store, optional_config(config))
    shown = [
        {
            "metric": r["metric"],
            "start": units.goal(r["start"], r["unit"]),
            "now": units.goal(r["now"], r["unit"]),
            "on track at": units.goal(r["expected_now"], r["unit"]),
            "target": units.goal(r["target"], r["unit"]),
            "by": r["by"],
            "status": r["status"],
        }
        for r in rows
    ]
    render_rows(
        shown,
        ["metric", "start", "now", "on track at", "target", "by", "status"],
        fmt,
        title=f"Goals as of {rows[0]['as_of']}",
        styles={"status": lambda v: STATUS_STYLES.get(str(v), "")},
    )


baseline_app = typer.Typer(
    help="Baselines: named snapshots of every figure of 'retain metrics', for goals.\n\n"
    "Example: retain baseline save before-winter --period 90d",
    no_args_is_help=True,
)


@baseline_app.command("save")
def baseline_save(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for the snapshot, e.g. before-winter.")],
    period: PeriodOption = PeriodChoice.d30,
    as_of: AsOfOption = None,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Keep every figure of 'retain metrics' for the period as a named baseline.

    A goal can start from it ('retain goals set ... --baseline NAME'). Saving a name again replaces it.

    Example: retain baseline save before-winter --period 90d --as-of 2026-09-30
    """  # noqa: E501
    from retain_cli.measure.goals import save_baseline

    store = open_store(ctx, db)
    saved = save_baseline(store, name, parse_as_of(as_of), period.value, utc_now())
    if fmt is not OutputFormat.table:
        render_mapping({k: v for k, v in saved.items() if k != "metrics"} | saved["metrics"], fmt)
        return
    what = "Replaced" if saved["replaced"] else "Saved"
    console.print(
        f"{what} baseline {escape(name)}: {len(saved['metrics'])} figures for "
        f"{escape(saved['label'])}."
    )


@baseline_app.command("list")
def baseline_list(
    ctx: typer.Context, db: DbOption = None, fmt: FormatOption = OutputFormat.table
) -> None:
    """List the saved baselines.

    Example: retain baseline list --format json
    """
    store = open_store(ctx, db)
    rows = [
        {
            "name": b["name"],
            "as_of": b["as_of"],
            "period": b["period"],
            "retention_rate": b["metrics"].get("retention_rate"),
            "revenue": b["metrics"].get("revenue"),
            "created_at": b["created_at"],
        }
        for b in store.baseline_list()
    ]
    render_rows(
        rows,
        ["name", "as_of", "period", "retention_rate", "revenue", "created_at"],
        fmt,
        title="Baselines",
        empty="No baselines yet; save one with 'retain baseline save NAME'.",
    )


goals_app = typer.Typer(
    help="Goals: move a figure of 'retain metrics' by a date; 'retain report goals' tracks "
    "them.\n\nExample: retain goals set retention_rate +5pp --by 2027-06-30",
    no_args_is_help=True,
)


@goals_app.command("set")
def goals_set(
    ctx: typer.Context,
    metric: Annotated[
        str, typer.Argument(help="A figure of 'retain metrics', e.g. retention_rate.")
    ],
    change: Annotated[
        str,
        typer.Argument(help="+5pp (rates), +10% (relative) or +200 (in the figure's unit)."),
    ],
    by: Annotated[str, typer.Option("--by", help="The date to reach it by, YYYY-MM-DD.")],
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            help="Start from this saved baseline (default: the figure now).",
            show_default=False,
        ),
    ] = None,
    period: PeriodOption = PeriodChoice.d30,
    as_of: AsOfOption = None,
    db: DbOption = None,
) -> None:
    """Set a goal on a figure: its change and the date; replaces the figure's earlier goal.

    The goal starts from the figure now (over --period, ending at --as-of) or from a saved baseline, and keeps that start. A rate moves in percentage points (+5pp), other figures by a share (+10%) or an amount (+200). A negative change goes after '--', the options before it: retain goals set churn_rate --by 2027-06-30 -- -2pp.

    Example: retain goals set retention_rate +5pp --by 2027-06-30
    """  # noqa: E501
    from retain_cli.measure.goals import metric_unit, set_goal
    from retain_cli.measure.report import optional_config, shop_units

    try:
        day = date.fromisoformat(by)
    except ValueError:
        raise UsageError(f"--by {by!r} is not a date; use YYYY-MM-DD") from None
    store = open_store(ctx, db)
    goal = set_goal(
        store,
        metric,
        change,
        day,
        period=period.value,
        baseline=baseline,
        as_of=parse_as_of(as_of),
        now=utc_now(),
    )
    unit = metric_unit(metric)
    units = shop_units(store, optional_config(None))
    what = "Replaced the goal" if goal["replaced"] else "Goal set"
    console.print(
        f"{what}: {escape(metric)} from {units.goal(goal['start_value'], unit)} "
        f"({goal['start_as_of'][:10]}) to {units.goal(goal['target'], unit)} by "
        f"{goal['by_date']} ({escape(goal['change'])}). Track it with 'retain report goals'."
    )


@goals_app.command("load")
def goals_load(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="A goals file (YAML): goals: [{metric, change, by}].")
    ],
    as_of: AsOfOption = None,
    db: DbOption = None,
) -> None:
    """Set every goal of a goals file at once; each replaces the earlier goal on its figure.

    A goal has metric, change and by, and may have period (default 30d) and baseline, as in 'retain goals set'. Every goal is checked before any is kept: a file with one bad goal sets none.

    Example: retain goals load goals.yaml
    """  # noqa: E501
    from retain_cli.measure.goals_file import set_goals_from_file

    store = open_store(ctx, db)
    goals = set_goals_from_file(store, path, as_of=parse_as_of(as_of), now=utc_now())
    names = ", ".join(f"{g['metric']} {g['change']} by {g['by_date']}" for g in goals)
    console.print(
        f"Set {len(goals)} goal(s) from {escape(str(path))}: {escape(names)}. "
        "Track them with 'retain report goals'."
    )


@goals_app.command("list")
def goals_list(
    ctx: typer.Context, db: DbOption = None, fmt: FormatOption = OutputFormat.table
) -> None:
    """List the goals as they were set.

    Example: retain goals list
    """
    store = open_store(ctx, db)
    render_rows(
        store.goal_list(),
        [
            "metric",
            "change",
            "target",
            "by_date",
            "period",
            "baseline",
            "start_value",
            "start_as_of",
        ],
        fmt,
        title="Goals",
        empty="No goals yet; set one with 'retain goals set retention_rate +5pp --by DATE'.",
    )


@goals_app.command("remove")
def goals_remove(
    ctx: typer.Context,
    metric: Annotated[str, typer.Argument(help="The figure whose goal to remove.")],
    db: DbOption = None,
) -> None:
    """Remove the goal on a figure.

    Example: retain goals remove retention_rate
    """
    from retain_cli.errors import NotFound

    store = open_store(ctx, db)
    if not store.goal_remove(metric):
        raise NotFound(f"no goal on {metric!r}; see 'retain goals list'")
    console.print(f"Removed the goal on {escape(metric)}.")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("report", rich_help_panel=PANEL)(report)
    app.add_typer(baseline_app, name="baseline", rich_help_panel=PANEL)
    app.add_typer(goals_app, name="goals", rich_help_panel=PANEL)
