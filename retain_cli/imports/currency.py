"""Which currency each order's amounts are in.

In order of precedence: the file's currency column; a code or symbol written with the
amount (``12,50 EUR``, ``12,50 €``, ``$12.50``, see :func:`retain_cli.money.amount_currency`);
the currency of the import (``--currency``, else the shop's, ``retain config set currency``).
A file whose amounts end up in no currency fails before anything is written: a euro shop's
orders must not be shown, or mailed, as dollars.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from retain_cli.imports.options import fail
from retain_cli.imports.read import Source, scan_lines
from retain_cli.imports.values import amount_or_none
from retain_cli.money import amount_currency

if TYPE_CHECKING:
    import pyarrow as pa


class Frame(Protocol):
    """What this module needs of :class:`retain_cli.imports.frame.Frame` (which calls it)."""

    source: Source
    n: int
    raw: dict[str, pa.Array]
    values: dict[str, list[Any]]
    blank: list[bool]
    errors: dict[int, tuple[str, str]]
    uniform_currency: str | None

    def has(self, name: str) -> bool: ...
    def get(self, name: str) -> list[Any]: ...
    def header(self, name: str) -> str: ...
    def encoded(self, name: str) -> pa.DictionaryArray: ...
    def reject(self, row: int, name: str | None, reason: str) -> None: ...


#: a character no plain amount holds (a plain amount: digits, separators, signs, brackets)
_MARKED = r"[^0-9.,\s()'+\-]"


def settle_currencies(frame: Frame, default: str | None) -> pa.Array | None:
    """Each row's currency code, as ``frame.values["currency"]``.

    Returns the codes as an Arrow array (null where a row has none) when they come from the
    file, so the amounts are read each in its own currency; None when every row is in
    ``default`` (no currency column, no code or symbol with any amount). Rows whose amount
    names a currency the column contradicts, or an unknown one, are rejected; an amount in
    no currency at all, with no ``default``, fails the import."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = None
    if frame.has("currency"):
        column = pa.array(frame.get("currency"), pa.string())
    marks = _marks(frame, default) if frame.has("amount") else None
    if column is None and marks is None:
        if default is None:
            _refuse_missing(frame, pc.invert(_blank_amounts(frame)))
        frame.values["currency"] = [default] * frame.n
        frame.uniform_currency = default
        return None
    parts = [part for part in (column, marks) if part is not None]
    codes = pc.coalesce(*parts, pa.scalar(default, pa.string()))
    if column is not None and marks is not None:
        _reject_conflicts(frame, column, marks)
    if default is None:
        _refuse_missing(frame, pc.and_(codes.is_null(), pc.invert(_blank_amounts(frame))))
    frame.values["currency"] = codes.to_pylist()
    return codes


def _marks(frame: Frame, default: str | None) -> pa.Array | None:
    """The currency each amount names (null where none), or None when no amount names one.
    An amount naming an unknown currency rejects its row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = frame.encoded("amount")  # (map_unique reads the amounts from it next)
    distinct = encoded.dictionary
    marked = pc.match_substring_regex(distinct, _MARKED)
    if not pc.any(marked).as_py():
        return None
    positions = pc.indices_nonzero(marked).to_pylist()
    codes: list[str | None] = [None] * len(distinct)
    bad: dict[int, str] = {}
    for position in positions:
        try:
            codes[position] = amount_currency(distinct[position].as_py(), default)
        except ValueError as exc:
            bad[position] = str(exc)
    if not any(codes) and not bad:
        return None  # no currency after all ('abc' is no amount: that is said elsewhere)
    if bad:
        wrong = pc.is_in(encoded.indices, value_set=pa.array(list(bad), encoded.indices.type))
        for row in pc.indices_nonzero(wrong).to_pylist():
            frame.reject(row, "amount", bad[encoded.indices[row].as_py()])
    return pa.array(codes, pa.string()).take(encoded.indices)


def _blank_amounts(frame: Frame) -> pa.Array:
    import pyarrow as pa
    import pyarrow.compute as pc

    if not frame.has("amount"):
        return pa.array([True] * frame.n)
    return pc.fill_null(pc.equal(frame.raw["amount"], ""), True)


def _reject_conflicts(frame: Frame, column: pa.Array, marks: pa.Array) -> None:
    """Reject the rows whose amount names another currency than the currency column."""
    import pyarrow.compute as pc

    differ = pc.fill_null(pc.not_equal(column, marks), False)
    for row in pc.indices_nonzero(differ).to_pylist():
        frame.reject(
            row,
            "amount",
            f"amount {frame.raw['amount'][row].as_py()!r} is in {marks[row].as_py()} but "
            f"column {frame.header('currency')!r} says {column[row].as_py()}",
        )


def _readable(text: str, seen: dict[str, bool]) -> bool:
    """Whether ``text`` reads as an amount (either decimal mark), remembered in ``seen``."""
    if text not in seen:
        seen[text] = any(
            amount_or_none(text, "", decimal_comma=comma) is not None for comma in (False, True)
        )
    return seen[text]


def _refuse_missing(frame: Frame, missing: pa.Array) -> None:
    """Fail when any row's amount is in no currency (``missing``: per row)."""
    import pyarrow.compute as pc

    amounts = frame.raw["amount"]
    readable: dict[str, bool] = {}  # an amount that is none is rejected for that instead
    row = next(
        (
            row
            for row in pc.indices_nonzero(missing).to_pylist()
            if not frame.blank[row]
            and row not in frame.errors
            and _readable(amounts[row].as_py(), readable)
        ),
        None,
    )
    if row is None:
        return
    found, _invalid = scan_lines(frame.source, {row})
    where = f" on line {found[row][0]}" if row in found else ""
    example = frame.raw["amount"][row].as_py()
    blank = f", column {frame.header('currency')!r} blank" if frame.has("currency") else ""
    raise fail(
        frame.source.path,
        f"the amounts name no currency (e.g. {example!r}{where}{blank}) and the shop has "
        "none set; nothing was imported. Pass --currency with the code of the file's "
        "currency (e.g. --currency EUR), or set the shop's once: retain config set currency EUR",
    )
