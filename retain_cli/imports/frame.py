"""The file's used columns, normalised field by field (:class:`Frame`).

Each field is parsed once per distinct value; a bad value rejects its row (the first error
per row is kept) or, for an optional field, is left out with a warning. Ids mangled into
scientific notation by a spreadsheet, and amounts written with a decimal comma without
--decimal-comma, fail the whole import instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from retain_cli.imports.currency import settle_currencies
from retain_cli.imports.dates import Dates, day_month_samples
from retain_cli.imports.layouts import FIELD_TYPES, Layout
from retain_cli.imports.options import ImportOptions, fail
from retain_cli.imports.read import Source, release_arrow_memory, scan_lines, unquote
from retain_cli.imports.values import (
    NOT_NEGATIVE,
    amount_or_none,
    parse_birthday,
    parse_bool,
    parse_cancelled,
    parse_consent,
    parse_currency,
    parse_email,
    parse_int,
    parse_money,
    parse_money_pair,
    plain_amounts,
    plain_emails,
)
from retain_cli.imports.zones import parse_zoned
from retain_cli.money import minor_units

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


#: field kinds trimmed column-wise (the others are trimmed per distinct value)
_TRIM_VECTORISED = {"id", "zip", "text", "money", "currency", "time", "zone"}


#: per kind of import, the fields whose unreadable values are left out with a warning
#: instead of rejecting the row (see Frame.normalise)
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


class Frame:
    """The file's used columns, normalised field by field, with the first error per row."""

    #: rows imported with a warning: row -> [(column, what happened)]; a value left out
    #: (:meth:`warn`, those rows are also in ``left_out``) or kept but doubtful (:meth:`doubt`)
    warnings: dict[int, list[tuple[str, str]]]

    def __init__(self, source: Source, table: pa.Table, columns: Mapping[str, int]) -> None:
        import pyarrow.compute as pc

        self.source = source
        self.columns = columns
        self.n = table.num_rows
        self.raw: dict[str, pa.Array] = {}
        blank = None
        for name, index in columns.items():
            column = unquote(table.column(f"c{index}").combine_chunks())
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
        self.left_out: set[int] = set()
        self._encoded: dict[str, pa.DictionaryArray] = {}
        #: orders: the one currency of every row, when the file names none (see currency.py)
        self.uniform_currency: str | None = None

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
        release_arrow_memory()

    def warn(self, row: int, name: str, reason: str) -> None:
        """The row is imported with this field left out."""
        self.warnings.setdefault(row, []).append(
            (self.header(name), f"{reason} (imported without it)")
        )
        self.left_out.add(row)

    def doubt(self, row: int, name: str, reason: str) -> None:
        """The row is imported as it is, but this value looks wrong: listed with a warning."""
        self.warnings.setdefault(row, []).append(
            (self.header(name), f"{reason} (imported as it is; check it)")
        )

    def doubt_dates(self, name: str) -> None:
        """Order dates before 1990 or after next year are imported, with a warning each: a
        placeholder (``1900-01-01``) or a typo (``2205``) is likelier than a real order."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        indices, parsed = self.codes[name]
        late = datetime.now(UTC).year + 2
        values = pa.array(parsed, pa.string())
        odd = pc.or_(pc.less(values, "1990"), pc.greater_equal(values, str(late)))
        positions = np.flatnonzero(pc.fill_null(odd, False).to_numpy(zero_copy_only=False))
        if not len(positions):
            return
        for row in np.nonzero(np.isin(indices, positions))[0].tolist():
            text = self.raw[name][row].as_py().strip()
            when = "before 1990" if parsed[indices[row]] < "1990" else f"after {late - 1}"
            self.doubt(row, name, f"date {text!r} is {when}")

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

        encoded = self.encoded(name) if key is None else pc.dictionary_encode(key)
        self._encoded.pop(name, None)
        positions: Iterable[int]
        if vectorised is not None:
            parsed = vectorised(encoded.dictionary)
            out: list[Any] = parsed.to_pylist()
            positions = np.flatnonzero(parsed.is_null().to_numpy(zero_copy_only=False)).tolist()
            uniques = encoded.dictionary.take(pa.array(positions, pa.int64())).to_pylist()
            del parsed
            release_arrow_memory()  # the column-wise parse's scratch arrays
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

    def encoded(self, name: str) -> pa.DictionaryArray:
        """The field's raw values dictionary-encoded (its distinct values and, per row, which
        one), computed once for whoever needs them before :meth:`map_unique` does."""
        import pyarrow.compute as pc

        found = self._encoded.get(name)
        if found is None:
            found = self._encoded[name] = pc.dictionary_encode(self.raw[name])
        return found

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

    def _zones(self, options: ImportOptions) -> bool:
        """Whether each row's time zone is read from the file's time zone column (Square's
        Time Zone): unless --timezone names another than UTC, which then applies to all."""
        return "time_zone" in self.columns and options.timezone.upper() == "UTC"

    def _birthday_order(self, name: str, dates: Dates) -> bool | None:
        """Whether the birthdays are written day first: as --date-format or the file's other
        dates say, else as the birthdays themselves show (a first number above 12: day
        first; a second one: month first); None when nothing tells (or both are seen), and
        then each birthday that could be read either way is left out with a warning."""
        if dates.dayfirst is not None:
            return dates.dayfirst
        fmt = dates.strptime or ""
        if "%d" in fmt and "%m" in fmt:
            return fmt.index("%d") < fmt.index("%m")
        seen = set()
        for value in day_month_samples(self.raw[name]):
            first, _, rest = value.replace(".", "/").replace("-", "/").partition("/")
            if first.isdigit() and int(first) > 12:
                seen.add(True)
            elif rest.partition("/")[0].isdigit() and int(rest.partition("/")[0]) > 12:
                seen.add(False)
        return seen.pop() if len(seen) == 1 else None

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
            found, _invalid = scan_lines(self.source, {row})
            where = f" on line {found[row][0]}" if row in found else ""
            raise fail(
                self.source.path,
                f"column {self.header(name)!r} holds {what} in scientific notation "
                f"(e.g. {value!r}{where}): a spreadsheet rounded them and their last digits "
                f"are lost{harm}; nothing was imported. Re-export from the shop, or format "
                "the column as Text in the spreadsheet before saving as CSV",
            )

    def normalise(self, layout: Layout, options: ImportOptions, dates: Dates) -> None:
        import pyarrow.compute as pc

        self.refuse_scientific_ids()
        if "time" in self.columns and "date" in self.columns:  # Date and Time columns (Square)
            day = self.raw["date"]
            both = pc.binary_join_element_wise(day, self.raw["time"], " ")
            self.raw["date"] = pc.if_else(pc.equal(day, ""), day, pc.utf8_trim_whitespace(both))
        if (
            "currency" in self.columns
            and "order_id" in self.columns
            and ("item_name" in self.columns or "item_sku" in self.columns)
        ):
            self._fill_currency()
        date_fields = [n for n in self.columns if FIELD_TYPES[n] in ("date", "cancelled")]
        samples = {self.header(n): day_month_samples(self.raw[n]) for n in date_fields}
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
                self.map_unique(name, parse_email, vectorised=plain_emails)
            elif kind == "date" and name == "date" and self._zones(options):
                key = pc.binary_join_element_wise(raw, self.raw["time_zone"], "\x1f")
                key = pc.if_else(pc.equal(raw, ""), raw, key)
                self.map_unique(name, partial(parse_zoned, dates), key=key)
            elif kind == "date":
                zone = UTC if name in layout.utc_fields else None
                self.map_unique(
                    name,
                    partial(dates.parse, zone=zone),
                    vectorised=partial(dates.parse_many, zone=zone),
                    lenient=name in lenient,
                )
            elif kind == "cancelled":
                self.map_unique(
                    name, lambda t: parse_cancelled(t, dates), vectorised=dates.parse_many
                )
            elif kind == "consent":
                self.map_unique(name, parse_consent, lenient=name in lenient)
            elif kind == "bool":
                self.map_unique(name, parse_bool)
            elif kind == "int":
                self.map_unique(name, parse_int, lenient=name in lenient)
            elif kind == "birthday":
                order = partial(parse_birthday, dayfirst=self._birthday_order(name, dates))
                self.map_unique(name, partial(order, fmt=dates.strptime), lenient=name in lenient)
            elif kind == "currency":
                self.map_unique(name, parse_currency)
        if layout.kind == "orders" and "date" in self.codes:
            self.doubt_dates("date")
        money: list[tuple[str, pa.Array]] = []
        codes = None
        if layout.kind == "orders":
            codes = settle_currencies(self, options.currency)
        comma = options.decimal_comma
        signed = bool(layout.refund_events)  # refunds are negative rows, read as such
        for name in self.columns:
            if FIELD_TYPES[name] != "money":
                continue
            checked = None if signed else name
            if codes is not None:
                key = pc.binary_join_element_wise(self.raw[name], pc.fill_null(codes, ""), "\x1f")
                pair = partial(parse_money_pair, decimal_comma=comma, field=checked)
                vectorised = None if comma else plain_amounts
                self.map_unique(name, pair, key=key, vectorised=vectorised, lenient=name in lenient)
                money.append((name, key))
            else:
                self.map_unique(
                    name,
                    partial(
                        parse_money, decimal_comma=comma, field=checked, currency=options.currency
                    ),
                    vectorised=None
                    if comma or minor_units(options.currency) != 2
                    else plain_amounts,
                    lenient=name in lenient,
                )
                money.append((name, self.raw[name]))
        if money and self.errors and not options.decimal_comma:
            self.refuse_decimal_comma(money)
        if signed and "amount" in self.columns:
            self._refuse_negative_payments(layout)

    def _refuse_negative_payments(self, layout: Layout) -> None:
        """Exports with refund rows (Square) read amounts with their sign: a refund's are
        negative, and a negative amount on any other row is rejected as in any export."""
        events, amounts = self.get("event"), self.get("amount")
        for row, amount in enumerate(amounts):
            if amount is None or amount >= 0:
                continue
            event = events[row]
            if event is None or event.lower() not in layout.refund_events:
                raw = self.raw["amount"][row].as_py()
                self.reject(row, "amount", NOT_NEGATIVE["amount"].format(raw))

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
                dot = amount_or_none(amount, currency, decimal_comma=False)
                comma = amount_or_none(amount, currency, decimal_comma=True)
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
        found, _invalid = scan_lines(self.source, {row})
        where = f" on line {found[row][0]}" if row in found else ""
        shown = ", ".join(repr(self.header(n)) for n in names)
        raise fail(
            self.source.path,
            f"the amounts in column{'s' if len(names) > 1 else ''} {shown} are written with a "
            f"decimal comma (e.g. {value!r}{where}); nothing was imported. Pass "
            "--decimal-comma to read them",
        )
