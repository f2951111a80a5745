"""Command: ``loyalty`` (the tiers and their customers, or one customer's points and tier)."""

from __future__ import annotations

from typing import Annotated

import typer

from retain_cli.cli.campaigns import ConfigOption
from retain_cli.cli.options import AsOfOption, DbOption, FormatOption, OutputFormat, open_store
from retain_cli.cli.output import WideOption, render_mapping, render_table, write_json
from retain_cli.errors import ConfigError

# what goes first when the history is wider than the terminal (--wide shows it)
HISTORY_DROP = ("tier", "amount", "order_id")


def loyalty_command(
    ctx: typer.Context,
    customer: Annotated[
        str | None,
        typer.Argument(
            help="E-mail address or customer id: that customer's points, tier and history.",
            show_default=False,
        ),
    ] = None,
    as_of: AsOfOption = None,
    fmt: FormatOption = OutputFormat.table,
    wide: WideOption = False,
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Show the loyalty program: customers per tier, or one customer's points and tier.

    Points and tiers follow the loyalty: section of the campaign file, and are worked out from
    the countable orders every time (cancelled orders left out, refunds subtracted), so they
    are never out of date. Without CUSTOMER: how many customers hold each tier, how many of
    them will drop at the next recalculation (at_risk), and their points. With CUSTOMER:
    their balance, when points expire, their tier, what the next tier takes, and the history
    of points earned, spent and expired. Examples:

        retain loyalty

        retain loyalty ada@example.com --format json
    """
    from retain_cli.analytics.loyalty_report import (
        HISTORY_COLUMNS,
        TIER_COLUMNS,
        customer_loyalty,
        overview,
    )
    from retain_cli.campaigns.config import config_path, load_config
    from retain_cli.timeutil import current_clock, parse_as_of, zone

    path = config_path(config)
    loaded = load_config(path)
    program = loaded.loyalty
    if program is None:
        raise ConfigError(
            f"{path}: no loyalty: section; add one (points_per_unit and tiers, see the "
            "README's Loyalty section) to give customers points and tiers"
        )
    moment = parse_as_of(as_of, tz=zone(loaded.timezone)) if as_of else current_clock().now()
    store = open_store(ctx, db)
    if customer is not None:
        found = customer_loyalty(store, program, customer, moment)
        if fmt is OutputFormat.json:
            write_json(found.as_json())
        elif fmt is OutputFormat.csv:
            render_table(found.history, HISTORY_COLUMNS, fmt)
        else:
            render_mapping(found.summary, fmt, title=f"Loyalty of {found.customer_id}")
            render_table(
                found.history,
                HISTORY_COLUMNS,
                fmt,
                title="History",
                empty="No countable orders yet.",
                keys=("date", "order_id"),
                wrap=("event",),
                drop=HISTORY_DROP,
                wide=wide,
            )
        return
    result = overview(store, program, moment)
    if fmt is OutputFormat.json:
        write_json({**result.summary, "tiers": result.rows})
        return
    if fmt is OutputFormat.csv:
        render_table(result.rows, TIER_COLUMNS, fmt)
        return
    render_mapping(result.summary, fmt, title="Loyalty")
    render_table(result.rows, TIER_COLUMNS, fmt, title="Tiers", keys=("tier",), wide=wide)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("loyalty")(loyalty_command)
