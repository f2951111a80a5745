"""Rendering results: Rich tables for people, CSV or JSON on stdout for scripts."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from retain_cli.cli.options import OutputFormat

console = Console()
err_console = Console(stderr=True)

Row = Mapping[str, Any]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 1 or value == 0 else f"{value:.3f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(_plain(value))


def write_csv(rows: Sequence[Row], columns: Sequence[str]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _plain(row.get(c)) for c in columns])


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
        console.print(escape(empty))
        return
    table = Table(title=escape(title) if title else None, header_style="bold")
    for column in columns:
        numeric = any(isinstance(r.get(column), int | float) for r in rows[:50])
        # numbers stay whole on one line; text folds rather than being cut ("wojcie…")
        if numeric:
            table.add_column(escape(column), justify="right", no_wrap=True)
        else:
            table.add_column(escape(column), overflow="fold")
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
    table = Table(title=escape(title) if title else None, show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in data.items():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        text = escape(cell_text(value))
        table.add_row(escape(key), Text.from_markup(text, justify="right") if number else text)
    console.print(table)
