"""Dates and timestamps -> stored UTC text (``ISO_FORMAT``).

:class:`Dates` reads one value (:meth:`Dates.parse`) or a column at once
(:meth:`Dates.parse_many`), in the file's day/month order, which it settles from the file
itself or from --date-format, and never guesses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from retain_cli.errors import UsageError
from retain_cli.imports.options import ImportOptions, fail
from retain_cli.timeutil import ISO_FORMAT

if TYPE_CHECKING:
    import pyarrow as pa

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


class Dates:
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
            raise fail(
                path,
                f"dates are written both day-first ({day!r} in column {col_a!r}) and "
                f"month-first ({month!r} in column {col_b!r}); fix the file or {fix}",
            )
        if proof:
            self.dayfirst = next(iter(proof))
        elif unsure is not None:
            column, value = unsure
            raise fail(
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
        utc = moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31 23:00 -0500 is past the last day Python knows
        raise ValueError(f"{text!r} is out of the range of dates") from None
    if utc.year < 1000:  # 0001-01-01 stands for "no date" in many systems
        raise ValueError(
            f"{text!r} is not a real date (before the year 1000: a placeholder for a missing date?)"
        )
    return utc.strftime(ISO_FORMAT)


#: the start of a day/month date (03/04/..., 3.4....), its two numbers named
_DAY_MONTH_RE2 = r"^(?P<a>\d{1,2})[/.\-](?P<b>\d{1,2})[/.\-]"


def day_month_samples(column: pa.Array) -> list[str]:
    """What :meth:`Dates.settle_order` needs to see of a column, in file order: the first
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
