"""Reading an export: bytes -> table.

The file's encoding (UTF-8 with or without a BOM, UTF-16 with its mark, or --encoding), its
separator (comma, or the semicolon, tab or pipe its header holds), its header; the used
columns read as strings by pyarrow (kept from importing pandas); and, for the rejects and
warnings files, the physical line numbers and original fields of chosen rows.
"""

from __future__ import annotations

import codecs
import csv
import gc
import hashlib
import importlib.abc
import io
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retain_cli.errors import UsageError
from retain_cli.imports.layouts import Kind
from retain_cli.imports.options import ImportOptions, fail
from retain_cli.imports.values import EMAIL

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass
class Source:
    """An export as loaded: its bytes as UTF-8, its header and separator."""

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


def _delimiter_option(value: str | None) -> str | None:
    if value is None:
        return None
    named = {"tab": "\t", "\\t": "\t", "semicolon": ";", "comma": ",", "pipe": "|"}
    value = named.get(value.lower(), value)
    if len(value) != 1:
        raise UsageError(f"--delimiter {value!r} must be one character (or 'tab')")
    return value


def load(path: Path, kind: Kind, options: ImportOptions) -> Source:
    """The file checked (there, not empty, not binary, readable in its encoding), with its
    header and separator found."""
    if not path.exists():
        raise fail(path, "file not found; check the path")
    if path.is_dir():
        raise fail(path, "is a folder, not a CSV file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise fail(path, f"cannot read the file ({exc.strerror}); check its permissions") from None
    if not raw.removeprefix(codecs.BOM_UTF8).strip():
        raise fail(path, "the file is empty; export it again from your shop")
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
        raise fail(
            path,
            "looks like a binary file (a spreadsheet such as .xlsx?), not CSV; "
            "export or save it as CSV (or pass --encoding utf-16 if it is UTF-16 text)",
        )
    digest = hashlib.sha256(raw).hexdigest()
    if encoding is None:
        data = raw[len(codecs.BOM_UTF8) :] if raw.startswith(codecs.BOM_UTF8) else raw
        bad = _utf8_error(data)
        if bad is not None:
            raise fail(
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
            raise fail(
                path, f"cannot be read as {encoding} ({exc.reason} at byte {exc.start})"
            ) from None
        data = text.encode("utf-8")
    if not text.strip():
        raise fail(path, "the file is empty; export it again from your shop")
    del raw

    forced = _delimiter_option(options.delimiter)
    delimiter = forced or ","
    head = text[:65536]
    del text

    def read_header() -> list[str]:
        try:
            return [h.strip() for h in next(csv.reader(io.StringIO(head), delimiter=delimiter))]
        except (csv.Error, StopIteration) as exc:
            raise fail(path, f"cannot read the header line ({exc})") from None

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
    if kind == "suppressions" and len(header) == 1 and EMAIL.fullmatch(header[0]):
        headerless = True  # a bare list of addresses
    elif all(not h for h in header):
        raise fail(path, "the first line is blank; it must be the header with the column names")
    return Source(path, data, digest, header, delimiter, headerless, encoding)


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
def collector_paused() -> Iterator[None]:
    """The cycle collector off while an import holds millions of objects that cannot form
    cycles: it would walk them again and again (half a second on a million orders)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def release_arrow_memory() -> None:
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


def read_table(source: Source, columns: Sequence[int]) -> tuple[pa.Table, int]:
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
        raise fail(source.path, f"cannot be read as CSV ({exc})") from None
    return table, invalid


def scan_lines(
    source: Source, wanted: set[int]
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
