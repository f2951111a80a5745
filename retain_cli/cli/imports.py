"""Commands: ``retain import customers|orders|suppressions FILE``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.markup import escape

from retain_cli.cli.options import DbOption, FormatOption, OutputFormat, QuietOption, db_path
from retain_cli.errors import EXIT_PARTIAL, UsageError

if TYPE_CHECKING:
    from retain_cli.imports import ImportOptions, ImportResult

import_app = typer.Typer(
    help="Import shop exports (Shopify, Square, WooCommerce, Stripe, spreadsheets).\n\n"
    "The layout is detected from the header; re-importing a file changes nothing.\n\n"
    "Example: retain import orders orders_export.csv",
    no_args_is_help=True,
)

FileArgument = Annotated[Path, typer.Argument(help="The CSV export to import.", show_default=False)]
SourceOption = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="Force a layout instead of detecting it: shopify_customers, "
        "shopify_customers_legacy, square_customers, woocommerce_customers, generic_customers, "
        "shopify_orders, stripe_payments, square_transactions, square_items, generic_orders.",
    ),
]
OriginOption = Annotated[
    str | None,
    typer.Option(
        "--source",
        help="Where the opt-outs come from, e.g. mailchimp: recorded with each new address "
        "(default: import). Opt-out lists have one layout, so there is none to force.",
        show_default=False,
    ),
]
MapOption = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help="FIELD=COLUMN: read FIELD (email, date, amount, order_id, ...) from COLUMN. "
        "Repeatable.",
        show_default=False,
    ),
]
DateFormatOption = Annotated[
    str | None,
    typer.Option(
        "--date-format",
        help="How day/month dates are written: DD/MM/YYYY, MM/DD/YYYY, or a strptime format. "
        "Needed only when the file does not show it.",
    ),
]
DecimalCommaOption = Annotated[
    bool, typer.Option("--decimal-comma", help="Amounts are written 1.204,00.")
]
EncodingOption = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        help="File encoding (default: UTF-8 with or without BOM, or UTF-16 with a BOM).",
    ),
]
DelimiterOption = Annotated[
    str | None,
    typer.Option(
        "--delimiter",
        help="Field separator: ';', '|' or 'tab' (default: a comma, or the semicolon, tab "
        "or pipe the header line is written with).",
    ),
]
TimezoneOption = Annotated[
    str, typer.Option("--timezone", help="Time zone of timestamps that carry no offset.")
]
CurrencyOption = Annotated[
    str | None,
    typer.Option(
        "--currency",
        help="The currency (ISO 4217 code, e.g. EUR) of amounts the file names none for: no "
        "currency column, no code or symbol with the amount. Default: the shop's (retain "
        "config set currency EUR).",
        show_default=False,
    ),
]
StrictOption = Annotated[
    bool, typer.Option("--strict", help="Fail (import nothing) if any row is bad.")
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Report what would happen; write nothing.")
]
RejectsDirOption = Annotated[
    Path | None,
    typer.Option(
        "--rejects-dir",
        help="Write FILE.rejects.csv and FILE.warnings.csv in this folder instead of beside "
        "the file (for an export in a folder you cannot write to).",
        show_default=False,
    ),
]
RawCsvOption = Annotated[
    bool,
    typer.Option(
        "--raw-csv",
        envvar="RETAIN_RAW_CSV",
        help="Write the rejects and warnings files' cells as they are. By default a cell "
        "that begins with = + - @, a tab or a carriage return gets a ' in front, so that a "
        "spreadsheet shows it as text instead of running it as a formula (an import reads "
        "it back without the ').",
    ),
]


def _mapping(pairs: list[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        field, sep, column = pair.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise UsageError(f"--map {pair!r} must look like FIELD=COLUMN, e.g. --map email=Mail")
        mapping[field.strip().lower()] = column.strip()
    return mapping


def _wants_progress(quiet: bool, fmt: OutputFormat) -> bool:
    return not quiet and fmt is OutputFormat.table and sys.stderr.isatty()


def _import(
    db: Path,
    file: Path,
    kind: Literal["customers", "orders", "suppressions"],
    options: ImportOptions,
    *,
    progress: bool,
) -> ImportResult:
    """Run the import, with a progress bar on a terminal."""
    from retain_cli.cli.output import err_console
    from retain_cli.imports import import_into

    if not progress:
        return import_into(db, file, kind, options)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn(f"importing {escape(file.name)}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("import", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return import_into(db, file, kind, options, progress=advance)


def _warned(result: ImportResult) -> str:
    """What the rows with a warning are: values left out, values worth checking, or both."""
    if not result.doubtful:
        return "imported with an unreadable value left out"
    if result.doubtful == result.warnings:
        return "imported with a value worth checking"
    return "imported with a value left out or worth checking"


def _run(
    ctx: typer.Context,
    kind: Literal["customers", "orders", "suppressions"],
    file: Path,
    *,
    db: Path | None,
    fmt: OutputFormat,
    quiet: bool,
    source: str | None = None,
    mapping: list[str] | None = None,
    date_format: str | None = None,
    decimal_comma: bool = False,
    encoding: str | None = None,
    delimiter: str | None = None,
    timezone: str = "UTC",
    strict: bool = False,
    dry_run: bool = False,
    origin: str | None = None,
    currency: str | None = None,
    rejects_dir: Path | None = None,
    raw_csv: bool = False,
) -> None:
    from retain_cli.cli.output import err_console, render_mapping
    from retain_cli.imports import ImportOptions

    options = ImportOptions(
        source=source,
        mapping=_mapping(mapping),
        date_format=date_format,
        decimal_comma=decimal_comma,
        encoding=encoding,
        delimiter=delimiter,
        timezone=timezone,
        strict=strict,
        dry_run=dry_run,
        origin=origin,
        currency=currency,
        rejects_dir=rejects_dir,
        raw_csv=raw_csv,
    )
    path = db_path(ctx, db)
    result = _import(path, file, kind, options, progress=_wants_progress(quiet, fmt))
    summary = result.summary()
    if fmt is OutputFormat.table:
        title = f"{'Dry run: ' if dry_run else ''}{result.kind} from {file.name} ({result.source})"
        shown = {k: v for k, v in summary.items() if v is not None and k != "address_changes"}
        render_mapping(shown, fmt, title=title)
        for change in result.address_changes:
            err_console.print(
                f"[yellow]Looks like an address change: {escape(change.old)} -> "
                f"{escape(change.new)} ({escape(change.name)}; {escape(change.evidence)}). "
                f"If it is one person, merge them: {escape(change.command)}[/]"
            )
        if result.rejected:
            where = f" (see {result.rejects_file})" if result.rejects_file else ""
            err_console.print(f"{result.rejected} row(s) rejected{escape(where)}")
        if result.warnings:
            where = f" (see {result.warnings_file})" if result.warnings_file else ""
            err_console.print(f"{result.warnings} row(s) {_warned(result)}{escape(where)}")
    else:
        if fmt is OutputFormat.csv and result.address_changes:
            summary["address_changes"] = "; ".join(
                f"{c.old} -> {c.new}" for c in result.address_changes
            )
        render_mapping(summary, fmt)
    for problem in result.problems:
        err_console.print(f"Warning: {escape(problem)}")
    if result.rejected or result.warnings:
        raise typer.Exit(EXIT_PARTIAL)


@import_app.command("customers")
def import_customers(
    ctx: typer.Context,
    file: FileArgument,
    source: SourceOption = None,
    map_: MapOption = None,
    date_format: DateFormatOption = None,
    decimal_comma: DecimalCommaOption = False,
    encoding: EncodingOption = None,
    delimiter: DelimiterOption = None,
    timezone: TimezoneOption = "UTC",
    strict: StrictOption = False,
    dry_run: DryRunOption = False,
    rejects_dir: RejectsDirOption = None,
    raw_csv: RawCsvOption = False,
    quiet: QuietOption = False,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Import a customers export (Shopify, Square, WooCommerce, or any spreadsheet).

    Customers are matched by the platform's customer id, else by e-mail; re-importing the
    same file changes nothing. Rows that cannot be used go to FILE.rejects.csv (exit code 3).
    An unreadable birthday, consent or sign-up date is left out, the customer imported, and
    the row listed in FILE.warnings.csv (exit code 3 as well).

    Example: retain import customers customers_export.csv
    """
    _run(
        ctx, "customers", file, db=db, fmt=fmt, quiet=quiet, source=source, mapping=map_,
        date_format=date_format, decimal_comma=decimal_comma, encoding=encoding,
        delimiter=delimiter, timezone=timezone, strict=strict, dry_run=dry_run,
        rejects_dir=rejects_dir, raw_csv=raw_csv,
    )  # fmt: skip


@import_app.command("orders")
def import_orders(
    ctx: typer.Context,
    file: FileArgument,
    source: SourceOption = None,
    map_: MapOption = None,
    date_format: DateFormatOption = None,
    decimal_comma: DecimalCommaOption = False,
    encoding: EncodingOption = None,
    delimiter: DelimiterOption = None,
    timezone: TimezoneOption = "UTC",
    currency: CurrencyOption = None,
    strict: StrictOption = False,
    dry_run: DryRunOption = False,
    rejects_dir: RejectsDirOption = None,
    raw_csv: RawCsvOption = False,
    quiet: QuietOption = False,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Import an orders export (Shopify, Stripe, Square sales, or any spreadsheet).

    Customers not yet known are created from the orders' e-mail, customer id and name; one
    known by id only (a till's customer number) counts in the figures and gets mail once a
    customers import brings an address for that id. A sale with neither (a walk-in) counts
    in orders and revenue, not as a customer. Orders without an id get a stable one derived
    from the row, so re-importing adds nothing.

    Each amount's currency comes from the file (a currency column, or a code or symbol with
    the amount: 12,50 EUR, €12.50, $12.50), else from --currency, else from the shop's (retain
    config set currency EUR); a file in no currency at all is refused.

    Rows that cannot be used go to FILE.rejects.csv; an unreadable subtotal, shipping, tax,
    discount or line-item price is left out and the row listed in FILE.warnings.csv (exit
    code 3), as is an order dated before 1990 or after next year (imported as it is, to be
    checked).

    Example: retain import orders orders_export.csv --date-format DD/MM/YYYY --currency EUR
    """
    _run(
        ctx, "orders", file, db=db, fmt=fmt, quiet=quiet, source=source, mapping=map_,
        date_format=date_format, decimal_comma=decimal_comma, encoding=encoding,
        delimiter=delimiter, timezone=timezone, strict=strict, dry_run=dry_run,
        currency=currency, rejects_dir=rejects_dir, raw_csv=raw_csv,
    )  # fmt: skip


@import_app.command("suppressions")
def import_suppressions(
    ctx: typer.Context,
    file: FileArgument,
    source: OriginOption = None,
    map_: MapOption = None,
    encoding: EncodingOption = None,
    delimiter: DelimiterOption = None,
    strict: StrictOption = False,
    dry_run: DryRunOption = False,
    rejects_dir: RejectsDirOption = None,
    raw_csv: RawCsvOption = False,
    quiet: QuietOption = False,
    fmt: FormatOption = OutputFormat.table,
    db: DbOption = None,
) -> None:
    """Import an opt-out list: an e-mail column (and optionally a reason).

    The addresses are never mailed again, whatever later imports say. --source records
    where they came from (an address already on the list keeps its first source).

    Example: retain import suppressions unsubscribed.csv --source mailchimp
    """
    _run(
        ctx, "suppressions", file, db=db, fmt=fmt, quiet=quiet, mapping=map_,
        encoding=encoding, delimiter=delimiter, strict=strict, dry_run=dry_run, origin=source,
        rejects_dir=rejects_dir, raw_csv=raw_csv,
    )  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(import_app, name="import")
