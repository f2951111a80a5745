"""Importing shop exports (customers, orders, opt-outs) into the store.

The public face: :func:`import_file` (and :func:`import_into`, which opens the database,
creating it safely if there is none) with its :class:`ImportOptions` and
:class:`ImportResult`, and where an import writes the rows it could not use
(:func:`rejects_path`) or imported with a value left out (:func:`warnings_path`). The steps
are in the package's modules; :mod:`retain_cli.imports.importer` runs them in order.
"""

from __future__ import annotations

from retain_cli.imports.importer import import_file, import_into
from retain_cli.imports.options import ImportOptions, ImportResult, rejects_path, warnings_path

__all__ = [
    "ImportOptions",
    "ImportResult",
    "import_file",
    "import_into",
    "rejects_path",
    "warnings_path",
]
