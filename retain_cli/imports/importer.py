"""Importing shop exports: reading, layout detection, normalisation, rejects, writing.

``import_file`` reads one CSV export, recognises its layout (see :mod:`retain_cli.imports.layouts`),
normalises every value (emails, ids, dates to UTC, money to minor units, consent), and writes
customers, orders or suppressions in ONE transaction, so a failed or interrupted import leaves
the database exactly as it was. Rows that cannot be used go to ``FILE.rejects.csv`` with their
line number and the reason. A row whose only problem is an unreadable optional value (a
customer's birthday, consent or sign-up date; an order's subtotal, shipping, tax, discount,
consent or line-item price and quantity) is imported without it and listed in
``FILE.warnings.csv``.

Reading is columnar (pyarrow) and every value is parsed once per distinct value, so a
million-row file costs little more than its distinct dates, amounts and e-mail addresses.

This module owns the orchestration (:func:`import_file`): load and read the file, choose the
layout and columns, normalise, write inside the transaction, report rejects and warnings.
The steps live beside it: options (ImportOptions, ImportResult), read (bytes -> table),
layouts and columns, dates and values, frame (normalising, rejects and warnings kept per
row), rejects (the files), writers, orders and order_customers.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from retain_cli.errors import RetainError, UsageError
from retain_cli.imports.columns import choose_layout, find_columns
from retain_cli.imports.database import build_new, database_error, exists
from retain_cli.imports.dates import Dates
from retain_cli.imports.frame import Frame
from retain_cli.imports.identity import address_changes
from retain_cli.imports.layouts import Kind
from retain_cli.imports.options import ImportOptions, ImportResult, Progress, fail
from retain_cli.imports.orders import OrdersWriter
from retain_cli.imports.read import collector_paused, load, read_table, release_arrow_memory
from retain_cli.imports.rejects import Reporter, reject_rows
from retain_cli.imports.writers import CustomersWriter, SuppressionsWriter, Writer
from retain_cli.money import check_currency
from retain_cli.settings import shop_currency

if TYPE_CHECKING:
    from retain_cli.store import Store

KINDS: tuple[Kind, ...] = ("customers", "orders", "suppressions")


#: from this many rows on, an import into a new database runs with a rollback journal (see
#: import_transaction)
_BULK_ROWS = 50_000


def import_into(
    db: Path,
    path: Path,
    kind: Literal["customers", "orders", "suppressions"],
    options: ImportOptions = ImportOptions(),
    progress: Progress | None = None,
) -> ImportResult:
    """:func:`import_file` into the database at ``db``, created if there is none (under a
    temporary name, see :mod:`retain_cli.imports.database`); a dry run creates none."""
    from retain_cli.store import Store

    def run(store: Store) -> ImportResult:
        return import_file(store, path, kind, options, progress)

    if not exists(db):
        if options.dry_run:
            with Store.open(":memory:") as store:
                return run(store)
        result = build_new(db, path, run)
        if result is not None:
            return result
        if not path.is_file():
            raise RetainError(
                f"{db} was created by another command while {path} was read from a pipe, "
                "which cannot be read again; nothing from it was imported. Run the import "
                "again"
            )
    with Store.open(db, create=True) as store:
        return run(store)


def import_file(
    store: Store,
    path: Path,
    kind: Literal["customers", "orders", "suppressions"],
    options: ImportOptions = ImportOptions(),
    progress: Progress | None = None,
) -> ImportResult:
    """Import one export file; see the module docstring. Raises ImportFileError (nothing
    written) when the file cannot be used, or with --strict when any row is bad."""
    path = Path(path)
    with collector_paused():
        try:
            return _import_file(store, path, kind, options, progress)
        except sqlite3.Error as exc:
            raise database_error(exc, store, path) or exc from None
        except MemoryError:
            raise fail(
                path,
                "there is not enough memory to import it; split it into parts (each with the "
                "header line) and import each",
            ) from None


def _import_file(
    store: Store,
    path: Path,
    kind: Literal["customers", "orders", "suppressions"],
    options: ImportOptions,
    progress: Progress | None,
) -> ImportResult:
    if kind not in KINDS:
        raise UsageError(f"unknown import kind {kind!r}; use one of {', '.join(KINDS)}")
    origin = _origin(kind, options)
    options = _with_currency(store, kind, options)
    if options.rejects_dir is not None and not options.rejects_dir.is_dir():
        raise UsageError(f"--rejects-dir {options.rejects_dir}: no such folder")
    source = load(path, kind, options)
    layout = choose_layout(source, kind, options)
    columns = find_columns(source, layout, options)
    dates = Dates(options)
    table, invalid_count = read_table(source, list(columns.values()))
    source.data = b""  # free it: a big file is read again only if rows are rejected
    frame = Frame(source, table, columns)
    del table
    frame.normalise(layout, options, dates)
    frame.raw.clear()
    release_arrow_memory()
    total = frame.n + invalid_count
    if progress:
        progress(0, total)

    with store.import_transaction(dry_run=options.dry_run, bulk=frame.n >= _BULK_ROWS):
        import_ref = store.start_import(kind, layout.name, path.name, source.sha256)
        known = store.max_customer_ref()
        writer: Writer
        if kind == "orders":
            writer = OrdersWriter(store, frame, layout, import_ref, progress, total)
        elif kind == "customers":
            writer = CustomersWriter(store, frame, layout, import_ref, progress, total)
        else:
            writer = SuppressionsWriter(
                store, frame, layout, import_ref, progress, total, origin=origin or "import"
            )
        writer.run()
        store.block_erased_returning(import_ref)  # an erased person's address came back
        frame.release()  # the written values; what follows needs only errors and warnings
        changes = address_changes(store, known) if writer.customers_created else []
        rejected_rows = sorted(frame.errors)
        rejected = len(rejected_rows) + invalid_count
        rejects_file = None
        reporter = Reporter(source, options)
        if rejected:
            rows_out, invalid = reject_rows(source, frame, rejected_rows, bool(invalid_count))
            if options.strict:
                line, _record, column, reason = rows_out[0]
                where = f", column {column!r}" if column else ""
                raise fail(
                    path,
                    f"line {line}{where}: {reason}; nothing was imported (--strict). Fix the "
                    f"row, or run without --strict to import the good rows and get the bad "
                    f"ones in {reporter.rejects_path().name}",
                )
            rejects_file = reporter.write_rejects(rows_out)
            del invalid
        else:
            reporter.remove_stale(reporter.rejects_path())
        warned, doubtful, warnings_file = reporter.report_warnings(frame)
        store.finish_import(
            import_ref,
            rows=total,
            inserted=writer.inserted,
            updated=writer.updated,
            unchanged=writer.unchanged,
            rejected=rejected,
            warnings=warned,
        )
        if not options.dry_run:
            writer.refresh_analytics()
    if progress:
        progress(total, total)
    return ImportResult(
        kind=kind,
        source=layout.name,
        file=path,
        rows=total,
        inserted=writer.inserted,
        updated=writer.updated,
        unchanged=writer.unchanged,
        rejected=rejected,
        customers_created=writer.customers_created,
        without_customer=writer.walk_ins,
        refunds=writer.refunds,
        rejects_file=rejects_file,
        dry_run=options.dry_run,
        skipped=writer.skipped,
        warnings=warned,
        warnings_file=warnings_file,
        origin=(origin or "import") if kind == "suppressions" else None,
        doubtful=doubtful,
        problems=tuple(reporter.problems),
        address_changes=changes,
    )


def _with_currency(store: Store, kind: Kind, options: ImportOptions) -> ImportOptions:
    """``options`` with the currency of amounts that name none: --currency (checked), else
    the shop's (``retain config set currency``), else None."""
    if options.currency is not None:
        if kind != "orders":
            raise UsageError(f"--currency is for orders only, not for {kind}")
        try:
            return replace(options, currency=check_currency(options.currency))
        except ValueError as exc:
            raise UsageError(f"--currency: {exc}") from None
    if kind != "orders":
        return options
    return replace(options, currency=shop_currency(store))


def _origin(kind: Kind, options: ImportOptions) -> str | None:
    """The checked ``options.origin`` (see ImportOptions)."""
    if options.origin is None:
        return None
    if kind != "suppressions":
        raise UsageError(f"an origin is recorded for suppressions only, not for {kind}")
    origin = options.origin.strip()
    if not origin or not origin.isprintable():
        raise UsageError(
            f"--source {options.origin!r} must name where the opt-outs come from, "
            "e.g. --source mailchimp"
        )
    return origin
