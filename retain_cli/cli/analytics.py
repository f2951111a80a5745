"""Commands: ``metrics``, ``explain``, ``cohorts``, ``segments`` (+ ``check``, ``moves``)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from retain_cli.cli.campaigns import ConfigOption
from retain_cli.cli.options import (
    AsOfOption,
    DbOption,
    FormatOption,
    NowOption,
    OutputFormat,
    open_store,
)
from retain_cli.cli.output import (
    WideOption,
    cell_text,
    console,
    render_matrix,
    render_rows,
    write_json,
)
from retain_cli.errors import EXIT_FAILED, EXIT_PARTIAL
from retain_cli.timeutil import parse_as_of


class PeriodChoice(enum.StrEnum):
    d30 = "30d"
    d90 = "90d"
    month = "month"
    quarter = "quarter"
    year = "year"


class RevenueChoice(enum.StrEnum):
    gross = "gross"
    net = "net"


RevenueOption = Annotated[
    RevenueChoice,
    typer.Option(
        "--revenue",
        help="gross: order totals as the export gives them (tax and shipping included), less "
        "refunds; net: without tax and shipping (Shopify's net sales), less refunds.",
    ),
]


class CohortBy(enum.StrEnum):
    month = "month"
    quarter = "quarter"
    week = "week"


class CohortValue(enum.StrEnum):
    customers = "customers"
    revenue = "revenue"


class Scheme(enum.StrEnum):
    rfm = "rfm"
    lifecycle = "lifecycle"
    custom = "custom"


SchemeOption = Annotated[
    Scheme, typer.Option("--scheme", help="rfm, lifecycle, or custom (from --segments).")
]
SegmentsOption = Annotated[
    Path | None,
    typer.Option(
        "--segments",
        envvar="RETAIN_SEGMENTS",
        help="Custom segments YAML (default ./segments.yaml).",
        show_default=False,
    ),
]


# --- formatting for people ------------------------------------------------------------------


def _display(value: Any, unit: str, currency: str = "") -> str:
    if value is None:
        return "-"
    if unit == "rate":
        return f"{float(value) * 100:.1f}%"
    if unit == "money":
        return f"{float(value):,.2f}" + (f" {currency}" if len(currency) == 3 else "")
    if unit == "days":
        return f"{float(value):g} days"
    if unit == "number":
        return f"{float(value):.2f}"
    return cell_text(value)


def _change(row: dict[str, Any], unit: str) -> str:
    if row.get("change") is None:
        return "-"
    change = float(row["change"])
    if unit == "rate":
        return f"{change * 100:+.1f} pp"
    pct = row.get("change_pct")
    text = f"{pct * 100:+.1f}%" if pct is not None else ("+0" if change == 0 else "new")
    colour = "green" if change > 0 else "red" if change < 0 else "dim"
    return f"[{colour}]{escape(text)}[/]"


# --- metrics and explain --------------------------------------------------------------------


def metrics_command(
    ctx: typer.Context,
    as_of: AsOfOption = None,
    period: Annotated[
        PeriodChoice,
        typer.Option(
            "--period",
            help="30d/90d: the N days up to as-of; month/quarter/year: the calendar period "
            "containing as-of, up to as-of.",
        ),
    ] = PeriodChoice.d30,
    compare: Annotated[
        bool,
        typer.Option(
            "--compare",
            help="Show the previous period beside it, cut at the same offset, and the change.",
        ),
    ] = False,
    revenue: RevenueOption = RevenueChoice.gross,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Retention KPIs for a period: customers, retention and churn, revenue, AOV, repeat rate.

    Figures come in three groups: in the period; the customer base (an order in the 365 days
    up to the period's start, and up to its end: retention, churn, reactivated); and all
    history up to the period's end. Cancelled and fully refunded orders are left out,
    partial refunds subtracted. --compare puts the previous calendar period beside it, up
    to the same day (a full quarter against the full quarter before). 'retain explain
    METRIC' gives each figure's exact definition. Example:

        retain metrics --period month --compare --as-of 2025-09-30
    """
    from retain_cli.analytics.definitions import DEFINITIONS
    from retain_cli.analytics.metrics import METRIC_SCOPES, REVENUE_TEXT, SCOPE_TEXT, metrics
    from retain_cli.cli.feedback import metrics_feedback, print_metrics_feedback

    store = open_store(ctx, db)
    report = metrics(
        store, parse_as_of(as_of), period.value, compare=compare, revenue=revenue.value
    )
    rows = report.rows()
    if fmt is OutputFormat.json:
        write_json(
            {
                "as_of": report.period.end.isoformat(),
                "period": _period_json(report.period),
                "previous_period": _period_json(report.previous) if report.previous else None,
                "currency": report.currency,
                "revenue": report.revenue,
                "sales_without_customer": report.sales_without_customer,
                "metrics": rows,
                "feedback": metrics_feedback(store, report.period.end),
            }
        )
        return
    if fmt is OutputFormat.csv:
        render_rows(rows, list(rows[0]), fmt)
        return
    notes = []
    if report.previous is not None:
        notes.append(f"previous: {report.previous.label}")
    if report.currency:
        notes.append(f"currency: {report.currency}")
    notes.append(f"revenue {REVENUE_TEXT[report.revenue]}")
    if report.sales_without_customer:
        notes.append(
            f"orders and revenue include {report.sales_without_customer:,} sale(s) without "
            "a customer"
        )
    # title and notes as lines of their own: a table's title and caption wrap at its width
    console.print(escape(f"Metrics, {report.period.label}"), style="bold")
    table = Table(header_style="bold")
    table.add_column("metric", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    if report.previous is not None:
        table.add_column("previous", justify="right", no_wrap=True)
        table.add_column("change", justify="right", no_wrap=True)
    by_name = {row["metric"]: row for row in rows}
    for scope, names in METRIC_SCOPES.items():
        table.add_row(f"[dim italic]{escape(SCOPE_TEXT[scope])}[/]", end_section=False)
        for name in names:
            row = by_name[name]
            unit = DEFINITIONS[name].unit
            cells = [escape(name), escape(_display(row["value"], unit, report.currency))]
            if report.previous is not None:
                cells.append(escape(_display(row["previous"], unit, report.currency)))
                cells.append(_change(row, unit))
            table.add_row(*cells, end_section=name == names[-1])
    console.print(table)
    for note in notes:
        console.print(escape(note), style="dim")
    print_metrics_feedback(store, report.period.end)  # NPS / CSAT (retain feedback)


def _period_json(period: Any) -> dict[str, str]:
    return {
        "start": period.first_day.isoformat(),
        "end": period.end.isoformat(),
        "label": period.label,
    }


def explain_command(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(
            help="A metric or term (default: all of them), or a customer (e-mail or id).",
            show_default=False,
        ),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    config: ConfigOption = None,
    as_of: AsOfOption = None,
    now: NowOption = None,
    db: DbOption = None,
) -> None:
    """Print the exact definition of each metric, column and term retain uses, or explain a
    customer.

    Covers the figures of 'retain metrics', the columns of 'retain predict' and 'retain
    report', and the terms behind them (order, period, rfm, lifecycle ...). A name that is
    not known gets the close ones ('retain explain clv': historic_clv or predicted_clv).
    Given a customer (e-mail address or id), it shows everything retain decides about them:
    consent, the figures behind each segment, the prediction, and what every campaign does
    with them now, as 'retain plan' decides it. Examples:

        retain explain retention_rate
        retain explain ada@example.com
    """
    if name is not None:
        from retain_cli.cli.trust import explain_customer_command

        shown = explain_customer_command(
            ctx, name, fmt=fmt, config=config, as_of=as_of, now=now, db=db
        )
        if shown:
            return
    from retain_cli.analytics.definitions import explain

    rows = [{"name": d.name, "unit": d.unit, "definition": d.text} for d in explain(name)]
    if fmt is not OutputFormat.table:
        render_rows(rows, ["name", "unit", "definition"], fmt)
        return
    from rich.padding import Padding
    from rich.text import Text

    for row in rows:
        console.print(Text(row["name"], style="bold"))
        console.print(Padding(Text(row["definition"]), (0, 0, 1, 2), expand=False))


# --- cohorts --------------------------------------------------------------------------------


def _shade(value: float | None, top: float) -> str:
    if value is None or top <= 0:
        return ""
    x = max(0.0, min(1.0, value / top))
    low, high = (242, 246, 242), (0, 104, 55)
    rgb = [round(a + (b - a) * x) for a, b in zip(low, high, strict=True)]
    ink = "white" if x > 0.55 else "black"
    return f"{ink} on rgb({rgb[0]},{rgb[1]},{rgb[2]})"


def cohorts_command(
    ctx: typer.Context,
    by: Annotated[
        CohortBy, typer.Option("--by", help="Cohort period: month, quarter or ISO week.")
    ] = CohortBy.month,
    value: Annotated[
        CohortValue,
        typer.Option(
            "--value", help="customers: share of the cohort ordering; revenue: its net revenue."
        ),
    ] = CohortValue.customers,
    last: Annotated[
        int | None,
        typer.Option("--last", min=0, help="Only the N most recent cohorts.", show_default=False),
    ] = None,
    revenue: RevenueOption = RevenueChoice.gross,
    as_of: AsOfOption = None,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Acquisition cohorts: cell (c, k) is the share of cohort c that ordered k periods later.

    Cohorts are customers grouped by the period of their first order. The period holding
    --as-of is not over yet: its cells count the orders so far and are marked with a * (in
    csv and json, each row's incomplete_from names that offset; empty when the period is
    over). csv and json have the columns cohort, size, one per period offset 0, 1, 2 ...,
    then incomplete_from. Example:

        retain cohorts --by quarter --value revenue --format csv
    """
    from retain_cli.analytics.cohorts import cohorts

    store = open_store(ctx, db)
    result = cohorts(
        store,
        parse_as_of(as_of),
        by=by.value,
        value=value.value,
        last=last,
        revenue=revenue.value,
    )
    if fmt is not OutputFormat.table:
        render_rows(result.rows, result.columns, fmt)
        return
    if not result.rows:
        console.print("No orders yet; import some with 'retain import orders FILE'.")
        return
    offsets = [str(k) for k in result.offsets]
    cell_width = 8 if value is CohortValue.customers else 11
    fits = max(1, (console.width - 22) // cell_width)
    hidden = len(offsets) - fits
    offsets = offsets[:fits]
    cells = [r[k] for r in result.rows for k in offsets[1:] if r.get(k) is not None]
    if value is CohortValue.revenue:
        cells += [r["0"] for r in result.rows if r.get("0") is not None]
    top = max(cells, default=0.0)
    unit = {"month": "months", "quarter": "quarters", "week": "weeks"}[by.value]
    what = (
        "share of each cohort ordering"
        if value is CohortValue.customers
        else f"revenue ({revenue.value}) of each cohort"
    )
    console.print(escape(f"Cohorts by first-order {by.value}: {what} k {unit} later"), style="bold")
    notes = []
    if result.current is not None:
        day = parse_as_of(as_of).date().isoformat()
        notes.append(f"* {result.current} is not over: counted up to {day}")
    if hidden > 0:
        notes.append(
            f"{hidden} later {unit} not shown: use a wider terminal, --last N, or --format csv"
        )
    table = Table(header_style="bold")
    table.add_column("cohort", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    for k in offsets:
        table.add_column(k, justify="right", no_wrap=True)
    for row in result.rows:
        line = [escape(row["cohort"]), f"{row['size']:,}"]
        for k in offsets:
            cell = row.get(k)
            if cell is None:
                line.append("")
                continue
            text = f"{cell * 100:.0f}%" if value is CohortValue.customers else f"{cell:,.0f}"
            if row.get("incomplete_from") == int(k):
                line.append(f"[dim]{text}*[/]")
                continue
            style = "bold" if (k == "0" and value is CohortValue.customers) else _shade(cell, top)
            line.append(f"[{style}]{text} [/]" if style else f"{text} ")
        table.add_row(*line)
    console.print(table)
    for note in notes:
        console.print(escape(note), style="dim")


# --- segments -------------------------------------------------------------------------------

segments_app = typer.Typer()


@segments_app.callback(invoke_without_command=True)
def segments_command(
    ctx: typer.Context,
    scheme: SchemeOption = Scheme.rfm,
    segments_file: SegmentsOption = None,
    as_of: AsOfOption = None,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Customer segments (RFM, lifecycle, custom): one row per segment; check; moves.

    Columns: segment, customers, share, revenue, avg_orders (csv and json start with the
    scheme). rfm and lifecycle both have an at_risk and a lost segment, with different
    members: elsewhere (campaigns, 'customers list --segment') write them with their scheme,
    rfm:at_risk or lifecycle:at_risk. This only reads: the snapshots that campaign triggers
    compare are kept by 'retain send'. 'retain explain rfm' and 'retain explain lifecycle'
    give the rules. Example:

        retain segments --scheme lifecycle --as-of 2025-09-30
    """
    if ctx.invoked_subcommand is not None:
        ctx.obj = {**(ctx.find_root().obj or {}), "segments": segments_file}
        return
    from retain_cli.analytics.segments import SegmentReport, segments_report

    store = open_store(ctx, db)
    report = segments_report(store, scheme.value, parse_as_of(as_of), segments_file=segments_file)
    columns = list(SegmentReport.columns)
    if fmt is not OutputFormat.table:
        rows = [{"scheme": scheme.value, **r} for r in report.rows]
        render_rows(rows, ["scheme", *columns], fmt)
        return
    shown = [
        {**r, "share": None if r["share"] is None else f"{r['share'] * 100:.1f}%"}
        for r in report.rows
    ]
    render_rows(
        shown,
        columns,
        fmt,
        title=f"{scheme.value} segments as of {report.as_of.date().isoformat()} "
        f"({report.customers:,} customers)",
    )
    if report.note:
        console.print(escape(report.note), style="dim")
    if scheme is not Scheme.custom:
        other = "lifecycle" if scheme is Scheme.rfm else "rfm"
        console.print(
            escape(
                f"In campaigns and --segment: {scheme.value}:NAME ({other} has at_risk and "
                "lost too)"
            ),
            style="dim",
        )


@segments_app.command("check")
def check_command(
    ctx: typer.Context,
    scheme: Annotated[
        Scheme | None,
        typer.Option(
            "--scheme",
            help="rfm, lifecycle or custom (default: custom when the segments file exists, "
            "else rfm and lifecycle).",
            show_default=False,
        ),
    ] = None,
    segments_file: SegmentsOption = None,
    as_of: AsOfOption = None,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Lint a segment set: rules that never match, overlaps, customers or cells not covered.

    Without --scheme it checks the custom segments file (--segments, RETAIN_SEGMENTS,
    default ./segments.yaml, which 'retain init' writes), or the built-in rfm and lifecycle
    schemes when there is no such file. Exit 0 when clean, 3 when there are warnings (a
    segment that can never match or matches nobody, overlapping custom segments), 1 when a
    rule cannot be read. Without a database only the rules are checked. Example:

        retain segments check --segments segments.yaml
    """
    from retain_cli.analytics.custom_segments import segments_path
    from retain_cli.analytics.segment_check import Finding, check_segments
    from retain_cli.cli.options import db_path

    segments_file = segments_file or (ctx.obj or {}).get("segments")
    store = open_store(ctx, db) if db_path(ctx, db).exists() else None
    moment = parse_as_of(as_of)
    findings: list[Finding] = []
    if scheme is not None:
        schemes = [scheme.value]
    elif segments_path(segments_file).exists():
        schemes = ["custom"]
    else:
        schemes = ["rfm", "lifecycle"]
        findings.append(
            Finding(
                "info",
                "custom",
                f"no segments file at {segments_path(segments_file)}, so the built-in "
                "schemes are checked; 'retain init' writes an example",
            )
        )
    for name in schemes:
        findings += check_segments(store, name, moment, segments_file=segments_file)
    rows = [f.row() for f in findings]
    styles = {"level": lambda v: {"error": "red", "warning": "yellow"}.get(str(v), "dim")}
    render_rows(
        rows,
        ["level", "segment", "finding"],
        fmt,
        title=f"segments check ({', '.join(schemes)})",
        styles=styles,
        empty="No problems found.",
    )
    if any(f.level == "error" for f in findings):
        raise typer.Exit(EXIT_FAILED)
    if any(f.level == "warning" for f in findings):
        raise typer.Exit(EXIT_PARTIAL)


@segments_app.command("moves")
def moves_command(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help="Earlier date YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Later date YYYY-MM-DD.")],
    scheme: SchemeOption = Scheme.rfm,
    segments_file: SegmentsOption = None,
    fmt: FormatOption = OutputFormat.table,
    wide: WideOption = False,
    db: DbOption = None,
) -> None:
    """Transition matrix: how many customers moved from each segment to each other one.

    Uses the snapshots kept by 'retain send' where there is one; a date without one is
    computed from the order history up to the end of that day. It only reads: nothing it
    computes is kept, so it never changes what a campaign trigger sees. csv/json give one
    row per move: from_segment, to_segment, customers. Example:

        retain segments moves --from 2025-06-30 --to 2025-09-30 --scheme lifecycle
    """
    from retain_cli.analytics.segment_snapshots import moves, parse_day

    segments_file = segments_file or (ctx.obj or {}).get("segments")
    store = open_store(ctx, db)
    result = moves(
        store,
        scheme.value,
        parse_day(start, "--from"),
        parse_day(end, "--to"),
        segments_file=segments_file,
    )
    if fmt is not OutputFormat.table:
        render_rows(result.rows(), ["from_segment", "to_segment", "customers"], fmt)
        return
    if not any(result.counts.values()):
        console.print("No customers yet; import some with 'retain import'.")
        return
    used = {name for pair, n in result.counts.items() if n for name in pair}
    names = [s for s in result.segments if s in used]
    lines = []
    for a in names:
        counts = [result.counts.get((a, b), 0) for b in names]
        if not sum(counts):
            continue
        cells = [
            Text(f"{n:,}" if n else "", style="bold" if a == b else "")
            for b, n in zip(names, counts, strict=True)
        ]
        lines.append((a, [*cells, Text(f"{sum(counts):,}")]))
    render_matrix(
        f"{scheme.value}: from {result.start} (rows) to {result.end} (columns)",
        names,
        lines,
        corner="from \\ to",
        extra=["total"],
        wide=wide,
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("metrics")(metrics_command)
    app.command("explain")(explain_command)
    app.command("cohorts")(cohorts_command)
    app.add_typer(segments_app, name="segments")
