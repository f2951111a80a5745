"""Commands: ``coupons`` (the pools) and ``coupons import``; the pool warnings ``plan`` and
``send`` print."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from retain_cli.cli.options import DbOption, FormatOption, OutputFormat, open_store
from retain_cli.cli.output import WideOption, console, err_console, render_table

if TYPE_CHECKING:
    from retain_cli.campaigns.model import CampaignConfig
    from retain_cli.campaigns.planner import Plan
    from retain_cli.store import Store

coupons_app = typer.Typer()

POOL_COLUMNS = ["pool", "total", "assigned", "redeemed", "used_elsewhere", "left"]


@coupons_app.callback(invoke_without_command=True)
def coupons(
    ctx: typer.Context,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
    wide: WideOption = False,
) -> None:
    """Pools of single-use discount codes, one per message: assigned, redeemed, left.

    Per pool: the codes it holds, how many were assigned to messages (one per message, when it was sent), redeemed by the customer they were sent to, used on some other order (by someone else, or before retain gave them out: such a code is never given out), and left to give.

    A campaign gives one code of its pool to each recipient with coupon_pool: NAME in the campaign file and {{ coupon.code }} in its template.

    Example: retain coupons import winback_codes.csv --pool WINBACK
    """  # noqa: E501
    if ctx.invoked_subcommand is not None:
        return
    store = open_store(ctx, db)
    render_table(
        store.coupon_pools(),
        POOL_COLUMNS,
        fmt,
        keys=("pool",),
        drop=("used_elsewhere",),
        wide=wide,
        title="Coupon pools",
        empty="No coupon codes yet; import a pool with 'retain coupons import FILE --pool NAME'.",
    )


@coupons_app.command("import")
def import_pool(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help="The codes: the shop platform's export of a discount's codes (a Code "
            "column), or one code per line.",
            show_default=False,
        ),
    ],
    pool: Annotated[
        str,
        typer.Option("--pool", help="The pool's name, as campaigns name it (coupon_pool)."),
    ] = ...,  # type: ignore[assignment]
    db: DbOption = None,
) -> None:
    """Add a pool of single-use discount codes exported from the shop platform (or a list of codes, one per line).

    The file: an export with a Code column (Shopify's export of all discounts, with the codes in Name, works too), or one code per line. Codes the export marks as used already are left out. Importing the same file again adds nothing; a code the file repeats is imported once. A file with a line that is not a code is refused as a whole, naming the line. Exit code 3 when lines were left out (repeated or used codes).

    Example: retain coupons import winback_codes.csv --pool WINBACK
    """  # noqa: E501
    from retain_cli.imports.coupons import import_coupons
    from retain_cli.timeutil import utc_now_iso

    store = open_store(ctx, db)
    result = import_coupons(store, file, pool, utc_now_iso())
    where = f"column {result.column!r} of " if result.column else ""
    console.print(
        f"Imported {result.added:,} new code{'s' if result.added != 1 else ''} into pool "
        f"{escape(result.pool)} from {where}{escape(file.name)}"
        + (f" ({result.already:,} in the pool already)." if result.already else ".")
    )
    if result.repeated:
        lines = ", ".join(f"line {a} repeats line {b}" for a, b in result.repeated[:5])
        more = f" and {len(result.repeated) - 5} more" if len(result.repeated) > 5 else ""
        err_console.print(
            f"[yellow]{len(result.repeated):,} repeated code"
            f"{'s' if len(result.repeated) != 1 else ''} imported once: {lines}{more}.[/]"
        )
    if result.used:
        lines = ", ".join(str(n) for n in result.used[:10])
        more = f" and {len(result.used) - 10} more" if len(result.used) > 10 else ""
        err_console.print(
            f"[yellow]{len(result.used):,} code{'s' if len(result.used) != 1 else ''} the "
            f"shop has used already left out (lines {lines}{more}).[/]"
        )
    console.print(
        f"Pool {escape(result.pool)}: {result.total:,} codes, {result.left:,} left to give."
    )
    if result.left_out:
        raise typer.Exit(3)


def plan_pool_warnings(store: Store, config: CampaignConfig, plan: Plan) -> list[str]:
    """The pools a plan's campaigns use that have no codes, too few for the messages due
    now, or less than 10% left."""
    from retain_cli.campaigns.coupons import due_per_pool, pool_warnings

    due = due_per_pool(config, store, plan.items)
    return pool_warnings(store, config, plan.campaigns, due=due)


def print_pool_warnings(warnings: list[str]) -> None:
    """What ``plan`` and ``send`` say about coupon pools that run low or ran out."""
    for warning in warnings:
        err_console.print(f"[bold yellow]Warning: {escape(warning)}[/]")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(coupons_app, name="coupons")
