"""Rendering results: Rich tables for people, CSV or JSON on stdout for scripts.

Everything from the data that reaches a table is escaped for Rich and stripped of control
characters (:func:`printable`): a customer named ``\\x1b]0;pwn\\x07`` must not retitle the
terminal. CSV cells that a spreadsheet would run as formulas are quoted
(:mod:`retain_cli.csvsafe`) unless ``retain --raw-csv`` (or ``RETAIN_RAW_CSV=1``) asks for
the data as it is.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from retain_cli.cli.options import OutputFormat
from retain_cli.csvsafe import write_rows

console = Console()
err_console = Console(stderr=True)

Row = Mapping[str, Any]


# C0 and C1 controls, DEL, and the bidirectional overrides and isolates (which reorder what
# follows them on the line); a run of them, or of line breaks and tabs, becomes one space.
_SPACES = re.compile("[\t\n\r\x0b\x0c\x85\u2028\u2029]+")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


_CONTROLS_BUT_LINES = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, *, lines: bool = False) -> str:
    """``text`` without control characters (an ESC sequence, a bell, a backspace ...): line
    breaks and tabs become a space (``lines``: line breaks stay), the rest is dropped; normal
    text, accents and emoji stay."""
    if text.isprintable():
        return text
    if lines:
        return _CONTROLS_BUT_LINES.sub("", text.replace("\r\n", "\n").replace("\t", " "))
    return _CONTROLS.sub("", _SPACES.sub(" ", text))


class _Settings:
    raw_csv = False  # set by the root callback from --raw-csv / RETAIN_RAW_CSV on every run


def use_raw_csv(raw: bool) -> None:
    """``retain --raw-csv`` (or ``RETAIN_RAW_CSV=1``): CSV cells as they are, for scripts."""
    _Settings.raw_csv = raw


def raw_csv() -> bool:
    return _Settings.raw_csv


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def cell_text(value: Any) -> str:
    """A value as a table shows it: numbers with separators, text :func:`printable`."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 1 or value == 0 else f"{value:.3f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return printable(str(_plain(value)))


def _label(text: str) -> str:
    """A title, column name or key for a table: printable and escaped for Rich."""
    return escape(printable(text))


def write_csv(rows: Sequence[Row], columns: Sequence[str]) -> None:
    """Rows as CSV on stdout; cells that would run as spreadsheet formulas are quoted
    (``'=...``) unless :func:`raw_csv`."""
    cells = (["" if row.get(c) is None else _plain(row.get(c)) for c in columns] for row in rows)
    write_rows(sys.stdout, columns, cells, safe=not raw_csv())


def write_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_plain, ensure_ascii=False) + "\n")


def render_rows(
    rows: Sequence[Row],
    columns: Sequence[str],
    fmt: OutputFormat,
    *,
    title: str | None = None,
    styles: Mapping[str, Callable[[Any], str]] | None = None,
    empty: str = "Nothing to show.",
) -> None:
    """One list of records in the chosen format. Table cells are escaped for Rich."""
    if fmt is OutputFormat.csv:
        write_csv(rows, columns)
        return
    if fmt is OutputFormat.json:
        write_json([{c: row.get(c) for c in columns} for row in rows])
        return
    if not rows:
        console.print(_label(empty))
        return
    table = Table(title=_label(title) if title else None, header_style="bold")
    for column in columns:
        numeric = any(isinstance(r.get(column), int | float) for r in rows[:50])
        # numbers stay whole on one line; text folds rather than being cut ("wojcie…")
        if numeric:
            table.add_column(_label(column), justify="right", no_wrap=True)
        else:
            table.add_column(_label(column), overflow="fold")
    for row in rows:
        cells = []
        for column in columns:
            text = escape(cell_text(row.get(column)))
            style = styles.get(column) if styles else None
            cells.append(f"[{style(row.get(column))}]{text}[/]" if style else text)
        table.add_row(*cells)
    console.print(table)


def render_mapping(data: Mapping[str, Any], fmt: OutputFormat, *, title: str | None = None) -> None:
    """A single record (a summary) as a two-column table, one CSV row, or a JSON object."""
    if fmt is OutputFormat.json:
        write_json(dict(data))
        return
    if fmt is OutputFormat.csv:
        write_csv([data], list(data))
        return
    table = Table(title=_label(title) if title else None, show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in data.items():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        text = escape(cell_text(value))
        table.add_row(_label(key), Text.from_markup(text, justify="right") if number else text)
    console.print(table)
