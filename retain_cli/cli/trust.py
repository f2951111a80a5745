"""Commands: ``explain CUSTOMER`` (through ``explain``), ``customers export``, ``customers
erase``, ``purge``, ``audit log``, ``audit fairness`` and ``doctor``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from retain_cli.cli.customers import customers_app
from retain_cli.cli.options import (
    DbOption,
    FormatOption,
    NowOption,
    OutputFormat,
    db_path,
    open_store,
    run_clock,
)
from retain_cli.cli.output import console, err_console, render_rows, write_json
from retain_cli.cli.trust_checks import doctor_command, fairness_command, shop_timezone
from retain_cli.errors import EXIT_FAILED, UsageError

if TYPE_CHECKING:
    from retain_cli.trust.explain import Explanation

PANEL = "Trust"
CustomerArgument = Annotated[
    str, typer.Argument(help="E-mail address, customer id, or a platform's customer id.")
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first (for scripts).")]


def _interactive() -> bool:
    return sys.stdin.isatty()


def _lines(rows: list[tuple[str, str]], title: str) -> None:
    """A section: bold title, then label and text; labels never wrap, text folds."""
    table = Table(title=escape(title), title_justify="left", show_header=False, box=None)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for label, text in rows:
        table.add_row(escape(label), escape(text))
    console.print(table)


# --- explain CUSTOMER ------------------------------------------------------------------------


def explain_customer_command(
    ctx: typer.Context,
    name: str,
    *,
    fmt: OutputFormat,
    config: Path | None,
    as_of: str | None,
    now: str | None,
    db: Path | None,
) -> bool:
    """``retain explain NAME`` when NAME is a customer (or looks like an address): explain
    them and return True; False leaves NAME to the metric definitions."""
    from retain_cli.analytics.definitions import explain as definitions

    try:
        definitions(name)
        return False  # a metric or term
    except UsageError:
        pass
    text = name.strip()
    looks_like_customer = "@" in text or text.lstrip("#").isdigit()
    if not looks_like_customer and not db_path(ctx, db).exists():
        return False
    store = open_store(ctx, db)
    if not looks_like_customer and store.find_customer_ref(text) is None:
        return False
    from retain_cli.campaigns.config import config_path
    from retain_cli.timeutil import parse_as_of, zone
    from retain_cli.trust.explain import explain_customer, read_campaigns

    file = config_path(config)
    campaigns = read_campaigns(file)  # read once: its time zone, then its campaigns
    timezone = campaigns[0].timezone if campaigns[0] is not None else shop_timezone(file)
    clock = run_clock(ctx, now, timezone)
    moment = parse_as_of(as_of, tz=zone(timezone)) if as_of else None
    result = explain_customer(
        store, text, config_file=file, as_of=moment, clock=clock, campaigns=campaigns
    )
    if fmt is OutputFormat.json:
        write_json(result.as_json())
    elif fmt is OutputFormat.csv:
        rows = [
            {**d.as_dict(), "blocked_by": ", ".join(k for k, _ in d.blocks), "blocked": d.blocked}
            for d in result.decisions
        ]
        render_rows(rows, _DECISION_COLUMNS, fmt)
    else:
        _show_explanation(result)
    return True


_DECISION_COLUMNS = [
    "campaign",
    "step",
    "status",
    "reason",
    "due_on",
    "note",
    "blocked_by",
    "blocked",
    "key",
]


def _show_explanation(result: Explanation) -> None:
    from retain_cli.timeutil import zone

    local = result.as_of.astimezone(zone(result.timezone))
    console.print(
        f"[bold]{escape(result.customer_id)}[/bold] as of {local:%Y-%m-%d %H:%M} "
        f"{escape(result.timezone)}"
    )
    for section in result.sections:
        _lines(section.rows, section.title)
        console.print()
    if result.decisions:
        table = Table(title="Campaigns (as 'retain plan' decides now)", title_justify="left")
        table.add_column("campaign", no_wrap=True)
        table.add_column("step", justify="right", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("why", overflow="fold")
        for d in result.decisions:
            step = "" if d.step is None else str(d.step)
            why = d.reason or ("due now" if d.status == "due" else "")
            if d.note:
                why += f" ({d.note})"
            if d.blocks:
                why += f"; {d.blocked}"
            table.add_row(escape(d.campaign), step, escape(d.status), escape(why))
        console.print(table)
    for note in result.notes:
        console.print(f"[dim]{escape(note)}[/dim]")


# --- customers export / erase -----------------------------------------------------------------


@customers_app.command("export")
def export_command(
    ctx: typer.Context,
    customer: CustomerArgument,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the JSON to this file (readable by you only); default: the screen.",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Export everything retain holds about one person, as JSON (a data-subject request).

    The customer record, platform ids, old addresses, orders with their items, every message
    in the send ledger, opt-outs, mail read from the mailbox, the consent history and what
    other tables hold about them. The export itself is written to the audit log. Example:

        retain customers export ada@example.com --output ada.json
    """
    import json

    from retain_cli.trust.privacy import export_customer, write_private

    store = open_store(ctx, db)
    destination = f"written to {output.name}" if output else "shown on the screen"
    data = export_customer(store, customer, destination=destination)
    if output is None:
        write_json(data)
        return
    write_private(output, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    err_console.print(
        f"Wrote {escape(str(output))}: {len(data['orders']):,} orders, "
        f"{len(data['messages']):,} messages (readable by you only)."
    )


@customers_app.command("erase")
def erase_command(
    ctx: typer.Context,
    customer: CustomerArgument,
    yes: YesOption = False,
    db: DbOption = None,
) -> None:
    """Erase one person's personal data; keep their orders under a pseudonym.

    Name, address, phone, birthday, notes, platform ids, old addresses and mail about them
    are removed. Their orders and message records stay under the pseudonym erased-ID, so
    revenue, retention and every other figure stay as they were. Their address is kept only
    as a salted hash, so an export imported later that still lists them never mails them.
    In a terminal it asks first; --yes for scripts. Example:

        retain customers erase ada@example.com --yes
    """
    from retain_cli.trust.privacy import erase_customer, erase_preview

    store = open_store(ctx, db)
    preview = erase_preview(store, customer)
    who = preview["email"] or preview["customer_id"]
    if not yes:
        if not _interactive():
            raise UsageError(
                f"erasing {who} cannot be undone; run it in a terminal to confirm, or pass --yes"
            )
        name = f" ({preview['name']})" if preview["name"] else ""
        console.print(
            f"This erases {escape(who)}{escape(name)}: {preview['orders']:,} order(s) and "
            f"{preview['messages']:,} message record(s) stay under the pseudonym "
            f"erased-{preview['ref']}. It cannot be undone."
        )
        if not typer.confirm("Erase?", default=False):
            console.print("Nothing was erased.")
            raise typer.Exit(EXIT_FAILED)
    result = erase_customer(store, customer)
    console.print(f"Erased {escape(who)}: now erased-{preview['ref']}.")
    console.print(escape(result.summary()[0].upper() + result.summary()[1:] + "."))
    if result.rewritten and not result.leftover:
        console.print("An old copy was found in the file's free space, so the file was rewritten.")
    if result.leftover:
        err_console.print(
            "[bold yellow]Warning: the address or name still appears elsewhere in the database "
            "file (an import's file name, a note on another customer?); erasure covers the "
            "customer's own records only.[/]"
        )
    if not result.log_emptied:
        err_console.print(
            "[bold yellow]Warning: another retain command held the database, so an old copy "
            "may remain in its write-ahead log until that command ends.[/]"
        )


# --- purge ------------------------------------------------------------------------------------


def purge_command(
    ctx: typer.Context,
    older_than: Annotated[
        str,
        typer.Option("--older-than", help="No sign of life for this long: 3y, 18m, 26w or 400d."),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list who would be erased.")
    ] = False,
    yes: YesOption = False,
    now: NowOption = None,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Erase customers with no sign of life for a long time (keep no more than needed).

    A customer goes when they signed up (or first ordered) before that time and since then
    placed no order, changed no consent (opted in or out) and were sent no message. Each is
    erased as 'retain customers erase' does: their orders stay under a pseudonym. --dry-run
    lists them first. Example:

        retain purge --older-than 3y --dry-run
    """
    from retain_cli.trust.privacy import purge

    store = open_store(ctx, db)
    moment = run_clock(ctx, now, "UTC").now()
    preview = purge(store, older_than, dry_run=True, now=moment)
    rows = [
        {
            "customer": f"#{c['ref']}",
            "customer_id": c["customer_id"],
            "since": (c["since"] or "")[:10],
            "last_order_at": (c["last_order_at"] or "")[:10],
            "orders": c["orders"],
        }
        for c in preview.candidates
    ]
    day = preview.cutoff.date().isoformat()
    if dry_run or not rows:
        if fmt is not OutputFormat.table:
            render_rows(rows, list(rows[0]) if rows else ["customer"], fmt)
            return
        shown = rows[:20]
        render_rows(
            shown,
            ["customer", "customer_id", "since", "last_order_at", "orders"],
            fmt,
            title=f"No sign of life since {day}",
            empty=f"Nobody without a sign of life since {day}; nothing to purge.",
        )
        if len(rows) > 20:
            console.print(f"{len(rows) - 20:,} more; --format csv lists them all.")
        if rows:
            console.print(f"{len(rows):,} customer(s) would be erased (dry run: nothing changed).")
        return
    if not yes:
        if not _interactive():
            raise UsageError(
                f"purging erases {len(rows):,} customer(s) and cannot be undone; run it in "
                "a terminal to confirm, see them first with --dry-run, or pass --yes"
            )
        if not typer.confirm(
            f"Erase {len(rows):,} customer(s) with no sign of life since {day}?", default=False
        ):
            console.print("Nothing was erased.")
            raise typer.Exit(EXIT_FAILED)
    done = purge(store, older_than, dry_run=False, now=moment)
    console.print(
        f"Erased {done.customers:,} customer(s) with no sign of life since {day}; "
        f"{done.counts.get('orders_kept', 0):,} order(s) kept under pseudonyms."
    )


# --- audit log and fairness -------------------------------------------------------------------

audit_app = typer.Typer(
    help=(
        "What retain did with customers' data (the audit log), and whether campaigns treat "
        "groups of customers alike (fairness).\n\nExample: retain audit log --action erase"
    ),
    no_args_is_help=True,
)


@audit_app.command("log")
def audit_log_command(
    ctx: typer.Context,
    action: Annotated[
        list[str] | None,
        typer.Option(
            "--action",
            "-a",
            help="Only these: import, send, consent, export, erase, purge (repeatable).",
            show_default=False,
        ),
    ] = None,
    customer: Annotated[
        str | None,
        typer.Option(
            "--customer",
            help="Only entries about this customer (address, id or #12).",
            show_default=False,
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="From this day on, YYYY-MM-DD.", show_default=False),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", "-n", min=0, help="At most N entries (table default 50)."),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """The audit log: imports, messages sent, consent changes, exports, erasures, purges.

    Newest first: when, what, who or what did it, which customer (by number, never by name
    or address) and the details. The log is append-only. Example:

        retain audit log --action consent --customer ada@example.com
    """
    from retain_cli.timeutil import parse_as_of
    from retain_cli.trust.audit import COLUMNS, audit_log

    store = open_store(ctx, db)
    wanted = limit if limit is not None else (50 if fmt is OutputFormat.table else None)
    start = parse_as_of(since, "--since").replace(hour=0, minute=0, second=0) if since else None
    result = audit_log(store, actions=action or (), customer=customer, since=start, limit=wanted)
    if fmt is not OutputFormat.table:
        render_rows(result.entries, list(COLUMNS), fmt)
        return
    if not result.entries:
        console.print("No entries.")
        return
    table = Table(title="Audit log (newest first)", title_justify="left")
    table.add_column("at (UTC)", no_wrap=True)
    table.add_column("action", no_wrap=True)
    table.add_column("subject", no_wrap=True)
    table.add_column("by", overflow="fold")
    table.add_column("detail", overflow="fold")
    for r in result.entries:
        when = r["at"][:16].replace("T", " ")
        cells = (when, r["action"], r["subject"] or "", r["actor"], r["detail"] or "")
        table.add_row(*(escape(c) for c in cells))
    console.print(table)
    if result.counts:
        total = ", ".join(f"{k} {v:,}" for k, v in sorted(result.counts.items()))
        console.print(f"[dim]In the log: {escape(total)}.[/dim]")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app (``customers export`` and ``customers erase``
    are added to the customers group above)."""
    audit_app.command("fairness")(fairness_command)
    app.command("purge", rich_help_panel=PANEL)(purge_command)
    app.add_typer(audit_app, name="audit", rich_help_panel=PANEL)
    app.command("doctor", rich_help_panel=PANEL)(doctor_command)
