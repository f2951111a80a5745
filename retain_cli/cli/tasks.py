"""Commands: ``retain tasks`` (list, ``show``, ``done``, ``snooze``) and ``retain digest``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from retain_cli.cli.campaigns import ConfigOption
from retain_cli.cli.options import DbOption, FormatOption, NowOption, OutputFormat, open_store
from retain_cli.cli.output import console, err_console, render_mapping, render_rows, write_json

PANEL = "Your day"
LIST_COLUMNS = ["id", "due", "who", "title"]
ALL_COLUMNS = [
    "id",
    "state",
    "due_at",
    "kind",
    "customer_id",
    "email",
    "who",
    "title",
    "detail",
    "action",
]


def shop_clock(ctx: typer.Context, now: str | None, config: Path | None) -> datetime:
    """The command's moment (``--now`` / RETAIN_NOW read in the shop's time zone, else the
    real time) and the shop's time zone from the campaign file (UTC without one)."""
    from retain_cli.campaigns.config import config_path, shop_settings
    from retain_cli.cli.options import run_clock

    timezone = shop_settings(config_path(config)).timezone
    return run_clock(ctx, now, timezone).now()


def shop_timezone(config: Path | None) -> str:
    from retain_cli.campaigns.config import config_path, shop_settings

    return shop_settings(config_path(config)).timezone


TaskId = Annotated[int, typer.Argument(help="The task's id (see 'retain tasks').", min=1)]

tasks_app = typer.Typer(
    help="Your to-do list: the customers who need a personal touch.", no_args_is_help=False
)


@tasks_app.callback(invoke_without_command=True)
def tasks(
    ctx: typer.Context,
    everything: Annotated[bool, typer.Option("--all", help="Snoozed and done tasks too.")] = False,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="Only this kind: reply, detractor, negative_comment, vip_at_risk, "
            "send_failed, send_ambiguous, campaign_step.",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    db: DbOption = None,
    now: NowOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Your open tasks, the earliest due first.

    Tasks are made by rules from what retain knows: a customer's reply (answer it within a
    day), a detractor or a negative comment in a survey answer (within 48 hours; no campaign
    writes to them until the task is done), a VIP (rfm champions, or the top tenth by
    predicted value) entering at-risk, a failed or ambiguous send, and each 'channel: task'
    step of a campaign. The rules run each time you list the tasks (and in 'retain digest'),
    and make each task once.

    Example: retain tasks --kind detractor
    """
    if ctx.invoked_subcommand is not None:
        return
    from retain_cli.tasks import list_tasks, refresh
    from retain_cli.tasks.todo import due_in

    moment = shop_clock(ctx, now, config)
    store = open_store(ctx, db)
    made = refresh(store, moment)
    rows = list_tasks(store, moment, everything=everything, kind=kind)
    for row in rows:
        row["due"] = "done" if row["state"] == "done" else due_in(row, moment)
        if row["state"] == "snoozed":
            row["due"] = f"snoozed to {row['snoozed_until'][:10]}"
    if fmt is not OutputFormat.table:
        render_rows(rows, ALL_COLUMNS, fmt)
        return
    if made.total:
        console.print(f"{made.total} new task{'s' if made.total != 1 else ''}.")
    render_rows(
        rows,
        LIST_COLUMNS,
        fmt,
        title="Tasks",
        styles={"due": lambda v: "bold red" if "overdue" in str(v) else "default"},
        empty="Nothing to do: no open tasks.",
    )
    for note in made.notes:
        err_console.print(f"[dim]{escape(note)}[/]")
    if rows:
        console.print("[dim]'retain tasks show ID' for the customer and what to do.[/]")


@tasks_app.command("show")
def show(
    ctx: typer.Context,
    task_id: TaskId,
    config: ConfigOption = None,
    db: DbOption = None,
    now: NowOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """One task with its customer's context, and what to do.

    Who they are, their segments, what they spent, their last orders, what they wrote lately.

    Example: retain tasks show 12
    """
    from retain_cli.tasks import task_detail

    moment = shop_clock(ctx, now, config)
    store = open_store(ctx, db)
    detail = task_detail(store, task_id, moment)
    if fmt is OutputFormat.json:
        write_json(detail.as_json())
        return
    task = detail.task
    if fmt is OutputFormat.csv:
        render_rows([task], [c for c in ALL_COLUMNS if c in task], fmt)
        return
    _show(detail.task, detail, moment)


def _show(task: dict[str, Any], detail: Any, moment: datetime) -> None:
    from retain_cli.tasks.todo import due_in

    when = "done " + task["done_at"] if task["done_at"] else due_in(task, moment)
    console.print(f"[bold]Task {task['id']}[/]: {escape(task['title'])}", overflow="fold")
    console.print(f"  {escape(task['kind'])}, due {escape(task['due_at'])} ({escape(when)})")
    if task["snoozed_until"] and not task["done_at"]:
        console.print(f"  snoozed until {escape(task['snoozed_until'])}")
    if task["detail"]:
        console.print("[bold]What happened[/]:")
        for line in str(task["detail"]).splitlines():
            console.print(f"  {escape(line)}", overflow="fold")
    console.print("[bold]Suggested action[/]:")
    for line in str(task["action"]).splitlines():
        console.print(f"  {escape(line)}", overflow="fold")
    if task["note"]:
        console.print(f"[bold]Your note[/]: {escape(task['note'])}", overflow="fold")
    if detail.customer:
        render_mapping(detail.customer, OutputFormat.table, title="Customer")
    if detail.orders:
        orders = [{**o, "day": str(o["ordered_at"])[:10]} for o in detail.orders]
        columns = ["day", "order_id", "items", "net"]
        render_rows(orders, columns, OutputFormat.table, title="Last orders")
    if detail.wrote:
        console.print("[bold]They wrote lately[/]:")
        for row in detail.wrote:
            score = f" (score {row['score']})" if row["score"] is not None else ""
            text = " ".join(str(row["excerpt"] or row["subject"] or "").split())
            console.print(
                f"  {escape(str(row['at'])[:10])}{score}: {escape(text[:300])}", overflow="fold"
            )
    for other in detail.other_tasks:
        console.print(f"[dim]Also open for them: task {other['id']}, {escape(other['title'])}[/]")


@tasks_app.command("done")
def done(
    ctx: typer.Context,
    task_id: TaskId,
    note: Annotated[
        str | None, typer.Option("--note", help="What you did (kept with the task).")
    ] = None,
    config: ConfigOption = None,
    db: DbOption = None,
    now: NowOption = None,
) -> None:
    """Mark a task done, with a note of what you did.

    A reply's message is marked handled; for a detractor, campaigns may write to them again.

    Example: retain tasks done 12 --note "called her, sending a new loaf"
    """
    from retain_cli.tasks import mark_done

    moment = shop_clock(ctx, now, config)
    store = open_store(ctx, db)
    task = mark_done(store, task_id, moment, note)
    console.print(f"Task {task['id']} done: {escape(task['title'])}", overflow="fold")


@tasks_app.command("snooze")
def snooze_command(
    ctx: typer.Context,
    task_id: TaskId,
    until: Annotated[
        str,
        typer.Option("--for", help="How long (3d, 12h, 1w) or until which day (YYYY-MM-DD)."),
    ] = "1d",
    config: ConfigOption = None,
    db: DbOption = None,
    now: NowOption = None,
) -> None:
    """Hide a task until later; it comes back in 'retain tasks' then.

    Example: retain tasks snooze 12 --for 3d
    """
    from retain_cli.tasks import snooze
    from retain_cli.tasks.todo import snooze_until

    moment = shop_clock(ctx, now, config)
    store = open_store(ctx, db)
    task = snooze(store, task_id, snooze_until(until, moment, shop_timezone(config)))
    console.print(f"Task {task['id']} snoozed until {escape(task['snoozed_until'])}.")


def digest(
    ctx: typer.Context,
    email: Annotated[
        bool, typer.Option("--email", help="E-mail it through the campaign file's transport.")
    ] = False,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Address for --email (default: sender.reply_to, else from)."),
    ] = None,
    hours: Annotated[
        int, typer.Option("--hours", min=1, max=24 * 31, help="The period it covers.")
    ] = 24,
    config: ConfigOption = None,
    db: DbOption = None,
    now: NowOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Your day on one page: sends, replies, detractors, VIPs at risk, tasks due, figures.

    What was sent and what failed, replies and survey answers, new detractors, the VIPs who
    entered at-risk, the tasks due, and the shop's figures from 'retain metrics'.

    Run it from cron after 'retain inbox' and 'retain send', with --email to get it as a mail
    (through the transport of the campaign file: with the outbox it is written there).

    Example: retain digest --email --to me@rosies.example
    """
    from retain_cli.campaigns.config import config_path, load_config
    from retain_cli.tasks.digest import mail_digest, make_digest

    moment = shop_clock(ctx, now, config)
    store = open_store(ctx, db)
    result = make_digest(store, moment, hours=hours, timezone=shop_timezone(config))
    if email:
        settings = load_config(config_path(config))
        address = mail_digest(settings, result, to)
        if settings.transport == "outbox":
            err_console.print(
                f"Digest for {escape(address)} written to the outbox "
                f"({escape(str(settings.outbox_dir / 'mail'))}), not e-mailed: the campaign "
                "file's transport is outbox."
            )
        else:
            err_console.print(f"Digest sent to {escape(address)}.")
        return
    if fmt is OutputFormat.json:
        write_json(result.as_json())
        return
    typer.echo(result.text(), nl=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(tasks_app, name="tasks", rich_help_panel=PANEL)
    app.command("digest", rich_help_panel=PANEL)(digest)
