"""``retain coupons import FILE --pool NAME``: a pool of single-use discount codes from the
shop platform.

Two kinds of file are read:

- an export with a header line (comma, semicolon or tab separated): the codes are in the
  column ``Code`` (also ``Discount Code``, ``Coupon Code``, ``Coupon``; Shopify's export of
  its discounts names them ``Name``, beside ``Value``, ``Status`` and ``Times Used In
  Total``); a column of uses (``Times Used``, ``Times Used In Total``, ``Usage Count``,
  ``Used Count``) above zero marks a code the shop has used already: it is left out;
- a plain list, one code per line (a first line ``code`` is taken as a header).

A code is up to 255 characters without spaces or control characters. Any line that is not
one makes the import fail, naming the file, the line and the fix (nothing is imported);
blank lines are skipped; a code the file repeats is imported once and reported. A code
belongs to one pool: importing the same file again adds nothing, and a code that is in
another pool fails the import. Codes are compared ignoring case, as shops do.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from retain_cli.imports.options import fail

if TYPE_CHECKING:
    from retain_cli.store import Store

POOL_RE = re.compile(r"^[A-Z0-9][A-Z0-9_.-]{0,63}$")
CODE_RE = re.compile(r"^[^\s\x00-\x1f\x7f-\x9f]{1,255}$")
CODE_HEADERS = ("code", "discount code", "coupon code", "coupon", "codes")
#: Shopify's discounts export names the code "Name"; its other columns tell it apart
SHOPIFY_DISCOUNT_COLUMNS = ("value type", "times used in total", "usage limit per code")
USED_HEADERS = ("times used", "times used in total", "usage count", "used count", "code used count")
#: problems shown in the error (the rest are counted)
SHOWN = 5


def pool_name(text: str) -> str:
    """A pool's name as retain keeps it (upper case: ``winback`` is ``WINBACK``).
    Raises ValueError."""
    name = text.strip().upper()
    if not POOL_RE.match(name):
        raise ValueError(
            f"{text!r} is not a pool name; use letters, digits, '-', '_' or '.', e.g. WINBACK"
        )
    return name


@dataclass
class CodeFile:
    """The codes a file holds: (code, line), in the file's order, each once."""

    codes: list[tuple[str, int]] = field(default_factory=list)
    repeated: list[tuple[int, int]] = field(default_factory=list)  # (line, the first one's)
    used: list[int] = field(default_factory=list)  # lines of codes the shop has used already
    column: str | None = None  # the column the codes were read from (None: one per line)


@dataclass
class CouponImport:
    """What ``retain coupons import`` did."""

    pool: str
    file: Path
    added: int
    already: int  # in this pool already (the file imported before)
    repeated: list[tuple[int, int]]
    used: list[int]
    column: str | None
    total: int = 0  # codes in the pool now
    left: int = 0  # of them, never given and never used

    @property
    def left_out(self) -> int:
        return len(self.repeated) + len(self.used)


def _text(path: Path, data: bytes) -> str:
    if not data.strip():
        raise fail(path, "is empty; export the codes from the shop, or write one code per line")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise fail(path, "is not readable UTF-16 text; save it as UTF-8") from None
    if b"\x00" in data[:4096]:
        raise fail(path, "is a binary file, not a list of codes; export the codes as CSV")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise fail(
            path, f"line {line}: is not UTF-8 text; save the file as UTF-8 (CSV UTF-8)"
        ) from None


def _separator(line: str) -> str | None:
    for separator in (",", ";", "\t"):
        if separator in line:
            return separator
    return None


def read_codes(path: Path) -> CodeFile:
    """The codes in ``path``. Raises ImportFileError naming the file, the line and the fix."""
    from retain_cli.imports.read import read_bytes

    text = _text(path, read_bytes(path)[0])
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), 0)
    separator = _separator(lines[first])
    if separator is None:
        rows = [[line] for line in lines]
    else:
        try:
            rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=separator))
        except csv.Error as exc:  # a field longer than the csv module takes
            raise fail(path, f"cannot be read as CSV ({exc}); export the codes again") from None
    header = [cell.strip().lower() for cell in rows[first]]
    names = [n for n in CODE_HEADERS if n in header]
    if not names and "name" in header and any(c in header for c in SHOPIFY_DISCOUNT_COLUMNS):
        names = ["name"]
    out = CodeFile()
    if names:
        column = header.index(names[0])
        out.column = rows[first][column].strip() if len(header) > 1 else None
        used = next((header.index(n) for n in USED_HEADERS if n in header), None)
        start = first + 1
    elif len(header) == 1:
        column, used, start = 0, None, first
    else:
        raise fail(
            path,
            f"line {first + 1}: no column of codes; name it Code in the first line "
            f"(the columns are: {', '.join(c.strip() for c in rows[first][:8])}), "
            "or give one code per line",
        )
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[start:], start=start + 1):
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        code = row[column].strip() if column < len(row) else ""
        problem = _problem(code)
        if problem:
            problems.append(f"line {number}: {problem}")
            continue
        key = code.upper()
        if key in seen:
            out.repeated.append((number, seen[key]))
            continue
        seen[key] = number
        if used is not None and used < len(row) and _times(row[used]) > 0:
            out.used.append(number)
            continue
        out.codes.append((code, number))
    if problems:
        more = len(problems) - SHOWN
        tail = f" ({more} more line{'s' if more != 1 else ''} like these)" if more > 0 else ""
        raise fail(
            path,
            "; ".join(problems[:SHOWN]) + tail + ". Fix or remove those lines and import "
            "the file again (nothing was imported)",
        )
    if not out.codes and not out.used and not out.repeated:
        raise fail(path, "holds no codes; export the codes from the shop, or one code per line")
    return out


def _problem(code: str) -> str | None:
    if not code:
        return "no code in the code column"
    if CODE_RE.match(code):
        return None
    shown = code[:40] + ("..." if len(code) > 40 else "")
    if len(code) > 255:
        return f"{shown!r} is {len(code)} characters long, more than a code (at most 255)"
    return f"{shown!r} is not a code (a code has no spaces or control characters)"


def _times(cell: str) -> int:
    try:
        return int(float(cell.strip() or 0))
    except ValueError:
        return 0


def import_coupons(store: Store, path: Path, pool: str, now: str) -> CouponImport:
    """Read ``path`` and add its codes to ``pool`` (one transaction). Raises
    ImportFileError for a file that cannot be used or a code that is in another pool."""
    from retain_cli.errors import UsageError

    try:
        name = pool_name(pool)
    except ValueError as exc:
        raise UsageError(f"--pool: {exc}") from None
    found = read_codes(path)
    known = store.coupons_known([code for code, _ in found.codes])
    elsewhere = [
        (code, line, known[code.upper()])
        for code, line in found.codes
        if known.get(code.upper(), name) != name
    ]
    if elsewhere:
        code, line, other = elsewhere[0]
        more = f" (and {len(elsewhere) - 1} more)" if len(elsewhere) > 1 else ""
        raise fail(
            path,
            f"line {line}: code {code!r} is in pool {other} already{more}; a code belongs to "
            f"one pool: import the file with --pool {other}, or remove those lines "
            "(nothing was imported)",
        )
    new = [(code, line) for code, line in found.codes if code.upper() not in known]
    added = store.coupons_add(name, new, path.name, now)
    total, left = next(
        ((p["total"], p["left"]) for p in store.coupon_pools() if p["pool"] == name), (0, 0)
    )
    return CouponImport(
        pool=name,
        file=path,
        added=added,
        already=len(found.codes) - len(new),
        repeated=found.repeated,
        used=found.used,
        column=found.column,
        total=int(total),
        left=int(left),
    )
