"""Commands: ``retain products`` (best sellers, repeat rate, repurchase gap) and
``retain recommend CUSTOMER`` (what to suggest and why, what they are due to buy again)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from retain_cli.cli.campaigns import ConfigOption
from retain_cli.cli.options import AsOfOption, DbOption, FormatOption, OutputFormat, open_store
from retain_cli.cli.output import WideOption, console, render_table, write_json

PANEL = "Analytics"
DUE_WINDOW = 30  # days either side of today: the products shown as due again
PRODUCT_COLUMNS = [
    "product",
    "sku",
    "orders",
    "units",
    "customers",
    "repeat_rate",
    "gap_days",
    "gap_spread",
    "repeat_customers",
    "last_sold",
]
PairsOption = Annotated[
    Path | None,
    typer.Option(
        "--pairs",
        help="The shop's own pairs (default products.yaml beside the campaign file).",
        show_default=False,
    ),
]


def _pairs_file(pairs: Path | None, config: Path | None) -> Path:
    from retain_cli.campaigns.config import config_path
    from retain_cli.products.curated import PRODUCTS_FILE

    return pairs if pairs is not None else config_path(config).parent / PRODUCTS_FILE


def products(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=0, help="Show the N best sellers (0: all).")
    ] = 20,
    db: DbOption = None,
    fmt: FormatOption = OutputFormat.table,
    wide: WideOption = False,
) -> None:
    """Your products from the order lines: best sellers, repeat rate and repurchase gap.

    A product is its SKU, else its name without the variant ("Coffee beans - 1kg" is
    Coffee beans); cancelled and fully refunded orders do not count. orders: the orders
    holding it; repeat_rate: the share of its customers who bought it on two days or more;
    gap_days: the typical days between two purchases (the median over those customers, each
    counted once by their own median), gap_spread the middle half of them; shown from 3
    repeat customers.

    Example: retain products --limit 10
    """
    from retain_cli.products.report import products_report

    store = open_store(ctx, db)
    baskets, rows = products_report(store, limit or None)
    if fmt is OutputFormat.table and rows:
        console.print(f"{len(rows)} best sellers of {baskets:,} orders with products")
    render_table(
        rows,
        PRODUCT_COLUMNS,
        fmt,
        keys=("product",),
        wide=wide,
        drop=("repeat_customers", "sku", "units", "last_sold", "gap_spread"),
        empty="No order lines yet: import orders with their line items (retain import orders).",
    )


def recommend_command(
    ctx: typer.Context,
    customer: Annotated[str, typer.Argument(help="E-mail address or customer id.")],
    count: Annotated[
        int, typer.Option("--count", "-n", min=1, max=20, help="How many to suggest.")
    ] = 3,
    pairs: PairsOption = None,
    config: ConfigOption = None,
    db: DbOption = None,
    as_of: AsOfOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """What to suggest to one customer, and why; what they are due to buy again.

    Suggestions come from what they bought: the shop's own pairs in products.yaml first,
    then the products most often in the same orders (confidence: the share of orders with
    what they bought that also had it; lift: how much likelier than in any order). Never
    something they bought in the last 180 days, never a product with no sale in the last 90
    days. A product is due again on their last purchase plus their own interval (from two
    purchases on), else the product's typical gap; shown when that is within 30 days of
    today.

    Example: retain recommend ada@example.com
    """
    from retain_cli.campaigns.config import config_path, shop_settings
    from retain_cli.products.report import customer_advice
    from retain_cli.timeutil import parse_as_of, zone

    timezone = shop_settings(config_path(config)).timezone
    moment = parse_as_of(as_of, tz=zone(timezone))
    store = open_store(ctx, db)
    advice = customer_advice(
        store,
        customer,
        moment,
        pairs_file=_pairs_file(pairs, config),
        n=count,
        timezone=timezone,
    )
    if fmt is not OutputFormat.table:
        data = {
            "customer_id": advice.customer_id,
            "email": advice.email,
            "recommendations": [r.as_dict() for r in advice.recommendations],
            "due": [d.as_dict() for d in advice.due],
        }
        if fmt is OutputFormat.json:
            write_json(data)
        else:
            render_table(
                [r.as_dict() for r in advice.recommendations], ["name", "sku", "reason"], fmt
            )
        return
    who = escape(advice.email or advice.customer_id)
    if not advice.bought:
        console.print(
            f"{who} has no kept orders with line items yet (cancelled and refunded orders do "
            "not count): nothing to go on."
        )
        return
    bought = ", ".join(f"{b['product']} ({b['last_bought']})" for b in advice.bought[:5])
    others = f" and {len(advice.bought) - 5} more" if len(advice.bought) > 5 else ""
    console.print(f"[bold]{who}[/] bought {escape(bought)}{others}")
    if advice.recommendations:
        console.print("Recommend:")
        for number, rec in enumerate(advice.recommendations, start=1):
            console.print(f"  {number}. [bold]{escape(rec.name)}[/]: {escape(rec.reason)}")
    else:
        console.print(
            "Nothing to recommend: no product goes with theirs often enough (3 orders or "
            "more, lift 1.2 or more) that they have not bought lately and that still sells."
        )
    today = moment.astimezone(zone(timezone)).date()
    near = [d for d in advice.due if abs((d.due - today).days) <= DUE_WINDOW]
    for due in near:
        whose = "their own" if due.own_interval else "the product's"
        console.print(
            f"Due again: [bold]{escape(due.name)}[/] on {due.due} (bought {due.last_bought}, "
            f"every {due.interval_days} days: {whose} interval)"
        )
    more = len(advice.due) - len(near)
    if more:
        products = "product" if more == 1 else "products"
        console.print(
            f"{more} more {products} with a repurchase interval, due more than {DUE_WINDOW} "
            f"days from {today}: --format json lists them"
        )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("products", rich_help_panel=PANEL)(products)
    app.command("recommend", rich_help_panel=PANEL)(recommend_command)
