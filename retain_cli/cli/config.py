"""Commands: ``retain config set|show|unset`` (the shop's settings, kept in the database)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from retain_cli.cli.options import DbOption, FormatOption, OutputFormat, open_store

config_app = typer.Typer(
    help="The shop's settings, set once and kept in the database (the currency of amounts "
    "that name none).\n\nExample: retain config set currency EUR",
    no_args_is_help=True,
)

KeyArgument = Annotated[str, typer.Argument(help="The setting: currency.", show_default=False)]


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

    Example: retain config set currency EUR
    """
    from retain_cli.cli.output import console
    from retain_cli.settings import set_setting

    store = open_store(ctx, db, create=True)
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

    Example: retain config unset currency
    """
    from retain_cli.cli.output import console
    from retain_cli.settings import unset_setting

    done = unset_setting(open_store(ctx, db), key)
    console.print(f"{key.strip().lower()} {'unset' if done else 'was not set'}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(config_app, name="config")
