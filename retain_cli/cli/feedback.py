"""Commands: ``retain feedback``, ``retain import responses FILE``; the feedback lines of
``retain metrics``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from retain_cli.cli.campaigns import ConfigOption
from retain_cli.cli.options import DbOption, FormatOption, NowOption, OutputFormat, open_store
from retain_cli.cli.output import console, render_mapping, render_rows, write_json
from retain_cli.cli.tasks import shop_clock

if TYPE_CHECKING:
    from retain_cli.store import Store

PANEL = "Mailbox and feedback"
GROUPS = {
    "nps": ("promoters", "passives", "detractors"),
    "csat": ("satisfied", "neutral", "unsatisfied"),
}


def feedback(
    ctx: typer.Context,
    days: Annotated[
        int, typer.Option("--days", min=1, max=3660, help="Answers of the last N days.")
    ] = 90,
    config: ConfigOption = None,
    db: DbOption = None,
    now: NowOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """What customers answered your surveys: NPS and CSAT, the trend, what they wrote.

    NPS is the share of promoters (9-10) minus the share of detractors (0-6), from -100 to
    100; CSAT the share of satisfied answers (4-5 of 5). Each comes with how many answered,
    the distribution, the 95% margin and, under 30 answers, a warning. Comments get a
    sentiment from VADER, which reads English only: comments in other languages are counted
    and left unscored, not guessed. Recurring themes are the words several comments share,
    with how many of them came from unhappy customers.

    Example: retain feedback --days 365
    """
    from retain_cli.campaigns.config import config_path, shop_settings
    from retain_cli.feedback.report import feedback_report

    moment = shop_clock(ctx, now, config)
    store = open_store(ctx, db)
    timezone = shop_settings(config_path(config)).timezone
    report = feedback_report(store, moment, days=days, timezone=timezone)
    if fmt is OutputFormat.json:
        write_json(report.as_json())
        return
    if fmt is OutputFormat.csv:
        render_rows(
            store.survey_responses(since=None),
            [
                "answered_at",
                "email",
                "campaign",
                "kind",
                "score",
                "comment",
                "language",
                "sentiment",
            ],
            fmt,
        )
        return
    console.print(
        f"[bold]Feedback[/], the last {days} days ({report.since:%Y-%m-%d} to "
        f"{report.until:%Y-%m-%d})"
    )
    if not report.scores:
        console.print("No survey answers yet: a survey campaign (survey: nps or csat) asks.")
        return
    for kind, result in report.scores.items():
        console.print(f"[bold]{escape(result.text())}[/]")
        counts = ", ".join(f"{name} {result.groups.get(name, 0)}" for name in GROUPS[kind])
        spread = " ".join(f"{k}:{v}" for k, v in result.distribution.items() if v)
        console.print(f"  {counts}; mean {result.mean}" if result.n else "", overflow="fold")
        if spread:
            console.print(f"  answers per score: {spread}", overflow="fold")
        if result.warning:
            console.print(f"  [yellow]{escape(result.warning)}[/]", overflow="fold")
        trend = report.trend.get(kind) or []
        if len(trend) > 1:
            render_rows(trend, ["month", "n", "score", "margin_95"], fmt, title="By month")
    _comments(report)


def _comments(report: Any) -> None:
    c = report.comments
    if not c["comments"]:
        console.print("No comments.")
        return
    text = (
        f"{c['comments']} comments: {c['positive']} positive, {c['neutral']} neutral, "
        f"{c['negative']} negative (sentiment by {c['model']})"
    )
    if c["unscored"]:
        langs = ", ".join(f"{k} {v}" for k, v in c["unscored_languages"].items())
        text += f"; {c['unscored']} unscored ({langs}): VADER reads English only"
    console.print(escape(text), overflow="fold")
    if report.themes:
        render_rows(
            report.themes,
            ["theme", "comments", "unhappy", "average_score"],
            OutputFormat.table,
            title="Recurring themes",
        )
    if report.negative:
        console.print("[bold]Latest negative answers[/] ('retain tasks' has a task for each):")
        for row in report.negative:
            console.print(
                f"  {escape(row['answered_at'][:10])} {escape(str(row['email']))} "
                f"{row['kind'].upper()} {row['score']}: {escape(row['comment'] or '')}",
                overflow="fold",
            )


def import_responses(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The form tool's CSV export.", show_default=False)],
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="FIELD=COLUMN: read FIELD (token, score, comment, answered_at) from COLUMN. "
            "Repeatable.",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Import survey answers from your form tool's CSV export, matched by token.

    A survey campaign with survey.form links each recipient to your form with their signed
    token (and the score they clicked); the form keeps the token in a hidden or prefilled
    field. Rows whose token matches no survey message, or whose score is off the scale, are
    listed and left out (exit code 3); importing the file again changes nothing.

    Example: retain import responses form_export.csv --map token=ref
    """
    from retain_cli.campaigns.config import config_path, load_config
    from retain_cli.feedback.answers import LISTED
    from retain_cli.feedback.answers import import_responses as run_import

    loaded = load_config(config_path(config))
    store = open_store(ctx, db)
    result = run_import(store, loaded, file, mapping=mapping or [])
    if fmt is OutputFormat.json:
        write_json({"summary": result.summary(), "problems": result.problems})
    else:
        render_mapping(result.summary(), fmt, title="Survey answers")
        if fmt is OutputFormat.table and result.problems:
            console.print("[bold]Left out[/]:")
            for line in result.problems[:LISTED]:
                console.print(f"  [yellow]{escape(line)}[/]", overflow="fold")
            if len(result.problems) > LISTED:
                console.print(f"  ... and {len(result.problems) - LISTED} more")
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def metrics_feedback(store: Store, as_of: datetime) -> list[dict[str, Any]]:
    """NPS and CSAT of the 90 days up to ``as_of``, for ``retain metrics``."""
    from retain_cli.feedback.report import headline

    return [result.as_dict() | {"text": result.text()} for result in headline(store, as_of)]


def print_metrics_feedback(store: Store, as_of: datetime) -> None:
    """The feedback lines under the metrics table."""
    for row in metrics_feedback(store, as_of):
        line = f"{row['text']}, the last 90 days ('retain feedback')"
        console.print(escape(line), overflow="fold")
        if row["warning"]:
            console.print(f"  [yellow]{escape(row['warning'])}[/]", overflow="fold")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app (responses to 'retain import')."""
    from retain_cli.cli.imports import import_app

    app.command("feedback", rich_help_panel=PANEL)(feedback)
    import_app.command("responses")(import_responses)
