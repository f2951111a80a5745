"""Reading an export: bytes -> table.

The file's encoding (UTF-8 with or without a BOM, UTF-16 with its mark, or --encoding), its
separator (comma, or the semicolon, tab or pipe its header holds), its header; the used
columns read as strings by pyarrow (kept from importing pandas); and, for the rejects and
warnings files, the physical line numbers and original fields of chosen rows.

Lines may end in LF, CRLF or CR alone (old Mac exports); a header line may be of any length.
The file is held in memory, so it must be a regular file or a pipe (a device such as
/dev/zero never ends) no larger than half the machine's memory (:func:`memory_limit`).
"""

from __future__ import annotations

import codecs
import csv
import gc
import hashlib
import importlib.abc
import io
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
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
    #: the bytes of a pipe, which cannot be read twice (a file is read again on demand)
    kept: bytes | None = None

    @property
    def text(self) -> str:
        """The whole file as text, read again on demand (only rejects need it)."""
        raw = self.kept if self.kept is not None else self.path.read_bytes()
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


#: what a spreadsheet takes for the start of a formula (the rejects file puts a ' before it)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_QUOTED_FORMULA = "^'([=+\\-@\\t\\r\uff1d\uff0b\uff0d\uff20])"


def unquote(column: pa.Array) -> pa.Array:
    """A column less the ``'`` that a rejects file puts before a cell a spreadsheet would
    take for a formula (``'=A1`` -> ``=A1``; ``'Connor`` stays), so that a fixed rejects
    file imports as the original would (see :mod:`retain_cli.imports.rejects`)."""
    import pyarrow.compute as pc

    if not pc.any(pc.starts_with(column, "'")).as_py():
        return column
    return pc.replace_substring_regex(column, _QUOTED_FORMULA, "\\1")


def unquote_text(cell: str) -> str:
    """:func:`unquote` of one value (a header)."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_START) else cell


#: how much of a pipe is read when the machine's memory is not known
_PIPE_LIMIT = 4 << 30


def memory_limit() -> int | None:
    """The largest file an import takes: half the machine's memory (None if unknown)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (AttributeError, ValueError, OSError):
        return None


def _size(count: int) -> str:
    return f"{count / (1 << 30):.1f} GB" if count >= 1 << 30 else f"{count / (1 << 20):.0f} MB"


def read_bytes(path: Path) -> tuple[bytes, bool]:
    """The bytes of a regular file or a pipe (whether it was a pipe), refusing a device (an
    endless /dev/zero), a socket, and more than :func:`memory_limit`."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise fail(path, "file not found; check the path") from None
    except OSError as exc:
        raise fail(path, f"cannot read the file ({exc.strerror}); check its permissions") from None
    if stat.S_ISDIR(info.st_mode):
        raise fail(path, "is a folder, not a CSV file")
    pipe = stat.S_ISFIFO(info.st_mode)
    if not (stat.S_ISREG(info.st_mode) or pipe):
        raise fail(
            path,
            "is a device or a socket, not a file (a stream such as /dev/zero never ends); "
            "save the export to a file and import that",
        )
    limit = memory_limit()
    split = "split it into parts (each with the header line) and import each"
    if not pipe and limit is not None and info.st_size > limit:
        raise fail(
            path,
            f"is {_size(info.st_size)}, more than half of this machine's memory, and an "
            f"import holds the whole file in memory; {split}",
        )
    cap = limit or _PIPE_LIMIT
    try:
        if not pipe:
            return path.read_bytes(), False
        piped = bytearray()
        with path.open("rb", buffering=0) as stream:
            while len(piped) <= cap and (chunk := stream.read(1 << 20)):
                piped += chunk
    except OSError as exc:
        raise fail(path, f"cannot read the file ({exc.strerror}); check its permissions") from None
    except MemoryError:
        raise fail(path, f"there is not enough memory to read it; {split}") from None
    if len(piped) > cap:
        raise fail(path, f"more than {_size(cap)} came through the pipe; {split}")
    return bytes(piped), True


def load(path: Path, kind: Kind, options: ImportOptions) -> Source:
    """The file checked (there, not empty, not binary, readable in its encoding), with its
    header and separator found."""
    raw, pipe = read_bytes(path)
    kept = raw if pipe else None
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
        text = _head(
            lambda size: codecs.getincrementaldecoder("utf-8")().decode(data[:size]), len(data)
        )
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
    head = _head(partial(_prefix, text), len(text))
    del text

    def read_header() -> list[str]:
        try:
            with _big_fields():
                record = next(csv.reader(io.StringIO(head, newline=""), delimiter=delimiter))
        except (csv.Error, StopIteration) as exc:
            raise fail(path, f"cannot read the header line ({exc})") from None
        return [unquote_text(h.strip()) for h in record]

    header = read_header()
    first_line = re.split(r"\r\n?|\n", head, maxsplit=1)[0]
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
    return Source(path, data, digest, header, delimiter, headerless, encoding, kept)


def _prefix(text: str, size: int) -> str:
    return text[:size]


def _head(first: Callable[[int], str], total: int) -> str:
    """The start of the text (``first(n)``: its first n of ``total`` units) that holds the
    whole header line: 64 KiB, or more for a header of thousands of columns."""
    size = 1 << 16
    while True:
        head = first(size)
        if size >= total or _holds_a_record(head):
            return head
        size *= 4


def _holds_a_record(head: str) -> bool:
    """Whether ``head`` holds the first CSV record and the line end after it."""
    lines = io.StringIO(head, newline="").readlines()
    reader = csv.reader(lines)
    try:
        with _big_fields():
            next(reader)
    except (csv.Error, StopIteration):
        return True  # reported as such by the caller
    return reader.line_num < len(lines) or lines[-1].endswith(("\n", "\r"))


@contextmanager
def _big_fields() -> Iterator[None]:
    """csv reads fields of any size meanwhile (its limit is 128 KiB)."""
    old = csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(old)


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
    reader = csv.reader(io.StringIO(source.text, newline=""), delimiter=source.delimiter)
    ncols = len(source.header)
    with _big_fields():
        return _scan(reader, ncols, source.headerless, wanted)


def _scan(
    reader: Any, ncols: int, headerless: bool, wanted: set[int]
) -> tuple[dict[int, tuple[int, list[str]]], list[tuple[int, list[str], str]]]:
    if not headerless:
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
