"""Commands: ``customers list``, ``customers show``, ``status``, ``init`` and ``demo``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from retain_cli.analytics.customers import (
    DEFAULT_SORT,
    IMPORT_COLUMNS,
    LIST_COLUMNS,
    ORDER_COLUMNS,
    SortKey,
    customer_profile,
    list_customers,
    status,
)
from retain_cli.cli.options import AsOfOption, DbOption, FormatOption, OutputFormat, open_store
from retain_cli.cli.output import (
    WideOption,
    console,
    err_console,
    render_mapping,
    render_rows,
    render_table,
    write_json,
)
from retain_cli.cli.output import short_times as _short_times
from retain_cli.errors import EXIT_PARTIAL, UsageError
from retain_cli.timeutil import parse_as_of

customers_app = typer.Typer(
    help=(
        "Look at your customers: a list with orders and spend, or one customer in full.\n\n"
        "Example: retain customers show ada@example.com"
    ),
    no_args_is_help=True,
)

# a table is for reading: without --limit it stops here (csv and json give every row)
TABLE_LIMIT = 100

# what goes first when a table is wider than the terminal (--wide shows it)
LIST_DROP = ("first_order_at", "customer_id", ("first_name", "last_name"), "last_order_at")
ORDER_DROP = ("cancelled_at", "currency", "total", "refunded", "status")
IMPORT_DROP = ("unchanged", "updated", "inserted", "warnings", "rejected", "rows")


def _shown(path: Path) -> str:
    """A path as the user will recognise it: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@customers_app.command("list")
def list_command(
    ctx: typer.Context,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            "-n",
            min=0,
            help=f"At most N customers (default: all; a table stops at {TABLE_LIMIT}).",
        ),
    ] = None,
    sort: Annotated[
        SortKey,
        typer.Option("--sort", help="Order of the list; ties go to the most recent order."),
    ] = DEFAULT_SORT,
    as_of: AsOfOption = None,
    segment: Annotated[
        str | None,
        typer.Option(
            "--segment",
            help="Only the members of this segment at --as-of: champions, lapsing, a custom "
            "one, or with its scheme: rfm:at_risk, lifecycle:at_risk (see 'retain segments').",
            show_default=False,
        ),
    ] = None,
    segments_file: Annotated[
        Path | None,
        typer.Option(
            "--segments",
            envvar="RETAIN_SEGMENTS",
            help="Custom segments YAML for --segment (default ./segments.yaml).",
            show_default=False,
        ),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    wide: WideOption = False,
    db: DbOption = None,
) -> None:
    """List customers with their orders and net spend, biggest spenders first.

    orders and total_spent count orders that were not cancelled, minus refunds; customers
    without orders show 0. Example:

        retain customers list --limit 10 --sort last_order
        retain customers list --segment lifecycle:at_risk --format csv
    """
    store = open_store(ctx, db)
    moment = parse_as_of(as_of) if as_of is not None else None
    wanted = limit
    if fmt is OutputFormat.table and limit is None:
        wanted = TABLE_LIMIT + 1
    refs = None
    title = None
    if segment is not None:
        from retain_cli.analytics.segments import qualified_name, segment_members

        when = moment if moment is not None else parse_as_of(None)
        refs = segment_members(store, segment, when, segments_file)
        segment = qualified_name(segment, segments_file)
        count = f"{len(refs):,} customer{'' if len(refs) == 1 else 's'}"
        title = f"Segment {segment} as of {when.date().isoformat()}: {count}"
    rows = list_customers(store, limit=wanted, sort=sort, as_of=moment, refs=refs)
    more = fmt is OutputFormat.table and limit is None and len(rows) > TABLE_LIMIT
    rows = rows[:TABLE_LIMIT] if more else rows
    empty = "No customers yet; import some with 'retain import'."
    if segment is not None:
        empty = f"No customers in segment {segment!r}."
    if limit == 0:
        empty = "Nothing to show."
    table = fmt is OutputFormat.table
    shown = _short_times(rows, "first_order_at", "last_order_at") if table else rows
    render_table(shown, LIST_COLUMNS, fmt, empty=empty, title=title, drop=LIST_DROP, wide=wide)
    if more:
        console.print(
            f"[dim]First {TABLE_LIMIT} shown; use --limit N, or --format csv for all.[/dim]"
        )


@customers_app.command("show")
def show_command(
    ctx: typer.Context,
    customer: Annotated[
        str,
        typer.Argument(help="E-mail address, customer id, or a platform's customer id."),
    ],
    fmt: FormatOption = OutputFormat.table,
    wide: WideOption = False,
    db: DbOption = None,
) -> None:
    """Show one customer: ids, consent, address, tags, sources, and every order.

    Cancelled orders are listed with their cancelled_at and count for nothing. --format json
    gives the profile with an orders_history list; --format csv gives the orders only.
    Example:

        retain customers show ada@example.com
    """
    store = open_store(ctx, db)
    profile = customer_profile(store, customer)
    if fmt is OutputFormat.json:
        write_json(profile.as_json())
        return
    if fmt is OutputFormat.csv:
        render_rows(profile.history, ORDER_COLUMNS, fmt)
        return
    render_mapping(profile.summary(), fmt, title=f"Customer {profile.customer_id}")
    history = _short_times(profile.history, "ordered_at", "cancelled_at")
    render_table(
        history,
        ORDER_COLUMNS,
        fmt,
        title="Orders",
        empty="No orders yet.",
        drop=ORDER_DROP,
        wide=wide,
    )


@customers_app.command("merge")
def merge_command(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(help="The old address (or customer id): merged away.")],
    new: Annotated[str, typer.Argument(help="The new address (or customer id): kept.")],
    db: DbOption = None,
) -> None:
    """Merge two customers who are one person whose e-mail address changed.

    The orders, the send ledger (so nobody is welcomed twice or sent a one-off campaign
    again), platform ids and segment history of OLD move to NEW; NEW keeps its own details
    and takes OLD's where it has none, and the earlier sign-up. An opt-out of either address
    stays: if OLD had opted out, NEW is not mailed either. Later imports that still show the
    old address find NEW. An import says when two customers look like this.

    Example: retain customers merge ada@old.example ada@new.example
    """
    from retain_cli.imports.identity import merge

    store = open_store(ctx, db)
    merged = merge(store, old, new)
    console.print(
        f"Merged {escape(merged.old)} into {escape(merged.new)}: {merged.orders:,} order(s) "
        f"and {merged.sends:,} send(s) moved; later imports of {escape(merged.old)} find "
        f"{escape(merged.new)}."
    )
    if merged.suppressed:
        console.print(
            f"{escape(merged.old)} had opted out, so {escape(merged.new)} is unsubscribed too."
        )


def status_command(
    ctx: typer.Context,
    fmt: FormatOption = OutputFormat.table,
    wide: WideOption = False,
    db: DbOption = None,
) -> None:
    """Summarise the database: customers, consent, orders, date range, revenue, imports.

    with_consent counts customers who accept marketing, have an e-mail address and are not
    suppressed (who the campaigns may mail); revenue is net of refunds, cancelled orders left
    out. --format json adds recent_imports. Example:

        retain status --format json
    """
    from retain_cli.trust.privacy import permission_problem

    store = open_store(ctx, db)
    report = status(store)
    problem = permission_problem(store.path)
    if problem:
        err_console.print(f"[bold yellow]Warning: {escape(problem)}[/]")
    if fmt is OutputFormat.json:
        write_json({**report.summary, "recent_imports": report.imports})
        return
    render_mapping(report.summary, fmt, title="retain status")
    if fmt is OutputFormat.table:
        imports = _short_times(report.imports, "started_at", minutes=True)
        columns = [c for c in IMPORT_COLUMNS if c != "source"]  # json keeps it
        render_table(
            imports,
            columns,
            fmt,
            title="Recent imports",
            empty="No imports yet.",
            drop=IMPORT_DROP,
            wide=wide,
        )


def _note_other_database(ctx: typer.Context, created: Path) -> None:
    """Warn when --db or RETAIN_DB sends the other commands to another file than ``created``."""
    root = ctx.find_root().obj
    chosen = root.get("db") if isinstance(root, dict) else None
    if chosen is None or Path(chosen).resolve() == created.resolve():
        return
    where = _shown(created)
    typer.echo(
        f"Note: {ctx.info_name} created {where}, but --db/RETAIN_DB points the other "
        f"commands at {_shown(Path(chosen))}; run them with --db {where} (or change RETAIN_DB)",
        err=True,
    )


def init_command(
    ctx: typer.Context,
    directory: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", help="Folder to set up (created if missing).", show_default=True
        ),
    ] = Path("."),
) -> None:
    """Set up a folder: retain.db, campaigns.yaml, segments.yaml, templates/; nothing overwritten.

    Files that already exist are kept as they are. The database is always DIR/retain.db
    (--db and RETAIN_DB do not apply). Example:

        retain init myshop && cd myshop && retain import customers customers_export.csv
    """
    from retain_cli.project import init_project

    result = init_project(directory)
    for path in result.created:
        console.print(f"created {escape(_shown(path))}")
    for path in result.kept:
        console.print(f"kept    {escape(_shown(path))} (already there)")
    if result.missing_examples:
        console.print("[dim]No example campaign file or templates in this install.[/dim]")
    _note_other_database(ctx, directory / "retain.db")


def demo_command(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="Folder for the demo shop.")
    ] = Path("demo"),
    customers: Annotated[
        int, typer.Option("--customers", min=1, max=1_000_000, help="How many customers.")
    ] = 500,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same shop.")] = 1,
    today: Annotated[
        str | None,
        typer.Option(
            "--today",
            help="The day the demo takes as today, YYYY-MM-DD (default: the real today). "
            "Orders run up to the day before; the same seed and day give identical files.",
        ),
    ] = None,
) -> None:
    """Create a sample bakery shop in a folder and import it, to try every command.

    Runs init in DIR, writes Shopify customers and orders exports (and a birthday sheet, an
    opt-out list and newsletter sign-ups) to DIR/exports/, and imports them into
    DIR/retain.db (--db and RETAIN_DB do not apply). Example:

        retain demo demo --customers 2000 --seed 7 && cd demo && retain status
    """
    from retain_cli.demo import run_demo

    day = None
    if today is not None:
        try:
            day = date.fromisoformat(today)
        except ValueError:
            raise UsageError(f"--today {today!r} is not a date; use YYYY-MM-DD") from None
    result = run_demo(directory, customers=customers, seed=seed, today=day)
    for path in result.init.created:
        console.print(f"created {escape(_shown(path))}")
    for path in result.exports:
        console.print(f"wrote   {escape(_shown(path))}")
    render_mapping(result.summary(), OutputFormat.table, title="Demo shop")
    root = ctx.find_root().command
    known = set(getattr(root, "commands", {}))
    console.print("Next, try:")
    console.print(f"  cd {escape(_shown(directory))}")
    for command in result.next_commands:
        if command.split()[1] in known:
            console.print(f"  {escape(command)}")
    _note_other_database(ctx, directory / "retain.db")
    if result.rejected:
        raise typer.Exit(EXIT_PARTIAL)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(customers_app, name="customers")
    app.command("status")(status_command)
    app.command("init")(init_command)
    app.command("demo")(demo_command)
