"""Commands: ``retain config set|show|unset`` (the shop's settings, kept in the database)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from retain_cli.cli.options import DbOption, FormatOption, OutputFormat, open_store
from retain_cli.store import Store

config_app = typer.Typer(
    help="The shop's settings, set once and kept in the database (the currency of amounts "
    "that name none, the program holdout).\n\nExample: retain config set currency EUR",
    no_args_is_help=True,
)

KeyArgument = Annotated[
    str, typer.Argument(help="The setting: currency or program_holdout.", show_default=False)
]
PROGRAM = "program_holdout"


@config_app.command("set")
def config_set(
    ctx: typer.Context,
    key: KeyArgument,
    value: Annotated[str, typer.Argument(help="Its new value.", show_default=False)],
    db: DbOption = None,
) -> None:
    """Set one of the shop's settings.

    currency: the ISO 4217 code of the shop's currency (EUR, USD, GBP ...). Orders imports use
    it for amounts whose file names no currency (no currency column, no code or symbol with
    the amount) unless --currency says otherwise; orders already stored without a currency
    get it too. A $ with an amount is read as this currency when it is a dollar (CAD,
    AUD ...), else as USD.

    program_holdout: the share of customers kept out of every marketing campaign (5%), so that 'retain report program' can compare them with everyone else. Every customer is drawn now (a hash of a random salt and the customer) and the draw is recorded; customers who arrive later are drawn by the next 'retain send'. Campaigns with kind: transactional still reach them. The share cannot be changed while it runs: 'retain config unset program_holdout' ends it (the record stays for the report), then a new share starts a new draw.

    Example: retain config set currency EUR
    """  # noqa: E501
    from retain_cli.cli.output import console
    from retain_cli.settings import set_setting

    store = open_store(ctx, db, create=True)
    if key.strip().lower() == PROGRAM:
        _set_program(store, value)
        return
    change = set_setting(store, key, value)
    was = f" (was {change.previous})" if change.previous and change.previous != change.value else ""
    console.print(f"{change.key} = {escape(change.value)}{escape(was)}")
    if change.orders_filled:
        console.print(
            f"{change.orders_filled:,} order(s) stored without a currency are now in {change.value}"
        )


@config_app.command("show")
def config_show(
    ctx: typer.Context,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Show every setting, its value and what it is for.

    Example: retain config show
    """
    from retain_cli.cli.output import render_rows
    from retain_cli.settings import show_settings

    rows = show_settings(open_store(ctx, db))
    if fmt is OutputFormat.table:
        rows = [{**row, "value": row["value"] or "(not set)"} for row in rows]
    render_rows(rows, ["setting", "value", "meaning"], fmt, title="Settings")


@config_app.command("unset")
def config_unset(ctx: typer.Context, key: KeyArgument, db: DbOption = None) -> None:
    """Forget one of the shop's settings.

    program_holdout: ends the program holdout; its customers get marketing campaigns again from now, and the record of who was held out stays for 'retain report program'.

    Example: retain config unset currency
    """  # noqa: E501
    from retain_cli.cli.output import console
    from retain_cli.settings import unset_setting

    store = open_store(ctx, db)
    if key.strip().lower() == PROGRAM:
        _unset_program(store)
        return
    done = unset_setting(store, key)
    console.print(f"{key.strip().lower()} {'unset' if done else 'was not set'}")


def _set_program(store: Store, value: str) -> None:
    from retain_cli.campaigns.program import set_program_holdout
    from retain_cli.cli.output import console
    from retain_cli.timeutil import utc_now

    change = set_program_holdout(store, value, utc_now())
    holdout = change.holdout
    assert holdout is not None
    if not change.changed:
        console.print(
            f"{PROGRAM} = {holdout.share_text} (unchanged, since {holdout.started_at[:10]})"
        )
        return
    console.print(
        f"{PROGRAM} = {holdout.share_text}: {change.held_out:,} of {change.drawn:,} customers "
        "are held out of every marketing campaign from now on (recorded; customers who "
        "arrive later are drawn by 'retain send'). Compare them with everyone else with "
        "'retain report program'."
    )


def _unset_program(store: Store) -> None:
    from retain_cli.campaigns.program import end_program_holdout
    from retain_cli.cli.output import console
    from retain_cli.timeutil import utc_now

    change = end_program_holdout(store, utc_now())
    if change.holdout is None:
        console.print(f"{PROGRAM} was not set")
        return
    console.print(
        f"{PROGRAM} ended: the {change.held_out:,} customers it held out get marketing "
        f"campaigns again from now. The record of the {change.holdout.share_text} holdout "
        f"since {change.holdout.started_at[:10]} stays for 'retain report program'."
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(config_app, name="config")
