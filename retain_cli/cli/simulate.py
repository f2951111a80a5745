"""Command: ``simulate`` (the next nights of ``retain send``, rehearsed on a copy)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from retain_cli.cli.campaigns import ConfigOption
from retain_cli.cli.options import (
    DbOption,
    FormatOption,
    NowOption,
    OutputFormat,
    open_store,
    run_clock,
)
from retain_cli.cli.output import console, render_rows, write_json

NIGHT_COLUMNS = ["night", "time", "sent", "campaigns", "waiting", "skipped", "note"]
LONG_COLUMNS = ["night", "time", "campaign", "sent", "held_out", "skipped", "waiting", "failed"]


def simulate(
    ctx: typer.Context,
    campaigns: Annotated[
        list[str] | None,
        typer.Argument(
            help="Campaign names (default: every enabled campaign).", show_default=False
        ),
    ] = None,
    days: Annotated[
        int, typer.Option("--days", "-d", min=1, max=366, help="How many nights to simulate.")
    ] = 14,
    at: Annotated[
        str, typer.Option("--at", help="The cron time, HH:MM (as in 'retain cron --at').")
    ] = "09:00",
    cron_tz: Annotated[
        str | None,
        typer.Option(
            "--cron-tz",
            help="The time zone cron reads --at in (default: the shop's, as CRON_TZ sets it; "
            "give the machine's, e.g. UTC, if your cron ignores CRON_TZ).",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
    db: DbOption = None,
    now: NowOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show what each night of the next days would send, per campaign, before cron runs it.

    Every night is a real 'retain send' at the cron time, on a copy of the database, with
    every limit (quiet hours, the daily limit, the frequency cap) and the re-checks of the
    queue; nothing is sent and your database is not changed. Customers do not buy in a
    simulation (the orders stay as they are), but they age into new segments. A night that
    sends nothing because of the quiet hours says so: try another --at, or --cron-tz UTC
    to see a cron that ignores CRON_TZ drift with daylight saving. csv and json give one
    row per night and campaign.

    Example: retain simulate --days 14 --at 06:30
    """
    from retain_cli.campaigns.config import config_path, load_config
    from retain_cli.campaigns.cron import parse_at
    from retain_cli.campaigns.simulate import simulate as run
    from retain_cli.errors import UsageError

    loaded = load_config(config_path(config))
    clock = run_clock(ctx, now, loaded.timezone)
    if cron_tz is not None:
        from retain_cli.timeutil import zone

        try:
            zone(cron_tz)
        except (ValueError, KeyError):
            raise UsageError(
                f"--cron-tz {cron_tz!r} is not a time zone; use an IANA name such as UTC "
                "or Europe/London"
            ) from None
    store = open_store(ctx, db)
    nights = run(
        store,
        loaded,
        nights=days,
        at=parse_at(at),
        clock=clock,
        cron_tz=cron_tz,
        campaigns=campaigns or (),
    )
    if fmt is OutputFormat.json:
        write_json([{**n.row(), "campaigns": n.campaigns, "errors": n.errors} for n in nights])
        return
    if fmt is OutputFormat.csv:
        render_rows([r for n in nights for r in n.long_rows()], LONG_COLUMNS, fmt)
        return
    first, last = nights[0], nights[-1]
    render_rows(
        [n.row() for n in nights],
        NIGHT_COLUMNS,
        fmt,
        title=f"{len(nights)} nights at {at} ({cron_tz or loaded.timezone}), "
        f"{first.day} to {last.day}",
        styles={"note": lambda value: "yellow" if value else "default"},
    )
    for reason in dict.fromkeys(n.held_back for n in nights if n.held_back):
        count = sum(1 for n in nights if n.held_back == reason)
        console.print(
            f"[yellow]{count} of {len(nights)} nights held messages back: {escape(reason)}.[/]"
        )
    if any(n.held_back.startswith("quiet hours") for n in nights):
        console.print(
            f"--at {escape(at)} is inside the quiet hours on those nights; 'retain cron --at "
            "HH:MM' checks a time in every season."
        )
    for error in dict.fromkeys(e for n in nights for e in n.errors):
        console.print(f"[red]{escape(error)}[/]")
