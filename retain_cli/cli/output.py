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
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
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


# --- tables that fit the terminal -----------------------------------------------------------
#
# A table is laid out for the terminal's width before Rich sees it, so that nothing a reader
# looks a row up by is ever squeezed. Each column has a role:
#   key     identifying (id, e-mail, name): whole, on one line, never narrower than its longest
#           value;
#   number  right-aligned, whole; date: whole, on one line;
#   text    free text: shortened with an ellipsis to fit; wrap: free text that must be read
#           whole (a problem, a reason): wrapped at spaces.
# When the table is too wide, headers with underscores go onto two or three lines (first_ /
# order_at), free text shrinks down to 30 characters, then the columns the command names in
# ``drop`` go, in that order, with a note under the table; only when none is left to go does
# free text shrink further. ``--wide`` shows every column, every value whole, however wide.

WideOption = Annotated[
    bool,
    typer.Option(
        "--wide",
        help="Show every column, and long values whole, even if the table is then wider than "
        "the terminal.",
    ),
]

KEY_COLUMNS = frozenset(
    {
        "customer_id",
        "email",
        "first_name",
        "last_name",
        "name",
        "campaign",
        "segment",
        "order_id",
        "file_name",
        "metric",
        "cohort",
    }
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?)?$")
_TEXT_ROOM = 30  # columns drop out before free text gets narrower than this
_TEXT_MIN = 12  # and when that is not enough, text shrinks to this (or its header)


@dataclass
class _Col:
    name: str
    role: str  # key, number, date, text, wrap
    values: list[str]
    header: str = ""
    width: int = 0

    @property
    def longest(self) -> int:
        return max((cell_len(v) for v in self.values), default=0)

    @property
    def natural(self) -> int:
        return max(self.longest, cell_len(self.name))

    @property
    def narrowest_header(self) -> int:
        return max(map(cell_len, _header_lines(self.name, 0)))

    @property
    def compact(self) -> int:
        """The width with the header on lines split after its underscores."""
        return max(self.longest, self.narrowest_header)

    @property
    def flexible(self) -> bool:
        return self.role in ("text", "wrap")

    def least(self, floor: int, words: bool = True) -> int:
        """How narrow the column may get: text down to ``floor`` characters (or its header's
        widest line; wrapped text, with ``words``, not below its longest word, up to 30), the
        rest whole."""
        if self.role == "wrap" and words:
            word = max((cell_len(w) for v in self.values for w in v.split()), default=0)
            floor = max(floor, min(word, _TEXT_ROOM))
        if self.flexible:
            return min(self.natural, max(self.narrowest_header, floor))
        return self.compact

    def split_header(self, width: int) -> None:
        self.header, self.width = "\n".join(_header_lines(self.name, width)), width


def _header_lines(name: str, width: int) -> list[str]:
    """``first_order_at`` -> ``["first_", "order_at"]``: the header on as few lines (at most
    three, split after underscores) as fit in ``width``; else the narrowest split."""
    parts = [p + "_" for p in name.split("_")]
    parts[-1] = parts[-1][:-1]
    splits = [[name]]
    n = len(parts)
    for cuts in [(i,) for i in range(1, n)] + [
        (i, j) for i in range(1, n) for j in range(i + 1, n)
    ]:
        edges = zip((0, *cuts), (*cuts, n), strict=True)
        splits.append(["".join(parts[a:b]) for a, b in edges])
    fitting = [lines for lines in splits if max(map(cell_len, lines)) <= width]
    if fitting:
        return min(fitting, key=lambda lines: (len(lines), max(map(cell_len, lines))))
    return min(splits, key=lambda lines: (max(map(cell_len, lines)), len(lines)))


def _role(name: str, values: Sequence[Any], keys: Collection[str], wrap: Collection[str]) -> str:
    if name in keys:
        return "key"
    if name in wrap:
        return "wrap"
    present = [v for v in values if v is not None and v != ""]
    if any(isinstance(v, int | float) and not isinstance(v, bool) for v in present[:50]):
        return "number"
    if present and all(
        isinstance(v, date | datetime) or (isinstance(v, str) and _DATE.match(v)) for v in present
    ):
        return "date"
    return "text"


def _overhead(count: int) -> int:
    """Border and padding a table of ``count`` columns takes: a rule left of every column and
    at the right edge, one space each side of every cell."""
    return 3 * count + 1


def _fits(cols: list[_Col], width: int, floor: int, words: bool = True) -> bool:
    """Whether ``cols`` fit in ``width`` with text shortened down to ``floor`` (see
    :meth:`_Col.least`), putting as few headers on more lines as that takes (the widest
    savings first)."""

    def needed() -> int:
        return _overhead(len(cols)) + sum(
            min(c.least(floor, words), c.width) if c.flexible else c.width for c in cols
        )

    for col in cols:
        col.header, col.width = col.name, col.natural
    for col in sorted(cols, key=lambda c: c.compact - c.natural):
        if needed() <= width or col.compact >= col.natural:
            break
        col.split_header(col.compact)
    return needed() <= width


def _fit(
    cols: list[_Col], width: int, drop: Sequence[str | tuple[str, ...]]
) -> tuple[list[_Col], list[str]]:
    """Set each column's width and header for ``width``; returns the columns shown and the
    names of those left out. Columns named in ``drop`` (a name, or a tuple of names that go
    together) go, in its order, before free text gets shorter than :data:`_TEXT_ROOM`; a
    column that went early comes back when others going made room for it. When all of them
    are gone and it is still too wide, free text shrinks further (to :data:`_TEXT_MIN`)."""
    groups = [(d,) if isinstance(d, str) else tuple(d) for d in drop]
    gone: list[tuple[str, ...]] = []

    def without(names: list[tuple[str, ...]]) -> list[_Col]:
        return [c for c in cols if not any(c.name in g for g in names)] or cols[:1]

    for group in [*groups, None]:
        if _fits(without(gone), width, _TEXT_ROOM):
            for back in reversed(gone[:-1]):
                fewer = [g for g in gone if g != back]
                if _fits(without(fewer), width, _TEXT_ROOM):
                    gone = fewer
            shown = without(gone)
            _fits(shown, width, _TEXT_ROOM)
            _share(shown, width, _TEXT_ROOM)
            return shown, [c.name for c in cols if c not in shown]
        if group is not None:
            gone.append(group)
    shown = without(gone)
    words = _fits(shown, width, _TEXT_MIN)  # wrapped words whole if that fits, else folded
    _fits(shown, width, _TEXT_MIN, words)
    _share(shown, width, _TEXT_MIN, words)  # if even that is too wide, Rich squeezes the rest
    return shown, [c.name for c in cols if c not in shown]


def _share(cols: list[_Col], width: int, floor: int, words: bool = True) -> None:
    """Give the free-text columns the room the others leave, each up to its longest value."""
    flexible = [c for c in cols if c.flexible]
    room = width - _overhead(len(cols)) - sum(c.width for c in cols if not c.flexible)
    for col in flexible:
        col.width = min(col.least(floor, words), col.width)
    spare = room - sum(c.width for c in flexible)
    wanted = {id(c): c.natural - c.width for c in flexible}
    total = sum(wanted.values())
    if spare <= 0 or total <= 0:
        return
    for col in flexible:
        col.width += min(wanted[id(col)], spare * wanted[id(col)] // total)
    for col in flexible:  # what rounding left over, to the first that can use it
        col.width += max(min(col.natural - col.width, room - sum(c.width for c in flexible)), 0)


def render_table(
    rows: Sequence[Row],
    columns: Sequence[str],
    fmt: OutputFormat,
    *,
    keys: Collection[str] | None = None,
    wrap: Collection[str] = (),
    drop: Sequence[str | tuple[str, ...]] = (),
    wide: bool = False,
    title: str | None = None,
    styles: Mapping[str, Callable[[Any], str]] | None = None,
    empty: str = "Nothing to show.",
) -> None:
    """Like :func:`render_rows`, laid out for the terminal's width (see the roles above).

    ``keys`` are the identifying columns (default: those in :data:`KEY_COLUMNS`), ``wrap``
    the free-text columns to wrap rather than shorten, ``drop`` the columns that may go when
    the table does not fit, the first named first. csv and json are as render_rows writes.
    """
    if fmt is not OutputFormat.table or not rows:
        render_rows(rows, columns, fmt, title=title, empty=empty)
        return
    keys = KEY_COLUMNS if keys is None else keys
    cols = [
        _Col(
            name,
            _role(name, [r.get(name) for r in rows], keys, wrap),
            [cell_text(r.get(name)) for r in rows],
        )
        for name in columns
    ]
    hidden: list[str] = []
    if wide:
        shown = cols
        for col in cols:
            col.header, col.width = col.name, col.natural
    else:
        # a column with nothing in it goes first (the rest in the command's order)
        empty_cols = [c.name for c in cols if not any(c.values) and c.role != "key"]
        first = [*empty_cols, *(d for d in drop if d not in empty_cols)]
        shown, hidden = _fit(cols, console.width, first)
    table = Table(title=escape(cell_text(title)) if title else None, header_style="bold")
    for col in shown:
        table.add_column(
            escape(col.header),
            justify="right" if col.role == "number" else "left",
            width=col.width,
            no_wrap=col.role != "wrap",
            overflow="fold" if col.role == "wrap" else "ellipsis",
        )
    for row in rows:
        cells = []
        for col in shown:
            value = row.get(col.name)
            style = styles.get(col.name) if styles else None
            cells.append(Text(cell_text(value), style=style(value) if style else ""))
        table.add_row(*cells)
    needed = sum(c.width for c in shown) + _overhead(len(shown))
    if wide and needed > console.width:
        _print_wider(table, needed)
    else:
        console.print(table)
    cut = any(c.role == "text" and c.longest > c.width for c in shown)
    notes = []
    if hidden:
        notes.append(
            f"{len(hidden)} column{'s' if len(hidden) > 1 else ''} hidden ({', '.join(hidden)})"
        )
    if cut:
        notes.append("long values cut short (…)")
    if notes:
        console.print(escape(f"{', '.join(notes)}; --wide shows all"), style="dim")


def _print_wider(renderable: Any, width: int) -> None:
    """Print wider than the terminal (``--wide``): the lines are as long as the table."""
    wider = Console(
        width=width,
        file=console.file,
        force_terminal=console.is_terminal,
        color_system=console.color_system,  # type: ignore[arg-type]
        no_color=console.no_color,
    )
    wider.print(renderable)


def short_times(rows: Sequence[Row], *keys: str, minutes: bool = False) -> list[dict[str, Any]]:
    """For a table: timestamps as dates (or to the minute); csv and json keep full UTC text."""
    out = []
    for row in rows:
        copy = dict(row)
        for key in keys:
            value = copy.get(key)
            if isinstance(value, str) and len(value) >= 16:
                copy[key] = value[:16].replace("T", " ") if minutes else value[:10]
        out.append(copy)
    return out


def render_matrix(
    title: str,
    labels: Sequence[str],
    rows: Sequence[tuple[str, Sequence[Text]]],
    *,
    corner: str,
    extra: Sequence[str] = (),
    wide: bool = False,
) -> None:
    """A square table (``rows`` of cells, one per label and then one per ``extra`` column),
    whose column headers are the row labels. It takes the first layout that fits: with
    borders; without; with the columns numbered and each row label carrying its number
    (``3 loyal``); else one line per non-empty cell. No name is ever cut."""
    numbers = {label: str(i) for i, label in enumerate(labels, 1)}
    given = dict(rows)

    def layout(named: bool, boxed: bool) -> Table:
        table = Table(title=escape(title), header_style="bold")
        if not boxed:
            table = Table(title=escape(title), header_style="bold underline", box=None)
            table.padding = (0, 0, 0, 1)
        table.add_column(escape(corner), no_wrap=True)
        for head in [*labels, *extra]:
            shown = head if named else numbers.get(head, head)
            table.add_column(escape(shown), justify="right", no_wrap=True)
        # numbered, every label needs a row to say which name its number stands for
        for label in [r for r, _ in rows] if named else labels:
            cells = given.get(label)
            name = label if named else f"{numbers[label]:>2} {label}"
            if cells is None:
                table.add_row(Text(name, style="dim"), *[""] * (len(labels) + len(extra)))
            else:
                table.add_row(Text(name, style="bold"), *cells)
        return table

    unbounded = console.options.update_width(10_000)

    def width(table: Table) -> int:
        return Measurement.get(console, unbounded, table).maximum

    if wide:
        table = layout(named=True, boxed=True)
        needed = width(table)
        if needed > console.width:
            _print_wider(table, needed)
        else:
            console.print(table)
        return
    for named, boxed in ((True, True), (True, False), (False, False)):
        table = layout(named, boxed)
        if width(table) <= console.width:
            console.print(table)
            if not named:
                note = "Columns are numbered as the rows; --wide shows the names."
                console.print(escape(note), style="dim")
            return
    # too many even numbered: one line per move, every name whole
    pairs = [
        {"from": a, "to": b, "customers": int(cell.plain.replace(",", ""))}
        for a, cells in rows
        for b, cell in zip(labels, cells, strict=False)
        if cell.plain
    ]
    render_table(pairs, ["from", "to", "customers"], OutputFormat.table, title=title)
    console.print(escape("--wide shows them as a table."), style="dim")
