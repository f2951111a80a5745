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
"""

from __future__ import annotations

import codecs
import csv
import gc
import hashlib
import importlib.abc
import io
import re
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from retain_cli.analytics.metrics import OrderArrays, countable_orders
from retain_cli.errors import ImportFileError, UsageError
from retain_cli.imports.layouts import (
    FIELD_TYPES,
    GENERIC_BY_KIND,
    LAYOUTS,
    Kind,
    Layout,
    detect,
    header_key,
    layout_names,
)
from retain_cli.money import MINOR_UNITS, normalise_currency, parse_amount
from retain_cli.store.imports import ORDER_COLUMNS
from retain_cli.timeutil import ISO_FORMAT

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from retain_cli.store import Store

Progress = Callable[[int, int], None]

KINDS: tuple[Kind, ...] = ("customers", "orders", "suppressions")

#: consent values (lower-cased); -1 is an explicit opt-out, which also suppresses the address
CONSENT_VALUES: dict[str, int] = {
    **dict.fromkeys(
        ("yes", "y", "true", "t", "1", "subscribed", "opted in", "opt in", "accepted"), 1
    ),
    **dict.fromkeys(
        (
            "no",
            "n",
            "false",
            "f",
            "0",
            "not subscribed",
            "never subscribed",
            "pending",
            "not opted in",
            "declined",
        ),
        0,
    ),
    **dict.fromkeys(("unsubscribed", "opted out", "opt out", "revoked"), -1),
}
BOOL_VALUES: dict[str, bool] = {
    **dict.fromkeys(("yes", "y", "true", "t", "1"), True),
    **dict.fromkeys(("no", "n", "false", "f", "0"), False),
}
#: Stripe payment statuses that mean the money was taken
STRIPE_SUCCEEDED = {"paid", "succeeded", "refunded", "partially refunded", "captured"}
CANCELLED_STATUSES = {"cancelled", "canceled", "voided", "void"}
_CANCELLED_FLAG = "\x00cancelled"

_EMAIL = re.compile(r"[^@\s,;<>\"']+@[^@\s,;<>\"']+\.[^@\s,;<>\"'.]+")
#: _EMAIL for values without whitespace, anchored, in RE2 syntax (see _plain_emails)
_PLAIN_EMAIL = r"^[^@,;<>\"']+@[^@,;<>\"']+\.[^@,;<>\"'.]+$"
_ISO_DATE = re.compile(
    r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"
    r"(?:[T ]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
_DMY_DATE = re.compile(
    r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})"
    r"(?:[T ,]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*([AP]M)?)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
# the same two shapes for Arrow's RE2 (parse_many), ASCII only and with named fields
_TIME_RE2 = r"(?:[T ]+(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,]\d+)?)?"
_OFFSET_RE2 = r"\s*(?P<off>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?\s*$"
_ISO_DATE_RE2 = (
    r"(?i)^\s*(?P<a>\d{4})[-/.](?P<b>\d{1,2})[-/.](?P<c>\d{1,2})"
    + _TIME_RE2
    + r")?(?P<m>)"
    + _OFFSET_RE2
)
_DMY_DATE_RE2 = (
    r"(?i)^\s*(?P<a>\d{1,2})[/.\-](?P<b>\d{1,2})[/.\-](?P<c>\d{4}|\d{2})"
    + _TIME_RE2.replace("[T ]+", "[T ,]+")
    + r"\s*(?P<m>[AP]M)?)?"
    + _OFFSET_RE2
)
_FIXED_DATE_RE2 = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}:\d{2}(?:Z| ?[+-]\d{2}(?::?\d{2})?)?)?$"
_BIRTHDAY = re.compile(r"(?:(\d{4})|-)?-(\d{1,2})-(\d{1,2})(?:[T ].*)?")
_CURRENCY = re.compile(r"[A-Z]{3}")


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
    #: rows imported with an unreadable optional value left out
    warnings: int = 0
    warnings_file: Path | None = None
    #: suppressions: the source recorded with the new addresses
    origin: str | None = None

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
            "rejects_file": str(self.rejects_file) if self.rejects_file else None,
            "warnings_file": str(self.warnings_file) if self.warnings_file else None,
            "dry_run": self.dry_run,
            **({"origin": self.origin} if self.origin is not None else {}),
        }


def rejects_path(path: Path) -> Path:
    """Where the rejected rows of ``path`` are written: ``FILE.rejects.csv``."""
    return path.with_name(path.name + ".rejects.csv")


def warnings_path(path: Path) -> Path:
    """Where the rows of ``path`` imported with a value left out are listed:
    ``FILE.warnings.csv``."""
    return path.with_name(path.name + ".warnings.csv")


# --------------------------------------------------------------------------------------------
# reading the file


@dataclass
class _Source:
    path: Path
    data: bytes  # UTF-8, no BOM
    sha256: str
    header: list[str]
    delimiter: str
    headerless: bool = False
    encoding: str | None = None

    @property
    def text(self) -> str:
        """The whole file as text, read again on demand (only rejects need it)."""
        raw = self.path.read_bytes()
        if self.encoding is None:
            return raw.decode("utf-8-sig")
        return raw.decode(self.encoding).removeprefix("\ufeff")


def _fail(path: Path, message: str) -> ImportFileError:
    return ImportFileError(f"{path}: {message}")


def _delimiter_option(value: str | None) -> str | None:
    if value is None:
        return None
    named = {"tab": "\t", "\\t": "\t", "semicolon": ";", "comma": ",", "pipe": "|"}
    value = named.get(value.lower(), value)
    if len(value) != 1:
        raise UsageError(f"--delimiter {value!r} must be one character (or 'tab')")
    return value


def _load(path: Path, kind: Kind, options: ImportOptions) -> _Source:
    if not path.exists():
        raise _fail(path, "file not found; check the path")
    if path.is_dir():
        raise _fail(path, "is a folder, not a CSV file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _fail(path, f"cannot read the file ({exc.strerror}); check its permissions") from None
    if not raw.removeprefix(codecs.BOM_UTF8).strip():
        raise _fail(path, "the file is empty; export it again from your shop")
    encoding = options.encoding
    # Excel's "Unicode Text" (and other UTF-16 text) starts with a byte order mark
    utf16 = (
        encoding is None
        and raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
        and not raw.startswith(codecs.BOM_UTF32_LE)
    )
    if utf16:
        encoding = "utf-16"  # the codec reads the byte order from the mark
    if b"\x00" in raw[:8192] and encoding is None:
        raise _fail(
            path,
            "looks like a binary file (a spreadsheet such as .xlsx?), not CSV; "
            "export or save it as CSV (or pass --encoding utf-16 if it is UTF-16 text)",
        )
    digest = hashlib.sha256(raw).hexdigest()
    if encoding is None:
        data = raw[len(codecs.BOM_UTF8) :] if raw.startswith(codecs.BOM_UTF8) else raw
        bad = _utf8_error(data)
        if bad is not None:
            raise _fail(
                path,
                f"is not UTF-8 text (byte 0x{data[bad]:02x} at position {bad}); "
                "pass --encoding with the file's encoding, e.g. --encoding cp1252",
            )
        text = codecs.getincrementaldecoder("utf-8")().decode(data[:65536])
    else:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise UsageError(
                f"unknown --encoding {encoding!r}; try utf-8, cp1252, latin-1 or utf-16"
            ) from None
        try:
            text = raw.decode(encoding).removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            raise _fail(
                path, f"cannot be read as {encoding} ({exc.reason} at byte {exc.start})"
            ) from None
        data = text.encode("utf-8")
    if not text.strip():
        raise _fail(path, "the file is empty; export it again from your shop")
    del raw

    forced = _delimiter_option(options.delimiter)
    delimiter = forced or ","
    head = text[:65536]
    del text

    def read_header() -> list[str]:
        try:
            return [h.strip() for h in next(csv.reader(io.StringIO(head), delimiter=delimiter))]
        except (csv.Error, StopIteration) as exc:
            raise _fail(path, f"cannot read the header line ({exc})") from None

    header = read_header()
    first_line = head.split("\n", 1)[0]
    if len(header) == 1 and forced is None:
        # one column read with commas: a spreadsheet's semicolon (Excel in much of Europe),
        # tab (Excel's "Unicode Text") or pipe export; the separator the header holds most of
        counts = {other: first_line.count(other) for other in (";", "\t", "|")}
        other = max(counts, key=lambda candidate: counts[candidate])
        if counts[other]:
            delimiter = other
            header = read_header()
    headerless = False
    if kind == "suppressions" and len(header) == 1 and _EMAIL.fullmatch(header[0]):
        headerless = True  # a bare list of addresses
    elif all(not h for h in header):
        raise _fail(path, "the first line is blank; it must be the header with the column names")
    return _Source(path, data, digest, header, delimiter, headerless, encoding)


def _arrow_without_pandas() -> None:
    """Keep pyarrow from importing pandas, which an import never gives it (0.3-0.4 s).

    pyarrow looks for pandas the first time it converts values, and imports it if it can.
    That first look is made to fail; pyarrow looks again, and finds pandas, if it is ever
    asked for a pandas conversion."""
    if "pandas" in sys.modules:
        return
    import pyarrow as pa

    blocker = _NoPandas()
    sys.meta_path.insert(0, blocker)
    try:
        pa.array([0])
    finally:
        sys.meta_path.remove(blocker)


class _NoPandas(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname == "pandas":
            raise ModuleNotFoundError("pandas is not needed here", name=fullname)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cycle collector off while an import holds millions of objects that cannot form
    cycles: it would walk them again and again (half a second on a million orders)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _release_arrow_memory() -> None:
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _utf8_error(data: bytes) -> int | None:
    """Offset of the first byte that is not valid UTF-8 (None if all is), without holding a
    decoded copy of a big file in memory."""
    if data.isascii():
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 1 << 22
    for start in range(0, len(data), step):
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(data[start : start + step], final=start + step >= len(data))
        except UnicodeDecodeError as exc:
            return start - pending + exc.start
    return None


def _read_table(source: _Source, columns: Sequence[int]) -> tuple[pa.Table, int]:
    """The used columns as strings (named c<index>), and how many rows had the wrong number
    of fields (skipped here; found again with their line numbers for the rejects file)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    _arrow_without_pandas()
    names = [f"c{i}" for i in range(len(source.header))]
    wanted = [names[i] for i in sorted(set(columns))]
    invalid = 0

    def on_invalid(_row: Any) -> str:
        nonlocal invalid
        invalid += 1
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.BufferReader(source.data),
            read_options=pacsv.ReadOptions(
                column_names=names, skip_rows=0 if source.headerless else 1, block_size=1 << 22
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=source.delimiter,
                newlines_in_values=b'"' in source.data,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(wanted, pa.string()),
                include_columns=wanted,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        raise _fail(source.path, f"cannot be read as CSV ({exc})") from None
    return table, invalid


def _scan_lines(
    source: _Source, wanted: set[int]
) -> tuple[dict[int, tuple[int, list[str]]], list[tuple[int, list[str], str]]]:
    """Physical line numbers (the header is line 1) and original fields of the data rows in
    ``wanted`` (row indexes as read by pyarrow), plus every row with a wrong field count."""
    reader = csv.reader(io.StringIO(source.text), delimiter=source.delimiter)
    ncols = len(source.header)
    if not source.headerless:
        next(reader)
    end = reader.line_num
    index = 0
    found: dict[int, tuple[int, list[str]]] = {}
    invalid: list[tuple[int, list[str], str]] = []
    for record in reader:
        start, end = end + 1, reader.line_num
        if not record:
            continue
        if len(record) != ncols:
            reason = f"expected {ncols} fields, found {len(record)}"
            if len(record) > ncols:
                reason += f" (extra: {', '.join(repr(f) for f in record[ncols:])})"
            invalid.append((start, record, reason))
            continue
        if index in wanted:
            found[index] = (start, record)
        index += 1
    return found, invalid


# --------------------------------------------------------------------------------------------
# layout and columns


def _choose_layout(source: _Source, kind: Kind, options: ImportOptions) -> Layout:
    if options.source:
        layout = LAYOUTS.get(options.source)
        if layout is None:
            raise UsageError(
                f"unknown --source {options.source!r}; choose one of: "
                + ", ".join(layout_names(kind))
            )
        if layout.kind != kind:
            raise UsageError(
                f"--source {layout.name} is a layout for {layout.kind}; "
                f"use 'retain import {layout.kind}' for this file"
            )
        return layout
    if source.headerless:
        return GENERIC_BY_KIND[kind]
    layout, other = detect([header_key(h) for h in source.header], kind)
    if other is not None:
        raise _fail(
            source.path,
            f"this looks like a {other.label} export, which holds {other.kind}, not {kind}; "
            f"use 'retain import {other.kind} {source.path}' (or --source to force a layout)",
        )
    return layout


def _find_columns(source: _Source, layout: Layout, options: ImportOptions) -> dict[str, int]:
    """field -> column index, from the layout's headers and --map."""
    if source.headerless:
        return {"email": 0}
    keys = [header_key(h) for h in source.header]
    found: dict[str, int] = {}
    for name in layout.fields:
        for header in layout.columns.get(name, ()):
            if header in keys:
                found[name] = keys.index(header)
                break
    shown = ", ".join(repr(h) for h in source.header)
    for name, column in options.mapping.items():
        if name not in layout.fields:
            raise UsageError(
                f"--map {name}={column}: unknown field {name!r} for {layout.kind}; "
                f"fields are: {', '.join(layout.fields)}"
            )
        if column in source.header:
            found[name] = source.header.index(column)
        elif header_key(column) in keys:
            found[name] = keys.index(header_key(column))
        else:
            raise _fail(
                source.path, f"--map {name}={column}: no column {column!r}; the columns are {shown}"
            )
    missing: list[tuple[str, ...]] = [(n,) for n in layout.required if n not in found]
    missing += [group for group in layout.one_of if not any(n in found for n in group)]
    if missing:
        raise _missing(source, layout, missing, shown)
    return found


def _missing(
    source: _Source, layout: Layout, groups: Sequence[tuple[str, ...]], shown: str
) -> ImportFileError:
    """Name every required field that was not found, where it was looked for, and the fix."""
    wanted = ", ".join(" or ".join(group) for group in groups)
    looked = sorted({h for group in groups for n in group for h in layout.columns.get(n, ())})
    hint = f" (looked for {', '.join(repr(h) for h in looked[:8])})" if looked else ""
    fix = " ".join(f"--map {group[0]}=<column>" for group in groups)
    plural = "s" if len(groups) > 1 else ""
    return _fail(
        source.path,
        f"no column for the required field{plural} {wanted} in this {layout.label} file"
        f"{hint}; pass {fix} (the columns are {shown})",
    )


# --------------------------------------------------------------------------------------------
# normalising values


class _Dates:
    """Reads dates and timestamps into stored UTC text, with the file's day/month order."""

    def __init__(self, options: ImportOptions) -> None:
        self.strptime: str | None = None
        self.dayfirst: bool | None = None
        try:
            from zoneinfo import ZoneInfo

            self.zone: tzinfo = (
                UTC if options.timezone.upper() == "UTC" else ZoneInfo(options.timezone)
            )
        except (ValueError, KeyError, OSError) as exc:
            raise UsageError(
                f"unknown --timezone {options.timezone!r} ({exc.__class__.__name__}); "
                "use a name like Europe/Berlin or America/New_York"
            ) from None
        fmt = options.date_format
        if fmt:
            if "%" in fmt:
                self.strptime = fmt
            else:
                letters = re.sub(r"[^A-Za-z]", "", fmt).upper()
                if letters.startswith("D"):
                    self.dayfirst = True
                elif letters.startswith("M"):
                    self.dayfirst = False
                elif not letters.startswith("Y"):
                    raise UsageError(
                        f"--date-format {fmt!r} not understood; use DD/MM/YYYY, MM/DD/YYYY, "
                        "YYYY-MM-DD or a strptime format such as %d.%m.%Y %H:%M"
                    )
        self.explicit = fmt is not None

    def settle_order(self, path: Path, samples: Mapping[str, Sequence[str]]) -> None:
        """Decide day-first or month-first from the file itself, or fail: never guess."""
        if self.explicit:
            return
        proof: dict[bool, tuple[str, str]] = {}
        unsure: tuple[str, str] | None = None
        for column, values in samples.items():
            for value in values:
                match = _DMY_DATE.match(value)
                if match is None:
                    continue
                first, second = int(match[1]), int(match[2])
                if first > 12:
                    proof.setdefault(True, (column, value))
                elif second > 12:
                    proof.setdefault(False, (column, value))
                elif first != second and unsure is None:
                    unsure = (column, value)
        fix = "pass --date-format DD/MM/YYYY or --date-format MM/DD/YYYY"
        if True in proof and False in proof:
            (col_a, day), (col_b, month) = proof[True], proof[False]
            raise _fail(
                path,
                f"dates are written both day-first ({day!r} in column {col_a!r}) and "
                f"month-first ({month!r} in column {col_b!r}); fix the file or {fix}",
            )
        if proof:
            self.dayfirst = next(iter(proof))
        elif unsure is not None:
            column, value = unsure
            raise _fail(
                path,
                f"column {column!r} has dates like {value!r} that can be read day-first or "
                f"month-first, and no date in the file tells which; {fix}",
            )

    def parse(self, text: str, zone: tzinfo | None = None) -> str:
        zone = zone or self.zone
        if self.strptime:
            try:
                moment = datetime.strptime(text, self.strptime)
            except ValueError:
                pass
            else:
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=zone)
                return _utc_text(moment, text)
        match = _ISO_DATE.fullmatch(text)
        meridiem = None
        if match:
            year, month, day = int(match[1]), int(match[2]), int(match[3])
            hour, minute, second, offset = match[4], match[5], match[6], match[7]
        else:
            match = _DMY_DATE.fullmatch(text)
            if match is None:
                hint = f" with --date-format {self.strptime!r}" if self.strptime else ""
                raise ValueError(
                    f"cannot read date {text!r}{hint} (use YYYY-MM-DD, a day/month date with "
                    "--date-format, or a strptime --date-format)"
                )
            first, second_part, year = int(match[1]), int(match[2]), int(match[3])
            if len(match[3]) == 2:
                year += 2000
            dayfirst = self.dayfirst
            if dayfirst is None:
                dayfirst = first > 12
            day, month = (first, second_part) if dayfirst else (second_part, first)
            hour, minute, second, meridiem, offset = (
                match[4],
                match[5],
                match[6],
                match[7],
                match[8],
            )
        h = int(hour) if hour else 0
        if meridiem:
            if h > 12:
                raise ValueError(f"cannot read time in {text!r}")
            h = h % 12 + (12 if meridiem.upper() == "PM" else 0)
        try:
            moment = datetime(year, month, day, h, int(minute or 0), int(second or 0))
        except ValueError:
            raise ValueError(f"{text!r} is not a valid date") from None
        tz: tzinfo
        if offset is None:
            tz = zone
        elif offset.upper() in ("Z", "UTC", "GMT"):
            tz = UTC
        else:
            digits = offset[1:].replace(":", "")
            delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
            tz = timezone(-delta if offset[0] == "-" else delta)
        return _utc_text(moment.replace(tzinfo=tz), text)

    def parse_many(self, values: pa.Array, zone: tzinfo | None = None) -> pa.Array:
        """:meth:`parse` column-wise for the common cases: year-first and day/month dates,
        with or without a time and an offset. Null where it cannot tell (a --date-format in
        strptime form, a time without an offset in a zone other than UTC, anything out of
        the ordinary); those values, a few at most, then go through :meth:`parse`.

        Exports stamp orders to the second, so a million orders are nearly a million
        distinct values: one at a time in Python they took ten seconds."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        zone = zone or self.zone
        if self.strptime or not len(values):
            return pa.nulls(len(values), pa.string())
        step = 1 << 18  # a slice at a time: a dozen scratch arrays of a million values add up
        if len(values) > step:
            parts = [
                self.parse_many(values.slice(at, step), zone) for at in range(0, len(values), step)
            ]
            return pa.concat_arrays(parts)
        # the usual shapes have their fields at fixed places (no regex captures: 4x faster)
        fixed = pc.match_substring_regex(values, _FIXED_DATE_RE2)
        at: dict[str, tuple[int, int | None]] = {"a": (0, 4), "b": (5, 7), "c": (8, 10)}
        at |= {"h": (11, 13), "mi": (14, 16), "s": (17, 19), "off": (19, None)}
        every = pc.all(fixed).as_py()
        if every:  # no regex captures at all
            is_iso = np.ones(len(values), bool)
            is_dmy = ~is_iso
        else:
            rest = pc.if_else(fixed, "", values)
            iso = pc.extract_regex(rest, _ISO_DATE_RE2)
            dmy = pc.extract_regex(rest, _DMY_DATE_RE2)
            is_iso = np.asarray(pc.or_(fixed, iso.is_valid()))
            is_dmy = np.asarray(dmy.is_valid())

        def field(name: str) -> pa.Array:
            place = pc.utf8_slice_codeunits(values, *at[name]) if name in at else None
            if every:
                return place if name != "off" else pc.utf8_trim_whitespace(place)
            chosen = pc.if_else(
                iso.is_valid(), pc.struct_field(iso, name), pc.struct_field(dmy, name)
            )
            if place is not None:
                chosen = pc.if_else(fixed, pc.utf8_trim_whitespace(place), chosen)
            else:
                chosen = pc.if_else(fixed, "", chosen)
            return pc.utf8_upper(pc.fill_null(chosen, ""))

        def number(text: pa.Array) -> np.ndarray:
            return np.asarray(pc.cast(pc.if_else(pc.equal(text, ""), "0", text), pa.int64()))

        a, b, c = number(field("a")), number(field("b")), number(field("c"))
        short_year = np.asarray(pc.equal(pc.utf8_length(field("c")), 2))
        hour, minute, second = number(field("h")), number(field("mi")), number(field("s"))
        meridiem = field("m") if not every else pa.nulls(len(values), pa.string())
        pm = np.asarray(pc.fill_null(pc.equal(meridiem, "PM"), False))
        twelve = pm | np.asarray(pc.fill_null(pc.equal(meridiem, "AM"), False))
        # year-first: a-b-c is year-month-day; day/month: a/b/c is first/second/year
        dayfirst = a > 12 if self.dayfirst is None else np.full(len(a), self.dayfirst)
        year = np.where(is_iso, a, np.where(short_year, c + 2000, c))
        month = np.where(is_iso, b, np.where(dayfirst, b, a))
        day = np.where(is_iso, c, np.where(dayfirst, a, b))
        valid = (is_iso | is_dmy) & ~(twelve & (hour > 12))
        hour = np.where(twelve, hour % 12 + np.where(pm, 12, 0), hour)
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        month_days = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
        last = month_days[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)
        valid &= (year >= 1000) & (year <= 9998) & (month >= 1) & (month <= 12)
        valid &= (day >= 1) & (day <= last) & (hour <= 23) & (minute <= 59) & (second <= 59)
        # the offset: none (the zone's), Z/UTC/GMT, or +HH, +HHMM, +HH:MM
        off = pc.replace_substring(field("off"), ":", "")
        named = np.asarray(pc.is_in(off, pa.array(["Z", "UTC", "GMT"])))
        signed = np.asarray(pc.match_substring_regex(off, r"^[+-]"))
        off = pc.if_else(signed, off, "+0000")
        hours, minutes = pc.utf8_slice_codeunits(off, 1, 3), pc.utf8_slice_codeunits(off, 3, 5)
        shift = number(hours) * 60 + number(minutes)
        shift = np.where(np.asarray(pc.starts_with(off, "-")), -shift, shift)
        valid &= np.abs(shift) < 24 * 60
        if not (zone is UTC or getattr(zone, "key", None) == "UTC"):
            valid &= named | signed  # local times in another zone: through parse()
        first_of_month = (
            (np.where(valid, year, 2000) - 1970).astype("datetime64[Y]").astype("datetime64[M]")
            + (np.where(valid, month, 1) - 1).astype("timedelta64[M]")
        ).astype("datetime64[D]")
        days = first_of_month.astype(np.int64) + np.where(valid, day, 1) - 1
        seconds = days * 86400 + hour * 3600 + minute * 60 + second - shift * 60
        # ISO_FORMAT: Arrow writes "YYYY-MM-DD HH:MM:SS" (its strftime is 10x slower)
        text = pa.array(np.where(valid, seconds, 0), pa.timestamp("s")).cast(pa.string())
        text = pc.binary_join_element_wise(pc.utf8_replace_slice(text, 10, 11, "T"), "Z", "")
        return pc.if_else(pa.array(valid), text, pa.scalar(None, pa.string()))


def _utc_text(moment: datetime, text: str) -> str:
    """``moment`` (aware) as stored UTC text; ``text`` is what it was read from."""
    try:
        return moment.astimezone(UTC).strftime(ISO_FORMAT)
    except OverflowError:  # 9999-12-31 23:00 -0500 is past the last day Python knows
        raise ValueError(f"{text!r} is out of the range of dates") from None


#: the start of a day/month date (03/04/..., 3.4....), its two numbers named
_DAY_MONTH_RE2 = r"^(?P<a>\d{1,2})[/.\-](?P<b>\d{1,2})[/.\-]"


def _day_month_samples(column: pa.Array) -> list[str]:
    """What :meth:`_Dates.settle_order` needs to see of a column, in file order: the first
    value of each (first number, second number) pair among its day/month dates (and any
    value that is not ASCII). Year-first dates tell nothing about the order."""
    import numpy as np
    import pyarrow.compute as pc

    shaped = pc.match_substring_regex(column, _DAY_MONTH_RE2)
    unique = pc.unique(column.filter(pc.or_(shaped, pc.invert(pc.string_is_ascii(column)))))
    parts = pc.extract_regex(unique, _DAY_MONTH_RE2)
    pairs = pc.binary_join_element_wise(
        pc.struct_field(parts, "a"), pc.struct_field(parts, "b"), "/"
    )
    odd = pc.invert(pc.string_is_ascii(unique))
    keys = pc.if_else(odd, pc.binary_join_element_wise("~", unique, ""), pairs)
    keep = pc.and_(pc.or_(parts.is_valid(), odd), pc.not_equal(unique, ""))
    values, keys = unique.filter(keep), keys.filter(keep)
    if not len(values):
        return []
    codes = pc.dictionary_encode(keys).indices.to_numpy(zero_copy_only=False)
    _, first = np.unique(codes, return_index=True)
    return list(values.take(np.sort(first)).to_pylist())


def _email(text: str) -> str:
    value = text.strip().lower()
    if value.startswith("mailto:"):
        value = value[7:]
    if not _EMAIL.fullmatch(value):
        raise ValueError(f"invalid email {text!r}")
    return value


def _plain_emails(values: pa.Array) -> pa.Array:
    """:func:`_email` column-wise for the common values: printable ASCII without spaces
    (where strip, lower and the pattern mean the same to Python and to Arrow's RE2) that
    are valid addresses; null for any other value (left to :func:`_email`)."""
    import pyarrow.compute as pc

    plain = pc.match_substring_regex(values, r"^[!-~]+$")
    lowered = pc.replace_substring_regex(pc.ascii_lower(values), "^mailto:", "")
    valid = pc.match_substring_regex(lowered, _PLAIN_EMAIL)
    return pc.if_else(pc.and_(plain, valid), lowered, None)


def _plain_amounts(values: pa.Array) -> pa.Array:
    """:func:`parse_amount` column-wise for the common values, in minor units: digits with
    at most two decimals after a dot (``12``, ``1204.5``, ``0.99``), followed, in the keys
    that pair an amount with its currency, by ``\x1f`` and a currency with two decimals (or
    none). Null for any other value (left to :func:`parse_amount`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    pattern = r"^(?P<units>\d{1,15})(?:\.(?P<cents>\d{1,2}))?(?:\x1f(?P<currency>[A-Z]{3})?)?$"
    parts = pc.extract_regex(values, pattern)
    units = pc.cast(pc.struct_field(parts, "units"), pa.int64())
    cents = pc.cast(pc.utf8_rpad(pc.struct_field(parts, "cents"), 2, "0"), pa.int64())
    minor = pc.add(pc.multiply(units, 100), pc.coalesce(cents, 0))
    others = [code for code, digits in MINOR_UNITS.items() if digits != 2]
    other_units = pc.is_in(pc.struct_field(parts, "currency"), pa.array(others, pa.string()))
    return pc.if_else(pc.fill_null(other_units, False), None, minor)


def _consent(text: str) -> int:
    value = CONSENT_VALUES.get(text.strip().lower())
    if value is None:
        raise ValueError(f"cannot read marketing consent {text!r} (expected yes or no)")
    return value


def _bool(text: str) -> bool:
    value = BOOL_VALUES.get(text.strip().lower())
    if value is None:
        raise ValueError(f"cannot read {text!r} as true or false")
    return value


def _int(text: str) -> int:
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        raise ValueError(f"cannot read {text!r} as a whole number") from None
    if number != int(number):
        raise ValueError(f"{text!r} is not a whole number")
    return int(number)


def _birthday(text: str) -> str:
    match = _BIRTHDAY.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"cannot read birthday {text!r} (use YYYY-MM-DD or --MM-DD)")
    year, month, day = match[1], int(match[2]), int(match[3])
    try:
        date(int(year) if year else 2000, month, day)
    except ValueError:
        raise ValueError(f"birthday {text!r} is not a valid date") from None
    return f"{year}-{month:02d}-{day:02d}" if year else f"--{month:02d}-{day:02d}"


def _currency(text: str) -> str:
    code = normalise_currency(text) or ""
    if not _CURRENCY.fullmatch(code):
        raise ValueError(f"currency {text!r} is not a 3-letter code such as USD")
    return code


#: field kinds trimmed column-wise (the others are trimmed per distinct value)
_TRIM_VECTORISED = {"id", "zip", "text", "money", "currency"}

#: per kind of import, the fields whose unreadable values are left out with a warning
#: instead of rejecting the row (see _Frame.normalise)
_LENIENT_FIELDS: dict[str, frozenset[str]] = {
    "customers": frozenset({"created_at", "accepts_marketing", "birthday"}),
    "orders": frozenset(
        {"subtotal", "shipping", "tax", "discount", "accepts_marketing"}
        | {"item_price", "item_quantity"}
    ),
    "suppressions": frozenset(),
}

#: a long number as a spreadsheet shows it (7.28375E+12): the digits past the first few lost
_SCIENTIFIC = r"^'*[+-]?\d(?:[.,]\d+)?[eE]\+\d{1,3}$"
#: the fields a spreadsheet mangles that way, what they hold, and what that breaks
_SCIENTIFIC_FIELDS = {
    "customer_id": ("customer ids", ", so different customers would become one"),
    "order_id": ("order ids", ", so different orders would become one"),
    "phone": ("phone numbers", ""),
    "zip": ("zip codes", ""),
}


class _Frame:
    """The file's used columns, normalised field by field, with the first error per row."""

    #: rows imported with an unreadable optional value left out: row -> [(column, reason)]
    warnings: dict[int, list[tuple[str, str]]]

    def __init__(self, source: _Source, table: pa.Table, columns: Mapping[str, int]) -> None:
        import pyarrow.compute as pc

        self.source = source
        self.columns = columns
        self.n = table.num_rows
        self.raw: dict[str, pa.Array] = {}
        blank = None
        for name, index in columns.items():
            column = table.column(f"c{index}").combine_chunks()
            if FIELD_TYPES[name] in _TRIM_VECTORISED:
                column = pc.utf8_trim_whitespace(column)
            self.raw[name] = column  # other kinds are trimmed once per distinct value
        for index in sorted(set(columns.values())):
            column = table.column(f"c{index}")
            is_blank = pc.or_(pc.equal(pc.utf8_length(column), 0), pc.utf8_is_space(column))
            blank = is_blank if blank is None else pc.and_(blank, is_blank)
        self.blank: list[bool] = (
            blank.to_pylist() if blank is not None and self.n else [False] * self.n
        )
        #: whether any row is blank
        self.any_blank = bool(blank is not None and self.n and pc.any(blank).as_py())
        self.values: dict[str, list[Any]] = {}
        self.arrays: dict[str, pa.Array] = {}
        #: per field parsed by distinct value: (row -> distinct index, parsed distinct values)
        self.codes: dict[str, tuple[np.ndarray, list[Any]]] = {}
        self.errors: dict[int, tuple[str, str]] = {}
        self.warnings = {}

    def header(self, name: str) -> str:
        return self.source.header[self.columns[name]]

    def has(self, name: str) -> bool:
        return name in self.columns

    def get(self, name: str) -> list[Any]:
        """Normalised values of a field (None where blank or not in the file)."""
        values = self.values.get(name)
        if values is None:
            if name in self.arrays:
                values = self.values[name] = self.arrays[name].to_pylist()
                return values
            return [None] * self.n
        return values

    def has_nulls(self, name: str) -> bool:
        """Whether :meth:`get` would give None for any row (without building the list)."""
        if name in self.codes:
            import numpy as np

            indices, parsed = self.codes[name]
            missing = [i for i, value in enumerate(parsed) if value is None]
            return bool(missing) and bool(np.isin(indices, missing).any())
        if name in self.arrays:
            return bool(self.arrays[name].null_count)
        if name in self.values:
            return None in self.values[name]
        return self.n > 0

    def reject(self, row: int, name: str | None, reason: str) -> None:
        if row not in self.errors:
            self.errors[row] = (self.header(name) if name else "", reason)

    def release(self) -> None:
        """Let go of the parsed values (a million-row file holds hundreds of MB of them);
        the errors and warnings stay."""
        self.values.clear()
        self.arrays.clear()
        self.codes.clear()
        self.raw.clear()
        self.blank = []
        _release_arrow_memory()

    def warn(self, row: int, name: str, reason: str) -> None:
        """The row is imported with this field left out."""
        self.warnings.setdefault(row, []).append((self.header(name), reason))

    def map_unique(
        self,
        name: str,
        parse: Callable[[str], Any],
        key: pa.Array | None = None,
        vectorised: Callable[[pa.Array], pa.Array] | None = None,
        lenient: bool = False,
    ) -> None:
        """Parse each distinct value of a field once; errors reject the rows holding them
        (``lenient``: the rows are imported without that value, with a warning).

        ``vectorised`` (optional) parses the distinct values column-wise, giving null where
        it cannot tell (those values, a few at most, then go through ``parse``)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        column = self.raw[name] if key is None else key
        encoded = pc.dictionary_encode(column)
        positions: Iterable[int]
        if vectorised is not None:
            parsed = vectorised(encoded.dictionary)
            out: list[Any] = parsed.to_pylist()
            positions = np.flatnonzero(parsed.is_null().to_numpy(zero_copy_only=False)).tolist()
            uniques = encoded.dictionary.take(pa.array(positions, pa.int64())).to_pylist()
            del parsed
            _release_arrow_memory()  # the column-wise parse's scratch arrays
        else:
            uniques = encoded.dictionary.to_pylist()
            out = [None] * len(uniques)
            positions = range(len(uniques))
        bad: dict[int, str] = {}
        for position, text in zip(positions, uniques, strict=True):
            if key is None:
                text = text.strip()
            if not text or (key is not None and text.startswith("\x1f")):
                out[position] = None
                continue
            try:
                out[position] = parse(text)
            except ValueError as exc:
                out[position] = None
                bad[position] = str(exc)
        indices: np.ndarray = encoded.indices.to_numpy(zero_copy_only=False)
        lookup = np.empty(len(out), dtype=object)
        lookup[:] = out
        self.values[name] = lookup[indices].tolist() if len(out) else [None] * self.n
        self.codes[name] = (indices, out)
        if bad:
            rows = np.nonzero(np.isin(indices, np.fromiter(bad, dtype=indices.dtype)))[0]
            for row in rows.tolist():
                if lenient:
                    self.warn(row, name, bad[int(indices[row])])
                else:
                    self.reject(row, name, bad[int(indices[row])])

    def map_vector(self, name: str, values: pa.Array) -> None:
        """Store an already-normalised column (blank -> None)."""
        import pyarrow.compute as pc

        normalised = pc.if_else(pc.equal(values, ""), None, values)
        if name == "order_id":
            # a million distinct ids are kept in Arrow and turned into Python strings one
            # chunk at a time, as they are written
            self.arrays[name] = normalised
        else:
            self.values[name] = normalised.to_pylist()

    def _fill_currency(self) -> None:
        """Line-item exports give the currency on an order's first row only; the item prices
        on the other rows are in that currency too (it matters for JPY and the like)."""
        import pyarrow as pa

        ids = self.raw["order_id"].to_pylist()
        codes = self.raw["currency"].to_pylist()
        seen: dict[str, str] = {}
        for row, (order_id, code) in enumerate(zip(ids, codes, strict=True)):
            if code:
                seen.setdefault(order_id, code)
            elif order_id in seen:
                codes[row] = seen[order_id]
        self.raw["currency"] = pa.array(codes, type=pa.string())

    def refuse_scientific_ids(self) -> None:
        """Fail when a spreadsheet turned ids into rounded numbers such as ``7.28375E+12``
        (see :data:`_SCIENTIFIC`): imported as they are, different customers become one."""
        import pyarrow.compute as pc

        for name, (what, harm) in _SCIENTIFIC_FIELDS.items():
            if name not in self.columns:
                continue
            matches = pc.match_substring_regex(self.raw[name], _SCIENTIFIC)
            row = pc.index(matches, True).as_py()
            if row < 0:
                continue
            value = self.raw[name][row].as_py()
            found, _invalid = _scan_lines(self.source, {row})
            where = f" on line {found[row][0]}" if row in found else ""
            raise _fail(
                self.source.path,
                f"column {self.header(name)!r} holds {what} in scientific notation "
                f"(e.g. {value!r}{where}): a spreadsheet rounded them and their last digits "
                f"are lost{harm}; nothing was imported. Re-export from the shop, or format "
                "the column as Text in the spreadsheet before saving as CSV",
            )

    def normalise(self, layout: Layout, options: ImportOptions, dates: _Dates) -> None:
        import pyarrow.compute as pc

        self.refuse_scientific_ids()
        date_fields = [n for n in self.columns if FIELD_TYPES[n] in ("date", "cancelled")]
        samples = {self.header(n): _day_month_samples(self.raw[n]) for n in date_fields}
        dates.settle_order(self.source.path, samples)
        # an unreadable optional value (a customer's birthday, consent or sign-up date; an
        # order's subtotal, shipping, tax, discount or consent) is left out with a warning
        # and the row still imported; what identifies a row or counts in the metrics is not
        lenient = _LENIENT_FIELDS[layout.kind]

        for name in self.columns:
            kind = FIELD_TYPES[name]
            raw = self.raw[name]
            if kind == "id" or kind == "zip":
                if pc.any(pc.starts_with(raw, "'")).as_py():
                    raw = pc.replace_substring_regex(raw, "^'+", "")
                self.map_vector(name, pc.utf8_trim_whitespace(raw))
            elif kind == "text":
                self.map_vector(name, raw)
            elif kind == "email":
                self.map_unique(name, _email, vectorised=_plain_emails)
            elif kind == "date":
                zone = UTC if name in layout.utc_fields else None
                self.map_unique(
                    name,
                    partial(dates.parse, zone=zone),
                    vectorised=partial(dates.parse_many, zone=zone),
                    lenient=name in lenient,
                )
            elif kind == "cancelled":
                self.map_unique(name, lambda t: _cancelled(t, dates), vectorised=dates.parse_many)
            elif kind == "consent":
                self.map_unique(name, _consent, lenient=name in lenient)
            elif kind == "bool":
                self.map_unique(name, _bool)
            elif kind == "int":
                self.map_unique(name, _int, lenient=name in lenient)
            elif kind == "birthday":
                self.map_unique(name, _birthday, lenient=name in lenient)
            elif kind == "currency":
                self.map_unique(name, _currency)
        if (
            "currency" in self.columns
            and "order_id" in self.columns
            and ("item_name" in self.columns or "item_sku" in self.columns)
        ):
            self._fill_currency()
        money: list[tuple[str, pa.Array]] = []
        for name in self.columns:
            if FIELD_TYPES[name] != "money":
                continue
            comma = options.decimal_comma
            if "currency" in self.columns:
                key = pc.binary_join_element_wise(
                    self.raw[name], pc.utf8_upper(self.raw["currency"]), "\x1f"
                )
                pair = partial(_money_pair, decimal_comma=comma, field=name)
                vectorised = None if comma else _plain_amounts
                self.map_unique(name, pair, key=key, vectorised=vectorised, lenient=name in lenient)
                money.append((name, key))
            else:
                self.map_unique(
                    name,
                    partial(_money, decimal_comma=comma, field=name),
                    vectorised=None if comma else _plain_amounts,
                    lenient=name in lenient,
                )
                money.append((name, self.raw[name]))
        if money and self.errors and not options.decimal_comma:
            self.refuse_decimal_comma(money)

    def refuse_decimal_comma(self, money: Sequence[tuple[str, pa.Array]]) -> None:
        """Fail when (nearly) every amount that tells is written with a decimal comma
        (``12,50``, ``1.204,00``) and --decimal-comma was not given: rejecting each row
        would not help anyone. Amounts that read the same either way (``12``) do not tell.

        ``money``: (field, amounts) with ``amount\x1fCURRENCY`` where the file has a
        currency column."""
        import pyarrow as pa
        import pyarrow.compute as pc

        comma_only = others = 0
        examples: dict[str, list[str]] = {}
        for name, column in money:
            counts = pc.value_counts(column)
            texts = counts.field("values").to_pylist()
            for text, n in zip(texts, counts.field("counts").to_pylist(), strict=True):
                amount, sep, currency = text.rpartition("\x1f")
                if not sep:
                    amount, currency = text, ""
                if not amount.strip():
                    continue
                dot = _amount_or_none(amount, currency, decimal_comma=False)
                comma = _amount_or_none(amount, currency, decimal_comma=True)
                if dot is not None and dot == comma:
                    continue
                if dot is None and comma is not None:
                    comma_only += n
                    examples.setdefault(name, []).append(text)
                else:
                    others += n
        if not comma_only or comma_only < 0.9 * (comma_only + others):
            return
        names = sorted(examples, key=lambda n: self.columns[n])
        column = dict(money)[names[0]]
        row = pc.index(pc.is_in(column, value_set=pa.array(examples[names[0]])), True).as_py()
        value = self.raw[names[0]][row].as_py()
        found, _invalid = _scan_lines(self.source, {row})
        where = f" on line {found[row][0]}" if row in found else ""
        shown = ", ".join(repr(self.header(n)) for n in names)
        raise _fail(
            self.source.path,
            f"the amounts in column{'s' if len(names) > 1 else ''} {shown} are written with a "
            f"decimal comma (e.g. {value!r}{where}); nothing was imported. Pass "
            "--decimal-comma to read them",
        )


def _amount_or_none(amount: str, currency: str, *, decimal_comma: bool) -> int | None:
    try:
        return parse_amount(amount, currency or None, decimal_comma=decimal_comma)
    except ValueError:
        return None


#: money fields that cannot be negative, and what to tell the user instead
_NOT_NEGATIVE = {
    "amount": "negative total {!r} is not an order; refunds belong in the refunded column "
    "(or a refund export)",
    "refunded": "negative refunded amount {!r}; write a refund as a positive amount",
}


def _money(
    text: str, decimal_comma: bool, field: str | None = None, currency: str | None = None
) -> int:
    """An amount in minor units; a negative total or refund is an error (see _NOT_NEGATIVE)."""
    value = parse_amount(text, currency, decimal_comma=decimal_comma)
    if value < 0 and field in _NOT_NEGATIVE:
        raise ValueError(_NOT_NEGATIVE[field].format(text.strip()))
    return value


def _money_pair(text: str, decimal_comma: bool, field: str | None = None) -> int:
    amount, _, currency = text.rpartition("\x1f")
    return _money(amount, decimal_comma, field, currency or None)


def _cancelled(text: str, dates: _Dates) -> str | None:
    flag = BOOL_VALUES.get(text.lower())
    if flag is not None or text.lower() in CANCELLED_STATUSES:
        return _CANCELLED_FLAG if flag is not False else None
    return dates.parse(text)


def _split_name(full: str | None) -> tuple[str | None, str | None]:
    if not full:
        return None, None
    first, _, last = full.strip().partition(" ")
    return first or None, last.strip() or None


# --------------------------------------------------------------------------------------------
# the import


#: from this many rows on, an import runs with a rollback journal (see import_transaction)
_BULK_ROWS = 50_000


def import_file(
    store: Store,
    path: Path,
    kind: Literal["customers", "orders", "suppressions"],
    options: ImportOptions = ImportOptions(),
    progress: Progress | None = None,
) -> ImportResult:
    """Import one export file; see the module docstring. Raises ImportFileError (nothing
    written) when the file cannot be used, or with --strict when any row is bad."""
    with _collector_paused():
        return _import_file(store, Path(path), kind, options, progress)


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
    source = _load(path, kind, options)
    layout = _choose_layout(source, kind, options)
    columns = _find_columns(source, layout, options)
    dates = _Dates(options)
    table, invalid_count = _read_table(source, list(columns.values()))
    source.data = b""  # free it: a big file is read again only if rows are rejected
    frame = _Frame(source, table, columns)
    del table
    frame.normalise(layout, options, dates)
    frame.raw.clear()
    _release_arrow_memory()
    total = frame.n + invalid_count
    if progress:
        progress(0, total)

    with store.import_transaction(dry_run=options.dry_run, bulk=frame.n >= _BULK_ROWS):
        import_ref = store.start_import(kind, layout.name, path.name, source.sha256)
        writer: _Writer
        if kind == "orders":
            writer = _OrdersWriter(store, frame, layout, import_ref, progress, total)
        elif kind == "customers":
            writer = _CustomersWriter(store, frame, layout, import_ref, progress, total)
        else:
            writer = _SuppressionsWriter(
                store, frame, layout, import_ref, progress, total, origin=origin or "import"
            )
        writer.run()
        frame.release()  # the written values; what follows needs only errors and warnings
        rejected_rows = sorted(frame.errors)
        rejected = len(rejected_rows) + invalid_count
        rejects_file = None
        if rejected:
            rows_out, invalid = _reject_rows(source, frame, rejected_rows, bool(invalid_count))
            if options.strict:
                line, _record, column, reason = rows_out[0]
                where = f", column {column!r}" if column else ""
                raise _fail(
                    path,
                    f"line {line}{where}: {reason}; nothing was imported (--strict). Fix the "
                    f"row, or run without --strict to import the good rows and get the bad "
                    f"ones in {rejects_path(path).name}",
                )
            if not options.dry_run:
                rejects_file = _write_rejects(source, rows_out)
            del invalid
        elif not options.dry_run:
            stale = rejects_path(path)
            if stale.exists():
                stale.unlink(missing_ok=True)
        warned, warnings_file = _report_warnings(source, frame, options)
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
        rejects_file=rejects_file,
        dry_run=options.dry_run,
        skipped=writer.skipped,
        warnings=warned,
        warnings_file=warnings_file,
        origin=(origin or "import") if kind == "suppressions" else None,
    )


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


def _report_warnings(
    source: _Source, frame: _Frame, options: ImportOptions
) -> tuple[int, Path | None]:
    """How many imported rows had a value left out, and the FILE.warnings.csv listing them
    (None on a dry run or when there are none: a stale one is removed). With --strict, a
    value left out fails the import like a bad row."""
    path = source.path
    rows = sorted(set(frame.warnings) - set(frame.errors))  # rejected rows are not imported
    if not rows:
        if not options.dry_run:
            warnings_path(path).unlink(missing_ok=True)
        return 0, None
    found, _invalid = _scan_lines(source, set(rows))
    notes = [(found[row][0], found[row][1], frame.warnings[row]) for row in rows if row in found]
    if options.strict:
        line, _record, ((column, reason), *_more) = notes[0]
        raise _fail(
            path,
            f"line {line}, column {column!r}: {reason}; nothing was imported (--strict). Fix "
            "the value, or run without --strict to import the row without it (listed in "
            f"{warnings_path(path).name})",
        )
    return len(rows), None if options.dry_run else _write_warnings(source, notes)


def _reject_rows(
    source: _Source, frame: _Frame, rows: Sequence[int], has_invalid: bool
) -> tuple[list[tuple[int, list[str], str, str]], int]:
    """(line, original fields, column, reason) of every rejected row, in file order."""
    found, invalid = _scan_lines(source, set(rows))
    out = [(found[row][0], found[row][1], *frame.errors[row]) for row in rows if row in found]
    out.extend((line, record, "", reason) for line, record, reason in invalid)
    out.sort(key=lambda item: item[0])
    return out, len(invalid)


def _write_rejects(source: _Source, rows: Sequence[tuple[int, list[str], str, str]]) -> Path:
    return _write_lines(
        source,
        rejects_path(source.path),
        "reason",
        (
            (line, record, f"{column}: {reason}" if column else reason)
            for line, record, column, reason in rows
        ),
    )


def _write_warnings(
    source: _Source, rows: Sequence[tuple[int, list[str], list[tuple[str, str]]]]
) -> Path:
    """``FILE.warnings.csv``: the rows imported with a value left out, like a rejects file
    (so it can be fixed and imported again)."""
    return _write_lines(
        source,
        warnings_path(source.path),
        "warning",
        (
            (line, record, "; ".join(f"{c}: {r} (imported without it)" for c, r in notes))
            for line, record, notes in rows
        ),
    )


def _write_lines(
    source: _Source, target: Path, last: str, rows: Iterable[tuple[int, list[str], str]]
) -> Path:
    """The original fields of some rows, their ``line`` and a ``last`` column, as CSV."""
    header = list(source.header) if not source.headerless else ["email"]
    width = len(header)
    kind = "rejects" if last == "reason" else "warnings"
    try:
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow([*header, "line", last])
            for line, record, why in rows:
                fields = (record + [""] * width)[:width] if len(record) <= width else record
                writer.writerow([*fields[:width], line, why])
    except OSError as exc:
        raise _fail(
            source.path, f"cannot write the {kind} file {target} ({exc.strerror})"
        ) from None
    return target


# --------------------------------------------------------------------------------------------
# writers: one per kind, all inside the import transaction


class _Writer:
    def __init__(
        self,
        store: Store,
        frame: _Frame,
        layout: Layout,
        import_ref: int,
        progress: Progress | None,
        total: int,
    ) -> None:
        self.store = store
        self.frame = frame
        self.layout = layout
        self.import_ref = import_ref
        self.progress = progress
        self.total = total
        self.inserted = self.updated = self.unchanged = self.skipped = 0
        self.customers_created = 0
        self.suppressions: list[tuple[str, str]] = []

    def run(self) -> None:
        raise NotImplementedError

    def refresh_analytics(self) -> None:
        """Bring the packed copies that analytics read up to date (inside the import's
        transaction, so they commit with it)."""

    def tick(self, done: int) -> None:
        if self.progress:
            self.progress(min(done, self.total), self.total)


class _SuppressionsWriter(_Writer):
    def __init__(self, *args: Any, origin: str) -> None:
        super().__init__(*args)
        self.origin = origin  # recorded as suppressions.source

    def run(self) -> None:
        frame = self.frame
        emails, reasons = frame.get("email"), frame.get("reason")
        default = f"opt-out list {frame.source.path.name}"
        for row in range(frame.n):
            if frame.blank[row]:
                self.skipped += 1
                continue
            if row in frame.errors:
                continue
            email = emails[row]
            if email is None:
                frame.reject(row, "email", "no email address")
                continue
            if self.store.suppress(email, reasons[row] or default, self.origin):
                self.inserted += 1
            else:
                self.unchanged += 1
            if row % 1000 == 0:
                self.tick(row)


def _apply_consent(
    store: Store, email: str | None, old: int | None, new: int | None, layout: Layout
) -> tuple[int | None, bool]:
    """The accepts_marketing value to store and whether an opt-out was newly recorded.

    An explicit opt-out (Square "Unsubscribed"), or a customer who had consent and now has
    not, puts the address in ``suppressions``, which no later import can undo.
    """
    if new is None:
        return old, False
    stored = 1 if new == 1 else 0
    suppressed = False
    if email and (new == -1 or (old == 1 and new == 0)):
        reason = (
            f"unsubscribed in {layout.label} export"
            if new == -1
            else f"marketing consent withdrawn in {layout.label} export"
        )
        suppressed = store.suppress(email, reason, layout.name)
    return stored, suppressed


class _CustomersWriter(_Writer):
    def run(self) -> None:
        store, frame, layout = self.store, self.frame, self.layout
        existing = store.customers_for_import()
        by_email = {c["email"]: ref for ref, c in existing.items() if c["email"]}
        by_id = {c["customer_id"]: ref for ref, c in existing.items()}
        by_source = store.customer_refs_by_source(layout.platform)
        fields = {name: frame.get(name) for name in layout.fields}
        seen: dict[int, int] = {}
        links: list[tuple[str, str, int]] = []
        for row in range(frame.n):
            if row % 1000 == 0:
                self.tick(row)
            if frame.blank[row]:
                self.skipped += 1
                continue
            if row in frame.errors:
                continue
            values = {name: column[row] for name, column in fields.items()}
            platform_id, email = values["customer_id"], values["email"]
            if not platform_id and not email:
                frame.reject(row, None, "no email address and no customer id")
                continue
            first, last = values["first_name"], values["last_name"]
            if values["name"] and not (first or last):
                first, last = _split_name(values["name"])
            data = {
                "first_name": first,
                "last_name": last,
                "phone": values["phone"],
                "company": values["company"],
                "address1": values["address1"],
                "address2": values["address2"],
                "city": values["city"],
                "province": values["province"],
                "country": values["country"],
                "zip": values["zip"],
                "birthday": values["birthday"],
                "tags": values["tags"],
                "note": values["note"],
                "source_created_at": values["created_at"],
            }
            consent = values["accepts_marketing"]
            ref = None
            if platform_id:
                ref = by_source.get(platform_id)
            if ref is None and email:
                ref = by_email.get(email)
            if ref is None and platform_id:
                ref = by_id.get(platform_id)
            if ref is not None and ref in seen:
                frame.reject(
                    row,
                    "email" if email else "customer_id",
                    "the same customer appears "
                    "more than once in the file; only the first row was used",
                )
                continue
            if ref is None:
                new = {k: v for k, v in data.items() if v is not None}
                stored, _ = _apply_consent(store, email, None, consent, layout)
                new.update(customer_id=platform_id or email, email=email, accepts_marketing=stored)
                ref = store.insert_customer(new, layout.name)
                existing[ref] = {**dict.fromkeys(data), **new}
                if email:
                    by_email[email] = ref
                by_id[new["customer_id"]] = ref
                self.inserted += 1
                self.customers_created += 1
            else:
                current = existing[ref]
                changes = {k: v for k, v in data.items() if v is not None and current[k] != v}
                if email and current["email"] != email:
                    owner = by_email.get(email)
                    if owner is not None and owner != ref:
                        frame.reject(
                            row,
                            "email",
                            f"address {email} already belongs to customer "
                            f"{existing[owner]['customer_id']}, not to {platform_id}",
                        )
                        continue
                    changes["email"] = email
                    by_email.pop(current["email"], None)
                    by_email[email] = ref
                if (
                    platform_id
                    and current["customer_id"] != platform_id
                    and current["customer_id"] in (current["email"], email)
                    and platform_id not in by_id
                ):
                    changes["customer_id"] = platform_id
                    by_id.pop(current["customer_id"], None)
                    by_id[platform_id] = ref
                stored, suppressed = _apply_consent(
                    store, email or current["email"], current["accepts_marketing"], consent, layout
                )
                if stored != current["accepts_marketing"]:
                    changes["accepts_marketing"] = stored
                linked = bool(platform_id) and platform_id not in by_source
                if changes:
                    store.update_customer(ref, changes)
                    current.update(changes)
                if changes or suppressed or linked:
                    self.updated += 1
                else:
                    self.unchanged += 1
            seen[ref] = row
            if platform_id and platform_id not in by_source:
                by_source[platform_id] = ref
                links.append((layout.platform, platform_id, ref))
        store.add_customer_sources(links)


@dataclass
class _Order:
    """One order of a grouped (line-item) export such as Shopify's."""

    row: int
    order_id: str
    rows: list[int] = field(default_factory=list)
    items: list[tuple[Any, ...]] = field(default_factory=list)


#: the order-level fields, in the order the writer reads them
_ORDER_FIELDS = (
    "order_id",
    "customer_id",
    "email",
    "first_name",
    "last_name",
    "name",
    "date",
    "amount",
    "currency",
    "subtotal",
    "shipping",
    "tax",
    "discount",
    "refunded",
    "status",
    "cancelled",
    "accepts_marketing",
)
_MISSING = {
    "date": "no date",
    "amount": "no amount",
    "email": "no email address or customer id",
}


class _OrdersWriter(_Writer):
    """Orders, column by column: a million-row file never becomes a million Python objects
    beyond the tuples handed to SQLite one chunk at a time."""

    #: the countable orders among those inserted, when the import only inserted orders
    added: OrderArrays | None = None
    #: orders_state() before the import
    state_before: tuple[int, int] = (0, 0)

    def refresh_analytics(self) -> None:
        """Keep the packed copy of the orders that metrics, segments, cohorts and predict
        read current, so the first of them after a big import is as fast as any other: the
        orders this import inserted are merged in from memory; after updates, the copy is
        read again from the database."""
        from retain_cli.analytics.metrics import add_orders, load_orders

        if not (self.inserted or self.updated):
            return
        if self.added is not None and not self.updated:
            add_orders(self.store, self.state_before, self.added)
        else:
            load_orders(self.store)

    def run(self) -> None:
        frame = self.frame
        self.state_before = self.store.orders_state()
        grouped = frame.has("item_name") or frame.has("item_sku")
        groups: list[_Order] | None = None
        good: Sequence[int]
        if grouped:
            groups = self._group()
            good = [item.row for item in groups]
        else:
            good = self._single()
        if not good:
            return
        ids = frame.arrays.get("order_id") if groups is None else None
        if ids is not None and ids.null_count == 0:
            import pyarrow as pa

            if len(good) != frame.n:
                ids = ids.take(pa.array(good, type=pa.int64()))
            if not _all_distinct(ids):
                ids = None  # duplicates: found and rejected below, in Python
            _release_arrow_memory()
        else:
            ids = None
        nones = [None] * len(good)  # one shared list for every field the file lacks
        cols: dict[str, Any] = {
            name: _pick(self.frame.get(name), good, frame.n)
            if frame.has(name) or name in frame.values
            else nones
            for name in _ORDER_FIELDS
            if not (name == "order_id" and ids is not None)
        }
        if ids is not None:
            cols["order_id"] = ids
        elif groups is None:
            cols["order_id"] = self._order_ids(good, cols)
            keep = self._drop_duplicates(good, cols["order_id"])
            if keep is not None:
                good = [good[i] for i in keep]
                cols = {name: [values[i] for i in keep] for name, values in cols.items()}
        refs = self._resolve_customers(cols)
        del cols["first_name"], cols["last_name"], cols["name"], cols["email"]
        columns = self._columns(cols, refs)
        del cols
        if groups is None:
            self._write_plain(columns)
        else:
            n = len(refs)
            rows = list(zip(*(_slice(columns[c], 0, n) for c in ORDER_COLUMNS), strict=True))
            self._write_grouped(rows, groups)

    # which rows are orders -----------------------------------------------------------------

    def _single(self) -> Sequence[int]:
        """Indexes of the rows that are usable orders; rejects and skips the others."""
        frame = self.frame
        payments = self.layout.name == "stripe_payments"
        if (
            not frame.errors
            and not payments
            and not frame.any_blank
            and not frame.has_nulls("date")
            and not frame.has_nulls("amount")
            and not (frame.has_nulls("email") and frame.has_nulls("customer_id"))
        ):
            return range(frame.n)  # every row is an order: no per-row work
        dates, amounts = frame.get("date"), frame.get("amount")
        emails, cids = frame.get("email"), frame.get("customer_id")
        blank, errors = frame.blank, frame.errors
        statuses, captured, modes = frame.get("status"), frame.get("captured"), frame.get("mode")
        good: list[int] = []
        for row in range(frame.n):
            if blank[row]:
                self.skipped += 1
            elif row in errors:
                continue
            elif dates[row] is None:
                frame.reject(row, "date", _MISSING["date"])
            elif amounts[row] is None:
                frame.reject(row, "amount", _MISSING["amount"])
            elif emails[row] is None and cids[row] is None:
                frame.reject(row, "email" if frame.has("email") else None, _MISSING["email"])
            elif payments and not _succeeded(statuses[row], captured[row], modes[row]):
                self.skipped += 1
            else:
                good.append(row)
        return range(frame.n) if len(good) == frame.n else good

    def _group(self) -> list[_Order]:
        """Line-item exports: rows grouped by order id; the first row carries the order."""
        frame = self.frame
        items = [frame.get(n) for n in ("item_sku", "item_name", "item_quantity", "item_price")]
        ids = frame.get("order_id")
        by_id: dict[str, _Order] = {}
        groups: list[_Order] = []
        for row in range(frame.n):
            if frame.blank[row]:
                self.skipped += 1
                continue
            order_id = ids[row]
            if order_id is None:
                frame.reject(row, "order_id", "no order id")
                continue
            current = by_id.get(order_id)
            if current is None:
                current = by_id[order_id] = _Order(row, order_id)
                groups.append(current)
            current.rows.append(row)
            sku, name, quantity, price = (column[row] for column in items)
            if sku or name:
                current.items.append((sku, name, 1 if quantity is None else quantity, price))
        dates, amounts = frame.get("date"), frame.get("amount")
        emails, cids = frame.get("email"), frame.get("customer_id")
        kept: list[_Order] = []
        for order in groups:
            bad = next((r for r in order.rows if r in frame.errors), None)
            first = order.row
            if bad is None:
                problem = (
                    "date"
                    if dates[first] is None
                    else "amount"
                    if amounts[first] is None
                    else "email"
                    if emails[first] is None and cids[first] is None
                    else None
                )
                if problem:
                    frame.reject(first, problem, f"{_MISSING[problem]} on the order's first row")
                    bad = first
            if bad is not None:
                for row in order.rows:
                    frame.reject(row, "order_id", f"order {order.order_id} has a rejected row")
                continue
            kept.append(order)
        return kept

    def _order_ids(self, good: Sequence[int], cols: Mapping[str, list[Any]]) -> list[Any]:
        """The file's order ids, and a stable id derived from the row where there is none:
        the same row always gets the same id, and identical rows are told apart by how many
        times they occurred before."""
        ids = cols["order_id"]
        if all(value is not None for value in ids):
            return ids
        out = list(ids)
        seen: dict[str, int] = {}
        parts = [cols[n] for n in ("customer_id", "email", "date", "amount", "currency")]
        for i, value in enumerate(ids):
            if value is not None:
                continue
            identity = "\x1f".join("" if p[i] is None else str(p[i]) for p in parts)
            number = seen.get(identity, 0) + 1
            seen[identity] = number
            digest = hashlib.sha1(f"{identity}\x1f{number}".encode()).hexdigest()
            out[i] = f"row-{digest[:16]}"
        return out

    def _drop_duplicates(self, good: Sequence[int], ids: Sequence[str]) -> list[int] | None:
        """Positions to keep when an order id occurs more than once (later rows rejected)."""
        if len(set(ids)) == len(ids):
            return None
        first: dict[str, int] = {}
        keep: list[int] = []
        for position, order_id in enumerate(ids):
            if order_id in first:
                self.frame.reject(
                    good[position],
                    "order_id",
                    f"order {order_id} appears more than once in the file; "
                    "only its first row was used",
                )
            else:
                first[order_id] = position
                keep.append(position)
        return keep

    # customers -----------------------------------------------------------------------------

    def _resolve_customers(self, cols: Mapping[str, list[Any]]) -> Any:
        """The customer ref of every order, creating unknown customers from the orders.

        Known by platform id (customer_sources) first, then by e-mail, then by customer_id.
        A platform id seen for an e-mail whose customer has no platform id yet becomes that
        customer's customer_id.
        """
        store, layout = self.store, self.layout
        cids, emails = cols["customer_id"], cols["email"]
        with_ids = cids.count(None) != len(cids)
        keys: list[Any] = list(zip(cids, emails, strict=True)) if with_ids else emails
        by_email = store.customer_refs_by_email()
        if not with_ids:
            codes = self.frame.codes.get("email") if len(emails) == self.frame.n else None
            distinct = codes[1] if codes is not None else emails
            unique = [e for e in dict.fromkeys(distinct) if e is not None]
            return self._resolve_by_email(cols, emails, unique, by_email, codes)
        unique = list(dict.fromkeys(keys))
        by_source = store.customer_refs_by_source(layout.platform)
        by_id: dict[str, int] | None = None
        resolved: dict[Any, int | str] = {}  # key -> ref, or the customer_id of a new one
        planned: dict[str, list[Any]] = {}  # customer_id -> [customer_id, email, first, last]
        planned_by_email: dict[str, str] = {}
        upgrades: dict[int, str] = {}
        links: dict[str, int | str] = {}
        for key in unique:
            cid, email = key if with_ids else (None, key)
            ref: int | None = by_source.get(cid) if cid else None
            if ref is None and email:
                ref = by_email.get(email)
            if by_id is None and (ref is None or (cid and cid not in by_source)):
                by_id = store.customer_ids_in_use()
            if ref is None and by_id is not None:
                ref = by_id.get(cid or email)
            if (
                ref is not None
                and cid
                and by_id is not None
                and by_id.get(email) == ref
                and cid not in by_id
                and ref not in upgrades
            ):
                upgrades[ref] = cid
                by_id[cid] = ref
            target: int | str
            if ref is not None:
                target = ref
            else:
                new_id = planned_by_email.get(email) if email else None
                if new_id is None:
                    new_id = cid or email
                    planned[new_id] = [new_id, email, None, None]
                    if email:
                        planned_by_email[email] = new_id
                target = new_id
            resolved[key] = target
            if cid and cid not in by_source:
                links.setdefault(cid, target)
        if planned:
            self._name_new_customers(cols, keys, resolved, planned)
        consent = self._latest_consent(cols, keys, resolved)
        new_rows = []
        for customer_id, email, first, last in planned.values():
            value = consent.pop(customer_id, None)
            if value == -1 and email:
                store.suppress(email, f"unsubscribed in {layout.label} export", layout.name)
            stored = None if value is None else int(value == 1)
            new_rows.append((customer_id, email, first, last, stored))
        created = store.insert_customers(new_rows, layout.name)
        self.customers_created = len(created)
        for ref, cid in upgrades.items():
            store.update_customer(ref, {"customer_id": cid})
        if consent:
            self._update_consent(consent)
        store.add_customer_sources(
            (layout.platform, cid, created[t] if isinstance(t, str) else t)
            for cid, t in links.items()
        )
        lookup = {k: (created[t] if isinstance(t, str) else t) for k, t in resolved.items()}
        return [lookup[k] for k in keys]

    def _resolve_by_email(
        self,
        cols: Mapping[str, list[Any]],
        emails: list[Any],
        unique: list[Any],
        by_email: dict[str, int],
        codes: tuple[np.ndarray, list[Any]] | None,
    ) -> Any:
        """The common case, kept lean for big files: customers known by e-mail only."""
        store, layout = self.store, self.layout
        planned: dict[str, list[Any]] = {}
        missing = [email for email in unique if email not in by_email] if by_email else unique
        if missing:
            by_id = store.customer_ids_in_use()
            if not by_id and not self._names_or_consent():
                # no customer known, nothing to take from the orders but their addresses
                new = sorted(missing)  # (index inserts in order)
                created = store.insert_customers(
                    [(e, e, None, None, None) for e in new], layout.name
                )
                self.customers_created = len(created)
                by_email.update(created)
                return self._refs_by_email(emails, by_email, codes)
            for email in missing:
                ref = by_id.get(email)
                if ref is not None:
                    by_email[email] = ref
                else:
                    planned[email] = [email, email, None, None]
        resolved: dict[Any, int | str] = {e: by_email.get(e, e) for e in unique}
        if planned:
            self._name_new_customers(cols, emails, resolved, planned)
        consent = self._latest_consent(cols, emails, resolved)
        new_rows = []
        for customer_id, email, first, last in planned.values():
            value = consent.pop(customer_id, None)
            if value == -1:
                store.suppress(email, f"unsubscribed in {layout.label} export", layout.name)
            new_rows.append(
                (customer_id, email, first, last, None if value is None else int(value == 1))
            )
        created = store.insert_customers(new_rows, layout.name)
        self.customers_created = len(created)
        by_email.update(created)
        if consent:
            self._update_consent(consent)
        return self._refs_by_email(emails, by_email, codes)

    def _names_or_consent(self) -> bool:
        """Whether the orders bring anything for their customers beyond the address."""
        frame = self.frame
        return any(frame.has(n) for n in ("first_name", "last_name", "name", "accepts_marketing"))

    @staticmethod
    def _refs_by_email(
        emails: list[Any], by_email: Mapping[str, int], codes: tuple[np.ndarray, list[Any]] | None
    ) -> Any:
        """The customer ref of each order."""
        if codes is not None:  # every row kept: map distinct addresses, then take by row
            import numpy as np

            indices, distinct = codes
            known: Mapping[Any, int] = by_email
            if None in distinct:
                known = {**by_email, None: -1}
            refs = np.fromiter(map(known.__getitem__, distinct), np.int64, len(distinct))
            return refs[indices]
        return array("q", [by_email[email] for email in emails])

    def _name_new_customers(
        self,
        cols: Mapping[str, list[Any]],
        keys: Sequence[Any],
        resolved: Mapping[Any, int | str],
        planned: Mapping[str, list[Any]],
    ) -> None:
        firsts, lasts, names = cols["first_name"], cols["last_name"], cols["name"]
        if not any(v is not None for v in (*firsts[:1], *lasts[:1], *names[:1])) and not (
            self.frame.has("first_name") or self.frame.has("last_name") or self.frame.has("name")
        ):
            return
        for i, key in enumerate(keys):
            target = resolved[key]
            if not isinstance(target, str):
                continue
            entry = planned[target]
            if entry[2] is not None or entry[3] is not None:
                continue
            first, last = firsts[i], lasts[i]
            full = names[i]
            if full and not (first or last) and "@" not in full:
                first, last = _split_name(full)
            entry[2], entry[3] = first, last

    def _latest_consent(
        self, cols: Mapping[str, list[Any]], keys: Sequence[Any], resolved: Mapping[Any, Any]
    ) -> dict[Any, int]:
        """Per customer (ref, or customer_id if new), the consent of their latest order."""
        if not self.frame.has("accepts_marketing"):
            return {}
        latest: dict[Any, tuple[str, int]] = {}
        for key, value, stamp in zip(keys, cols["accepts_marketing"], cols["date"], strict=True):
            if value is None:
                continue
            target = resolved[key]
            previous = latest.get(target)
            if previous is None or previous[0] <= stamp:
                latest[target] = (stamp, value)
        return {target: value for target, (_stamp, value) in latest.items()}

    def _update_consent(self, consent: Mapping[Any, int]) -> None:
        current = self.store.customers_for_import()
        changes = []
        for ref, value in consent.items():
            customer = current[ref]
            stored, _ = _apply_consent(
                self.store, customer["email"], customer["accepts_marketing"], value, self.layout
            )
            if stored is not None:
                changes.append((stored, ref))
        self.store.set_customer_consent(changes)

    # writing -------------------------------------------------------------------------------

    def _columns(self, cols: Mapping[str, Any], refs: Sequence[int]) -> dict[str, Any]:
        """The orders as columns named like the table's (see ORDER_COLUMNS)."""
        n = len(refs)
        ids = cols["order_id"]
        statuses = cols["status"]
        if self.frame.has("status"):
            statuses = [s.lower() if s else None for s in statuses]
        cancelled = cols["cancelled"]
        has_status = self.frame.has("status")
        if has_status or (self.frame.has("cancelled") and _CANCELLED_FLAG in cancelled):
            generic = self.layout.name == "generic_orders"
            cancelled = [
                d
                if (c == _CANCELLED_FLAG or (c is None and generic and s in CANCELLED_STATUSES))
                else c
                for c, s, d in zip(cancelled, statuses, cols["date"], strict=True)
            ]
        refunded: list[Any]
        if not has_status and self.frame.has("refunded") and None not in cols["refunded"]:
            refunded = cols["refunded"]
        elif self.frame.has("refunded") or has_status:
            refunded = [
                r if r is not None else (a if s == "refunded" else 0)
                for r, s, a in zip(cols["refunded"], statuses, cols["amount"], strict=True)
            ]
        else:
            refunded = [0] * n
        return {
            "order_id": ids,
            "customer_ref": refs,
            "ordered_at": cols["date"],
            "currency": cols["currency"],
            "subtotal_minor": cols["subtotal"],
            "shipping_minor": cols["shipping"],
            "tax_minor": cols["tax"],
            "discount_minor": cols["discount"],
            "total_minor": cols["amount"],
            "refunded_minor": refunded,
            "financial_status": statuses,
            "cancelled_at": cancelled,
        }

    def _write_plain(self, columns: dict[str, Any]) -> None:
        """Upsert; or, when no order of this platform exists yet, a plain insert of only the
        columns that hold something (the common first import of a big file)."""
        store, source = self.store, self.layout.name
        n = len(columns["order_id"])
        prefix = f"{self.layout.platform}:"
        before = store.count_orders()
        step = 50_000
        fresh = not store.has_orders(prefix)
        if fresh:
            names = [c for c in ORDER_COLUMNS if _nulls(columns[c]) != n]
            if isinstance(columns["refunded_minor"], list) and (
                columns["refunded_minor"].count(0) == n
            ):
                names.remove("refunded_minor")  # the column's default
        else:
            names = list(ORDER_COLUMNS)
        changed = 0
        with ThreadPoolExecutor(1) as worker:
            packing = None
            with store.orders_bulk_load(n > max(50_000, before)):
                for start in range(0, n, step):
                    if fresh:
                        part = {c: _slice(columns[c], start, start + step) for c in names}
                        changed += len(store.insert_orders(part, self.import_ref, source, prefix))
                        del part
                    else:
                        parts = (_slice(columns[c], start, start + step) for c in names)
                        chunk = list(zip(*parts, strict=True))
                        changed += store.upsert_orders(chunk, self.import_ref, source, prefix)
                        del chunk
                    self.tick(start + step)
                if fresh:
                    # packed for analytics in a worker thread while SQLite, which lets go of
                    # the interpreter meanwhile, builds the orders index as this block ends
                    packing = worker.submit(_countable, columns, names)
            if packing is not None:
                self.added = packing.result()
        self.inserted = store.count_orders() - before
        self.updated = changed - self.inserted
        self.unchanged = n - changed

    def _write_grouped(self, rows: list[tuple[Any, ...]], groups: Sequence[_Order]) -> None:
        store, source = self.store, self.layout.name
        prefix = f"{self.layout.platform}:"
        if not store.has_orders(prefix):
            self._insert_grouped(rows, groups)
            return
        keys = [prefix + row[0] for row in rows]
        known = store.order_refs(keys)
        old_items = store.order_items(list(known.values()))
        plain, items_changed = [], []
        for order, row, key in zip(groups, rows, keys, strict=True):
            ref = known.get(key)
            if ref is not None and old_items.get(ref, []) != order.items:
                items_changed.append(row)
            else:
                plain.append(row)
        changed = store.upsert_orders(plain, self.import_ref, source, prefix)
        store.upsert_orders(items_changed, self.import_ref, source, prefix)
        self.inserted = len(keys) - len(known)
        self.updated = (changed - self.inserted) + len(items_changed)
        self.unchanged = len(rows) - self.inserted - self.updated
        write = {prefix + row[0] for row in items_changed} | {k for k in keys if k not in known}
        if write:
            ids = store.order_refs(sorted(write))
            store.replace_order_items(
                {
                    ids[key]: order.items
                    for order, key in zip(groups, keys, strict=True)
                    if key in write
                }
            )

    def _insert_grouped(self, rows: list[tuple[Any, ...]], groups: Sequence[_Order]) -> None:
        """The first import of a platform's line-item orders: every order is new, so they
        and their items are inserted many to a statement, the orders numbered in turn."""
        store = self.store
        columns = {name: [row[i] for row in rows] for i, name in enumerate(ORDER_COLUMNS)}
        refs = store.insert_orders(
            columns, self.import_ref, self.layout.name, f"{self.layout.platform}:"
        )
        store.insert_order_items(
            {ref: order.items for ref, order in zip(refs, groups, strict=True) if order.items}
        )
        self.inserted = len(rows)
        self.added = _countable(columns, ORDER_COLUMNS)


def _countable(columns: Mapping[str, Any], names: Sequence[str]) -> OrderArrays:
    """The countable orders among new orders given as columns (``names``: those written)."""

    def given(name: str) -> Any:
        return columns[name] if name in names else None

    return countable_orders(
        columns["customer_ref"],
        columns["ordered_at"],
        columns["total_minor"],
        given("refunded_minor"),
        given("cancelled_at"),
        given("currency"),
    )


def _all_distinct(values: pa.Array) -> bool:
    """Whether no value repeats: at once when they are in strictly increasing or decreasing
    order (as exports list their orders), else by counting."""
    import pyarrow.compute as pc

    if len(values) > 1:
        before, after = values.slice(0, len(values) - 1), values.slice(1)
        for ordered in (pc.less, pc.greater):
            if pc.all(ordered(before, after)).as_py():
                return True
        # B9, B10, B11 ...: increasing by length, then by text
        lengths = pc.utf8_length(values)
        shorter, longer = lengths.slice(0, len(values) - 1), lengths.slice(1)
        step = pc.or_(
            pc.less(shorter, longer), pc.and_(pc.equal(shorter, longer), pc.less(before, after))
        )
        if pc.all(step).as_py():
            return True
    return bool(pc.count_distinct(values).as_py() == len(values))


def _nulls(values: Any) -> int:
    """How many values are None (a list or an Arrow array)."""
    if isinstance(values, array) or hasattr(values, "dtype"):
        return 0
    return values.count(None) if isinstance(values, list) else int(values.null_count)


def _slice(values: Any, start: int, stop: int) -> list[Any]:
    """``values[start:stop]`` as a list (from a list or an Arrow array)."""
    if isinstance(values, list):
        return values[start:stop]
    if isinstance(values, array) or hasattr(values, "dtype"):  # array or numpy
        return list(values[start:stop].tolist())
    return list(values.slice(start, stop - start).to_pylist())


def _pick(values: list[Any], rows: Sequence[int], n: int) -> list[Any]:
    """``values`` at ``rows`` (the list itself when every row is kept)."""
    if len(rows) == n:
        return values
    return [values[r] for r in rows]


def _succeeded(status: str | None, captured: bool | None, mode: str | None) -> bool:
    """A Stripe payment that took money (not failed, not uncaptured, not a test)."""
    if mode and mode.lower() == "test":
        return False
    if status:
        return status.lower() in STRIPE_SUCCEEDED
    return captured is not False
