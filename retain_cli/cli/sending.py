"""Commands: ``plan``, ``send``, ``sends`` (+ ``resolve``), ``unsubscribe``, ``cron``."""

from __future__ import annotations

import enum
import sys
import textwrap
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from retain_cli.cli.campaigns import ConfigOption
from retain_cli.cli.coupons import plan_pool_warnings, print_pool_warnings
from retain_cli.cli.options import (
    AsOfOption,
    DbOption,
    FormatOption,
    NowOption,
    OutputFormat,
    QuietOption,
    db_path,
    open_store,
    run_clock,
)
from retain_cli.cli.output import (
    WideOption,
    console,
    err_console,
    render_mapping,
    render_rows,
    render_table,
    short_times,
    write_json,
)

CampaignsArgument = Annotated[
    list[str] | None,
    typer.Argument(help="Campaign names (default: every enabled campaign).", show_default=False),
]


class TransportChoice(enum.StrEnum):
    smtp = "smtp"
    outbox = "outbox"


class LedgerState(enum.StrEnum):
    planned = "planned"
    claimed = "claimed"
    sent = "sent"
    failed = "failed"
    ambiguous = "ambiguous"
    held_out = "held_out"
    skipped = "skipped"
    queued = "queued"


class Outcome(enum.StrEnum):
    sent = "sent"
    failed = "failed"
    retry = "retry"


TransportOption = Annotated[
    TransportChoice | None,
    typer.Option(
        "--transport",
        help="Override the campaign file: smtp, or outbox (.eml files, sends nothing).",
        show_default=False,
    ),
]

PLAN_COLUMNS = [
    "campaign",
    "step",
    "customer_id",
    "email",
    "status",
    "variant",
    "reason",
    "key",
]
SUMMARY_COLUMNS = [
    "campaign",
    "due",
    "held_out",
    "deferred",
    "skipped",
    "left_out",
    "why_deferred",
    "why_left_out",
    "why_skipped",
]
SENDS_COLUMNS = [
    "campaign",
    "step",
    "customer_id",
    "email",
    "state",
    "attempts",
    "error",
    "planned_at",
    "sent_at",
    "key",
    "message_id",
    "reply",
    "variant",
]
SENDS_TABLE = ["campaign", "step", "email", "state", "attempts", "sent_at", "error"]
PLAN_REASONS = ("why_deferred", "why_left_out", "why_skipped")
STATUS_ORDER = {"due": 0, "deferred": 1, "held_out": 2, "skipped": 3, "left_out": 4}
STATE_STYLES = {
    "sent": "green",
    "due": "green",
    "failed": "bold red",
    "ambiguous": "bold yellow",
    "deferred": "yellow",
    "held_out": "cyan",
    "planned": "",
    "left_out": "dim",
    "skipped": "dim",
}


def _interactive() -> bool:
    """A person at a terminal (cron has no terminal on stdin)."""
    return sys.stdin.isatty()


def _style(value: Any) -> str:
    return STATE_STYLES.get(str(value), "") or "default"


def plan(
    ctx: typer.Context,
    campaigns: CampaignsArgument = None,
    config: ConfigOption = None,
    db: DbOption = None,
    as_of: AsOfOption = None,
    now: NowOption = None,
    transport: TransportOption = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=0, help="Rows of detail in the table.")
    ] = 30,
    fmt: FormatOption = OutputFormat.table,
    wide: WideOption = False,
) -> None:
    """Show who would get which message now, and who is left out and why.

    Left out: no consent, opted out, already sent, repeat not due, stopped, program holdout
    (see 'retain config set program_holdout'); held out: the
    campaign's control group; deferred (sent by a later run): frequency cap, daily limit,
    quiet hours; skipped: queued by an earlier run but no longer fitting (left the audience,
    too late, stopped). Nothing is recorded or sent. With --now it shows the run at that
    moment (every limit applies, as in the real run). csv/json list every row (json adds
    the summary).

    Under the table: per campaign, how many are held out and the smallest difference in conversion 'retain report' could detect (json: measurement); for a campaign with A/B variants, how many each variant gets and the smallest difference each could show against the holdout and against the first variant.

    Example: retain plan win-back --now 2025-12-24T06:30
    """  # noqa: E501
    from retain_cli.campaigns.config import config_path, load_config
    from retain_cli.campaigns.planner import make_plan
    from retain_cli.timeutil import parse_as_of, zone

    loaded = load_config(config_path(config))
    clock = run_clock(ctx, now, loaded.timezone)
    store = open_store(ctx, db)
    tz = zone(loaded.timezone)
    result = make_plan(
        store,
        loaded,
        campaigns=campaigns or (),
        as_of=parse_as_of(as_of, tz=tz) if as_of else None,
        transport=transport.value if transport else None,
        clock=clock,
    )
    items = sorted(result.items, key=lambda i: (STATUS_ORDER[i.status], i.campaign, i.step))
    rows = [item.as_row() for item in items]
    if fmt is OutputFormat.csv:
        render_rows(rows, PLAN_COLUMNS, fmt)
        return
    from retain_cli.measure.planning import plan_power, power_lines

    power = plan_power(store, loaded, result)
    if fmt is OutputFormat.json:
        write_json(
            {
                "summary": result.summary(),
                "items": rows,
                "quiet_hours": result.quiet,
                "held_back": result.held_back,
                "measurement": power,
                "program_holdout": result.program_summary(),
            }
        )
        return
    summary = result.summary()
    skipped = result.count("skipped")
    columns = [c for c in SUMMARY_COLUMNS if skipped or c not in ("skipped", "why_skipped")]
    render_table(
        summary,
        columns,
        fmt,
        wrap=PLAN_REASONS,
        wide=wide,
        title=f"Plan as of {result.as_of.astimezone(tz):%Y-%m-%d %H:%M} {loaded.timezone}",
        empty="No enabled campaigns.",
    )
    for line in power_lines(power):
        console.print(escape(line))
    program = result.program_summary()
    if program is not None:
        console.print(
            f"Program holdout ({program['share'] * 100:g}%): left out {program['messages']:,} "
            f"message{'s' if program['messages'] != 1 else ''} to {program['customers']:,} "
            "customer(s) of marketing campaigns ('retain report program' compares them)."
        )
    print_pool_warnings(plan_pool_warnings(store, loaded, result))
    if result.quiet:
        console.print(f"[yellow]{escape(result.quiet)}[/]")
    if rows and limit:
        shown = rows[:limit]
        render_table(
            shown,
            [c for c in PLAN_COLUMNS[:-1] if c != "variant" or any(r["variant"] for r in shown)],
            fmt,
            wrap=("reason",),
            drop=("customer_id", "step"),
            wide=wide,
            styles={"status": _style},
        )
        if len(rows) > limit:
            console.print(
                f"{len(rows) - limit:,} more rows; see them all with --format csv or --limit"
            )


def send(
    ctx: typer.Context,
    campaigns: CampaignsArgument = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan and render everything; send nothing.")
    ] = False,
    limit: Annotated[
        int | None,
        typer.Option("--limit", "-n", min=1, help="Send at most N messages in this run."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before sending.")] = False,
    config: ConfigOption = None,
    transport: TransportOption = None,
    db: DbOption = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Evaluate triggers as of this date (the end of that day in the shop's time "
            "zone); limits use now.",
        ),
    ] = None,
    now: NowOption = None,
    retries: Annotated[
        int,
        typer.Option("--retries", min=0, max=10, help="Retries of a temporary SMTP failure."),
    ] = 3,
    backoff: Annotated[
        float,
        typer.Option(
            "--backoff", min=0, help="Seconds before the first retry (doubling, up to 60)."
        ),
    ] = 2.0,
    quiet: QuietOption = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Send every message that is due, within the limits, exactly once.

    The audience is recorded in the send ledger first; each message is claimed, sent, then marked sent with the server's reply. In a terminal it shows the plan and asks first (--yes skips); from cron (no terminal) it just runs. Only one send runs at a time. Exit code 3 when some messages failed or their outcome is unknown (see 'retain sends'), when the SMTP server was unavailable or refused the shop's mail (the run stops; nothing is counted against the messages and nobody is suppressed), or when due messages were held back by quiet hours, the daily limit or limits.max_run_minutes.

    --now runs the night of that moment (with --dry-run or the outbox: a rehearsal that
    obeys every limit); a real SMTP send refuses a --now or --as-of in the future.

    Example: retain send --yes
    """  # noqa: E501
    from retain_cli.campaigns.config import config_path, load_config
    from retain_cli.campaigns.dispatch import RetryPolicy
    from retain_cli.campaigns.planner import make_plan
    from retain_cli.campaigns.send import run_send
    from retain_cli.timeutil import parse_as_of, zone

    loaded = load_config(config_path(config))
    clock = run_clock(ctx, now, loaded.timezone)
    store = open_store(ctx, db)
    moment = parse_as_of(as_of, tz=zone(loaded.timezone)) if as_of else None
    kind = transport.value if transport else None
    if loaded.smtp is not None and (kind or loaded.transport) == "smtp":
        for warning in loaded.smtp.warnings:  # tls_verify: false, said on every run
            err_console.print(f"[bold yellow]Warning: {escape(warning)}[/]")
    if moment is None:
        from retain_cli.imports.folder import stale_data

        stale = stale_data(store, clock.now())
        if stale:
            err_console.print(f"[yellow]Warning: {escape(stale)}[/]")
    if not dry_run and not yes and _interactive():
        preview = make_plan(
            store, loaded, campaigns=campaigns or (), as_of=moment, transport=kind, clock=clock
        )
        waiting = preview.count("due")
        columns = [c for c in SUMMARY_COLUMNS if c not in ("skipped", "why_skipped")]
        render_rows(preview.summary(), columns, OutputFormat.table, title="Plan")
        if preview.quiet:
            console.print(f"[yellow]{escape(preview.quiet)}[/]")
        if waiting and not typer.confirm(
            f"Send {waiting:,} messages through {kind or loaded.transport} now?", default=False
        ):
            err_console.print("Nothing sent.")
            raise typer.Exit(0)
    progress_bar = None
    callback = None
    if not quiet and err_console.is_terminal and fmt is OutputFormat.table:
        from rich.progress import Progress

        progress_bar = Progress(console=err_console, transient=True)
        task = progress_bar.add_task("Sending", total=None)

        def callback(done: int, total: int) -> None:
            progress_bar.update(task, completed=done, total=total)

        progress_bar.start()
    try:
        result = run_send(
            store,
            loaded,
            campaigns=campaigns or (),
            as_of=moment,
            dry_run=dry_run,
            limit=limit,
            transport=kind,
            retry=RetryPolicy(attempts=retries + 1, backoff=backoff),
            clock=clock,
            progress=callback,
        )
    finally:
        if progress_bar is not None:
            progress_bar.stop()
    render_mapping(result.summary(), fmt, title="Dry run" if dry_run else "Send summary")
    for error in result.errors[:10]:
        err_console.print(f"[red]{escape(error)}[/]")
    if len(result.errors) > 10:
        err_console.print(f"... and {len(result.errors) - 10} more: retain sends --state failed")
    print_pool_warnings(result.warnings)
    notice = result.notice()
    if notice:
        err_console.print(f"[bold yellow]{escape(notice)}[/]")
    if result.held_back:
        count = f"{result.deferred:,} due message{'s' if result.deferred != 1 else ''}"
        err_console.print(
            f"[yellow]Held back: {count} wait for a later run: {escape(result.held_back)}."
            f"{escape(_held_back_hint(result.held_back))}[/]"
        )
    if result.exit_code or (dry_run and result.failed):
        raise typer.Exit(3)


def _held_back_hint(reason: str) -> str:
    if reason.startswith("quiet hours"):
        return (
            " This run started inside them: move the cron line out of the quiet hours "
            "('retain cron --at HH:MM' checks the time in every season)."
        )
    if "max_run_minutes" in reason:
        return (
            " A slow SMTP server or a long queue under per_minute: raise "
            "limits.max_run_minutes if the runs need longer."
        )
    return " 'retain simulate' shows when the queue will be through."


sends_app = typer.Typer()


@sends_app.callback(invoke_without_command=True)
def sends(
    ctx: typer.Context,
    campaign: Annotated[str | None, typer.Option("--campaign", help="Only this campaign.")] = None,
    state: Annotated[
        LedgerState | None, typer.Option("--state", help="Only rows in this state.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="Newest N rows.")
    ] = None,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
    wide: WideOption = False,
) -> None:
    """The send ledger: who was sent what, when, and what the server said.

    Newest first, every state: planned, claimed, sent, failed, ambiguous, held_out, skipped.
    csv/json add the key, Message-ID and reply. Settle ambiguous sends with
    'retain sends resolve'.

    Example: retain sends --state ambiguous --format csv
    """
    if ctx.invoked_subcommand is not None:
        return
    store = open_store(ctx, db)
    rows = store.ledger_list(campaign=campaign, state=state.value if state else None, limit=limit)
    columns = SENDS_COLUMNS if fmt is not OutputFormat.table else SENDS_TABLE
    if fmt is OutputFormat.table:
        rows = short_times(rows, "sent_at", minutes=True)
    render_table(
        rows,
        columns,
        fmt,
        drop=("attempts", "step", "sent_at", "error"),
        wide=wide,
        title="Send ledger (times in UTC)",
        styles={"state": _style},
        empty=(
            "No sends match "
            + " and ".join(
                f"{name} {value!r}"
                for name, value in (("--campaign", campaign), ("--state", state and state.value))
                if value
            )
            + "."
            if campaign or state
            else "The send ledger is empty (nothing planned or sent yet)."
        ),
    )


@sends_app.command("resolve")
def resolve(
    ctx: typer.Context,
    key: Annotated[
        str | None, typer.Argument(help="The send's key (see 'retain sends').", show_default=False)
    ] = None,
    outcome: Annotated[
        Outcome,
        typer.Option("--as", help="sent: it arrived; failed: it did not; retry: send it again."),
    ] = ...,  # type: ignore[assignment]
    campaign: Annotated[
        str | None, typer.Option("--campaign", help="Every ambiguous send of this campaign.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Settle ambiguous sends by hand, after checking the mailbox or the provider's log.

    Example: retain sends resolve 'win-back:1:1042:1' --as sent
    """
    from retain_cli.campaigns.resolve import resolve_sends

    store = open_store(ctx, db)
    changed = resolve_sends(store, key=key, campaign=campaign, outcome=outcome.value)
    what = {"sent": "sent", "failed": "failed", "retry": "to retry on the next send"}
    console.print(f"Resolved {changed:,} send(s) as {what[outcome.value]}.")


def unsubscribe(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The address to stop writing to.")],
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (kept with the opt-out).")
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Block the address even though no customer has it (yet)."),
    ] = False,
    db: DbOption = None,
) -> None:
    """Stop every campaign from writing to an address, at once and for good.

    An address that no customer has is refused with the close ones (a typo would leave the
    real customer mailable); --force blocks it anyway, for an address not imported yet.

    Example: retain unsubscribe ada@example.com --reason "asked by phone"
    """
    from retain_cli.campaigns.resolve import unsubscribe as suppress

    store = open_store(ctx, db)
    if suppress(store, email, reason, force=force):
        console.print(
            f"Unsubscribed {escape(email.strip().lower())}: no campaign will write to it."
        )
    else:
        console.print(f"{escape(email.strip().lower())} was already unsubscribed.")


def cron(
    ctx: typer.Context,
    at: Annotated[
        str, typer.Option("--at", help="Time of day for the run, HH:MM, on the shop's clock.")
    ] = "09:00",
    config: ConfigOption = None,
    log: Annotated[
        Path | None, typer.Option("--log", help="Log file (default: next to the database).")
    ] = None,
    import_dir: Annotated[
        Path | None,
        typer.Option(
            "--import-dir",
            help="Before each send, import the exports in this folder that are not imported "
            "yet ('retain import folder'), so that the run sees today's orders.",
            show_default=False,
        ),
    ] = None,
    digest: Annotated[
        bool,
        typer.Option(
            "--digest/--no-digest",
            help="After the send, mail yourself the day's summary ('retain digest --email').",
        ),
    ] = True,
    db: DbOption = None,
) -> None:
    """Print ready crontab lines for the nightly run (add them with 'crontab -e').

    The run: import the new exports (with --import-dir), read the shop's mailbox ('retain inbox', when the campaign file's mailbox: section names your server), send, then mail you the digest ('retain digest --email'; --no-digest leaves it out). When the mailbox cannot be read, that night's send is skipped, so nobody who wrote to unsubscribe is mailed again; the digest still comes. Everything is logged to one file (--log).

    The lines set CRON_TZ to the shop's time zone (shop.timezone), so the run keeps its
    time through daylight saving. A time inside the quiet hours is refused (those runs would
    send nothing); if this machine's clock puts it inside them on some days (a cron that
    ignores CRON_TZ), you get a warning with the dates and a time that is safe both ways.

    With --import-dir the line first imports the new exports saved in that folder; without
    it the run works from the data as last imported, and 'retain send' warns in the log when
    the newest orders import is more than a day old.

    Example: retain cron --at 09:30 --import-dir ~/shop-exports
    """  # noqa: E501
    from retain_cli.campaigns.config import config_path, load_config
    from retain_cli.campaigns.cron import cron_advice, cron_lines
    from retain_cli.mailbox import cron_mailbox
    from retain_cli.timeutil import local_day, system_timezone, utc_now, zone

    path = config_path(config)
    absolute = path.expanduser().absolute()
    settings = load_config(absolute) if absolute.exists() else None
    inbox, mailbox_notes = cron_mailbox(absolute) if settings is not None else (False, [])
    tz = zone(settings.timezone if settings else None)
    lines, warnings = cron_lines(
        at=at,
        db=db_path(ctx, db),
        config=path,
        settings=settings,
        machine_tz=system_timezone(),
        today=local_day(utc_now(), tz),
        log=log,
        import_dir=import_dir,
        inbox=inbox,
        digest=digest,
        mailbox_notes=mailbox_notes,
    )
    for warning in warnings:
        err_console.print(f"[bold yellow]Warning: {escape(warning)}[/]")
        for text in textwrap.wrap(f"warning: {warning}", 78):
            typer.echo(f"# {text}")
    for note in cron_advice(absolute):
        typer.echo(note)
    for line in lines:
        typer.echo(line)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    from retain_cli.cli.simulate import simulate
    from retain_cli.cli.suppressions import suppressions_app

    app.command("plan")(plan)
    app.command("send")(send)
    app.command("simulate")(simulate)
    app.add_typer(sends_app, name="sends")
    app.command("unsubscribe")(unsubscribe)
    app.add_typer(
        suppressions_app,
        name="suppressions",
        help="The opt-out list: who no campaign writes to and why; lift a wrong one.",
    )
    app.command("cron")(cron)
