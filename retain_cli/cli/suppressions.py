"""Commands: ``suppressions list`` and ``suppressions remove``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from retain_cli.cli.options import DbOption, FormatOption, OutputFormat, open_store
from retain_cli.cli.output import WideOption, console, render_table, short_times

suppressions_app = typer.Typer(no_args_is_help=True)

LIST_COLUMNS = ["email", "source", "created_at", "reason"]
LOG_COLUMNS = ["email", "at", "note", "source", "suppressed_at", "reason"]


@suppressions_app.command("list")
def list_suppressions(
    ctx: typer.Context,
    source: Annotated[
        str | None,
        typer.Option("--source", help="Only this source: bounce, inbox, cli, or an import's."),
    ] = None,
    removed: Annotated[
        bool,
        typer.Option("--removed", help="List the opt-outs lifted by hand instead, with notes."),
    ] = False,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
    wide: WideOption = False,
) -> None:
    """Every address no campaign writes to, with why and since when.

    Sources: bounce (the SMTP server said the mailbox does not exist), inbox (an unsubscribe request or bounce read by 'retain inbox'), cli ('retain unsubscribe'), or the platform whose export said so. --removed lists the opt-outs lifted with 'retain suppressions remove' instead, each with its note.

    Example: retain suppressions list --source bounce
    """  # noqa: E501
    store = open_store(ctx, db)
    if removed:
        render_table(
            store.suppression_log(),
            LOG_COLUMNS,
            fmt,
            wrap=("note", "reason"),
            drop=("suppressed_at", "source"),
            wide=wide,
            title="Opt-outs lifted by hand",
            empty="No opt-out has been lifted.",
        )
        return
    rows = store.suppressions_list(source)
    render_table(
        short_times(rows, "created_at", minutes=True) if fmt is OutputFormat.table else rows,
        LIST_COLUMNS,
        fmt,
        wrap=("reason",),
        drop=("source",),
        wide=wide,
        title="Suppressed addresses",
        empty=f"No address is suppressed{f' by {source!r}' if source else ''}.",
    )


@suppressions_app.command("remove")
def remove_suppression(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The suppressed address.", show_default=False)],
    note: Annotated[
        str,
        typer.Option("--note", help="Why the suppression was wrong (kept with the record)."),
    ] = ...,  # type: ignore[assignment]
    force: Annotated[
        bool,
        typer.Option("--force", help="Also lift an opt-out the customer asked for."),
    ] = False,
    db: DbOption = None,
) -> None:
    """Lift a wrong opt-out, such as a bounce a server sent for its own reasons.

    The address may get campaigns again; the opt-out it had and your note are kept (see 'retain suppressions list --removed'). An opt-out the customer asked for (an unsubscribe, an export's opt-out, 'retain unsubscribe') is lifted only with --force, when they asked to get mail again. Messages that failed to the address stay failed; send one again with 'retain sends resolve KEY --as retry'.

    Example: retain suppressions remove ada@example.com --note "the 550 was a relay error"
    """  # noqa: E501
    from retain_cli.campaigns.resolve import remove_suppression as lift

    store = open_store(ctx, db)
    lifted = lift(store, email, note, force=force)
    was = lifted.was
    console.print(
        f"Removed the suppression of {escape(lifted.email)} (source: {escape(was['source'])}, "
        f"since {escape(was['created_at'])}: {escape(was['reason'])}); campaigns may write "
        "to it again. Recorded with your note."
    )
    if lifted.failed_keys:
        keys = ", ".join(f"'{escape(k)}'" for k in lifted.failed_keys[:3])
        more = len(lifted.failed_keys) - 3
        console.print(
            f"Its failed sends stay failed ({keys}{f' and {more} more' if more > 0 else ''}); "
            "send one again with 'retain sends resolve KEY --as retry'."
        )
