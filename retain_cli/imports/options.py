"""What an import is asked and what it answers.

``ImportOptions`` (how to read a file), ``ImportResult`` (what an import did), the files
written beside an export (``FILE.rejects.csv``, ``FILE.warnings.csv``) and :func:`fail`, the
error that names the file and stops the import before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retain_cli.errors import ImportFileError

if TYPE_CHECKING:
    from retain_cli.imports.identity import AddressChange

#: called with (rows done, rows in all) as an import goes
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ImportOptions:
    """How to read a file. Every option has the default a plain export needs."""

    source: str | None = None
    mapping: Mapping[str, str] = field(default_factory=dict)
    date_format: str | None = None
    decimal_comma: bool = False
    encoding: str | None = None
    timezone: str = "UTC"
    strict: bool = False
    dry_run: bool = False
    delimiter: str | None = None
    #: suppressions only: where the opt-outs came from (``mailchimp``), stored as their
    #: ``suppressions.source``; there is one opt-out layout, so ``source`` forces nothing
    origin: str | None = None
    #: orders: the currency of amounts that name none (``--currency``; the importer puts
    #: the shop's in when it is not given), an ISO 4217 code
    currency: str | None = None
    #: where FILE.rejects.csv and FILE.warnings.csv go (default: beside the file)
    rejects_dir: Path | None = None
    #: write the rejects and warnings files' cells as they are, formulas and all (see
    #: :mod:`retain_cli.imports.rejects`)
    raw_csv: bool = False


@dataclass(frozen=True)
class ImportResult:
    """What an import did. For orders, inserted/updated/unchanged count orders (a Shopify
    order spans several rows); ``skipped`` counts rows that are fine but not orders (failed
    or test payments) or are blank."""

    kind: str
    source: str
    file: Path
    rows: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    customers_created: int
    rejects_file: Path | None
    dry_run: bool
    skipped: int = 0
    #: rows imported with a warning: an unreadable optional value left out, or a value kept
    #: that looks wrong (an order date before 1990 or after next year)
    warnings: int = 0
    warnings_file: Path | None = None
    #: suppressions: the source recorded with the new addresses
    origin: str | None = None
    #: orders written without a customer (walk-in sales: revenue, not a customer)
    without_customer: int = 0
    #: rows that are refunds of a payment (Square), applied to its order
    refunds: int = 0
    #: of the ``warnings``, the rows imported whole, with a value worth checking
    doubtful: int = 0
    #: the rejects or warnings files that could not be written (the import is kept)
    problems: tuple[str, ...] = ()
    #: customers that look like an earlier customer with a new address (offer a merge)
    address_changes: list[AddressChange] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The result as a flat mapping (for tables and JSON)."""
        return {
            "file": str(self.file),
            "kind": self.kind,
            "source": self.source,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "warnings": self.warnings,
            "skipped": self.skipped,
            "customers_created": self.customers_created,
            **({"orders_without_customer": self.without_customer} if self.without_customer else {}),
            **({"refunds": self.refunds} if self.refunds else {}),
            "rejects_file": str(self.rejects_file) if self.rejects_file else None,
            "warnings_file": str(self.warnings_file) if self.warnings_file else None,
            "dry_run": self.dry_run,
            **({"origin": self.origin} if self.origin is not None else {}),
            **(
                {
                    "address_changes": [
                        {"old": c.old, "new": c.new, "name": c.name, "evidence": c.evidence}
                        for c in self.address_changes
                    ]
                }
                if self.address_changes
                else {}
            ),
        }


def rejects_path(path: Path, folder: Path | None = None) -> Path:
    """Where the rejected rows of ``path`` are written: ``FILE.rejects.csv`` beside it (or
    in ``folder``)."""
    return (folder or path.parent) / (path.name + ".rejects.csv")


def warnings_path(path: Path, folder: Path | None = None) -> Path:
    """Where the rows of ``path`` imported with a warning are listed: ``FILE.warnings.csv``
    beside it (or in ``folder``)."""
    return (folder or path.parent) / (path.name + ".warnings.csv")


def fail(path: Path, message: str) -> ImportFileError:
    """The error for a file that cannot be used, naming it (raised before anything is written)."""
    return ImportFileError(f"{path}: {message}")
