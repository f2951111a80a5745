"""Command: ``retain inbox`` (and ``--explain ADDRESS``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from retain_cli.cli.campaigns import ConfigOption
from retain_cli.cli.options import DbOption, FormatOption, OutputFormat, QuietOption, open_store
from retain_cli.cli.output import console, err_console, render_mapping, render_rows, write_json

EXPLAIN_COLUMNS = [
    "received_at",
    "processed_at",
    "classification",
    "action",
    "reason",
    "message_id",
    "subject",
]
MAX_LISTED = 20


def inbox(
    ctx: typer.Context,
    from_maildir: Annotated[
        Path | None,
        typer.Option(
            "--from-maildir",
            help="Read this maildir folder (cur/, new/) instead of the IMAP mailbox; the "
            "folder is left as it is.",
            show_default=False,
        ),
    ] = None,
    explain_address: Annotated[
        str | None,
        typer.Option(
            "--explain",
            metavar="ADDRESS",
            help="Show why ADDRESS is suppressed and every message about it; reads nothing.",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    db: DbOption = None,
    quiet: QuietOption = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Read the shop's mailbox: replies, unsubscribe requests and bounces come back into retain.

    Run it from cron before 'retain send' (the line 'retain cron' prints does). Each new message is classified once: an unsubscribe request (a mail to the unsubscribe address, or a subject or first line such as "unsubscribe", "abmelden", "stop") suppresses the address; a bounce report (read with flufl.bounce) suppresses the address when the failure is permanent, and counts it when it is temporary (suppressed after mailbox.soft_bounce_limit of them); an auto-reply is ignored; a reply that starts with a score, to a survey, is the customer's answer; anything else is a reply, linked to the customer and to the campaign message it answers, and a customer's reply becomes a task ('retain tasks').

    Messages are marked with a keyword (mailbox.processed_flag) or moved to
    mailbox.processed_folder, never deleted and never marked read. A run can be stopped at
    any point and run again: a message is recorded once. The IMAP password comes from
    $RETAIN_IMAP_PASSWORD (mailbox.password_env) or the keyring, never from the file. Exit
    code 3 when some messages could not be used (malformed, a bounce that matches nothing);
    they stay in the mailbox and are listed.

    Example: retain inbox --explain ada@example.com
    """  # noqa: E501
    from retain_cli.campaigns.config import config_path
    from retain_cli.mailbox import explain, run_inbox

    store = open_store(ctx, db, create=True)
    if explain_address is not None:
        _render_explain(explain(store, explain_address), fmt)
        return
    progress_bar = None
    callback = None
    if not quiet and err_console.is_terminal and fmt is OutputFormat.table:
        from rich.progress import Progress

        progress_bar = Progress(console=err_console, transient=True)
        task = progress_bar.add_task("Reading the mailbox", total=None)

        def callback(done: int) -> None:
            progress_bar.advance(task, done)

        progress_bar.start()
    try:
        result = run_inbox(store, config_path(config), maildir=from_maildir, progress=callback)
    finally:
        if progress_bar is not None:
            progress_bar.stop()
    if fmt is OutputFormat.json:
        write_json(
            {
                "summary": result.summary(),
                "suppressed": result.suppressed,
                "problems": result.problems,
                "notes": result.notes,
            }
        )
    else:
        render_mapping(result.summary(), fmt, title="Inbox")
        if fmt is OutputFormat.table:
            _list("Suppressed", result.suppressed, "green")
            _list("Not a customer (recorded)", result.notes, "default")
            _list("Could not be used (left in the mailbox)", result.problems, "yellow")
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _list(title: str, lines: list[str], style: str) -> None:
    if not lines:
        return
    console.print(f"[bold]{escape(title)}[/]:")
    for line in lines[:MAX_LISTED]:
        console.print(f"  [{style}]{escape(line)}[/]", overflow="fold")
    if len(lines) > MAX_LISTED:
        console.print(f"  ... and {len(lines) - MAX_LISTED:,} more")


def _render_explain(data: dict[str, Any], fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        write_json(data)
        return
    if fmt is OutputFormat.csv:
        render_rows(data["messages"], EXPLAIN_COLUMNS, fmt)
        return
    address = escape(data["email"])
    customer = data["customer_id"]
    if customer is None:
        who = " (not a customer)"
    elif customer == data["email"]:
        who = " (a customer)"
    else:
        who = f" (customer {escape(str(customer))})"
    suppression = data["suppression"]
    if suppression is None:
        console.print(f"{address}{who} is not suppressed.")
    else:
        console.print(
            f"{address}{who} is suppressed since {escape(suppression['created_at'])} "
            f"(source: {escape(suppression['source'])}): {escape(suppression['reason'])}"
        )
    if not data["messages"]:
        console.print("No message in the mailbox was about this address.")
        return
    console.print(f"Messages about {address}:")
    for row in data["messages"]:
        when = row["received_at"] or row["processed_at"]
        console.print(
            f"  {escape(when)}  {escape(row['classification'])}, {escape(row['action'])}  "
            f"{escape(row['message_id'] or '(no Message-ID)')}",
            overflow="fold",
        )
        console.print(f"    {escape(row['reason'])}", overflow="fold")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("inbox", rich_help_panel="Mailbox and feedback")(inbox)
