"""Reading single values: e-mail addresses, amounts (minor units), consent, booleans, whole
numbers, birthdays, currencies, cancellations and names; each parser raises ValueError with
the message a rejects or warnings file shows. ``plain_*`` read the common values of a
column at once (null where they cannot tell)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import TYPE_CHECKING

from retain_cli.money import MINOR_UNITS, minor_units, normalise_currency, parse_amount

if TYPE_CHECKING:
    import pyarrow as pa

    from retain_cli.imports.dates import Dates

#: consent values (lower-cased), in the languages shops export in (English, German, French,
#: Spanish, Italian, Portuguese, Dutch, the Nordic languages, Polish); -1 is an explicit
#: opt-out, which also suppresses the address
CONSENT_VALUES: dict[str, int] = {
    **dict.fromkeys(
        (
            *("yes", "y", "true", "t", "1", "subscribed", "opted in", "opt in", "accepted"),
            *("ja", "j", "wahr", "abonniert", "angemeldet", "eingewilligt"),
            *("oui", "o", "vrai", "abonné", "abonnée", "inscrit", "inscrite"),
            *("sí", "si", "sì", "verdadero", "vero", "suscrito", "suscrita", "iscritto"),
            *("sim", "verdadeiro", "inscrito"),
            *("waar", "ingeschreven", "tak", "prawda"),
            *("✓", "✔", "☑"),
        ),
        1,
    ),
    **dict.fromkeys(
        (
            *("no", "n", "false", "f", "0", "not subscribed", "never subscribed", "pending"),
            *("not opted in", "declined"),
            *("nein", "falsch", "nicht abonniert", "nicht angemeldet"),
            *("non", "faux", "non abonné", "non abonnée", "non inscrit"),
            *("falso", "no suscrito", "non iscritto"),
            *("não", "nao"),
            *("nee", "onwaar", "nej", "nei", "ei", "nie", "fałsz"),
        ),
        0,
    ),
    **dict.fromkeys(
        (
            *("unsubscribed", "opted out", "opt out", "revoked"),
            *("abgemeldet", "abbestellt", "widerrufen"),
            *("désabonné", "désabonnée", "désinscrit", "désinscrite"),
            *("dado de baja", "de baja", "disiscritto", "descadastrado"),
            *("uitgeschreven", "afgemeld", "avregistrerad", "wypisany"),
        ),
        -1,
    ),
}
#: true and false, in the same languages
BOOL_VALUES: dict[str, bool] = {
    **dict.fromkeys(
        ("yes", "y", "true", "t", "1", "ja", "wahr", "oui", "vrai", "sí", "si", "sì", "sim"),
        True,
    ),
    **dict.fromkeys(
        ("no", "n", "false", "f", "0", "nein", "falsch", "non", "faux", "falso", "não", "nee"),
        False,
    ),
}
#: Stripe payment statuses that mean the money was taken
STRIPE_SUCCEEDED = {"paid", "succeeded", "refunded", "partially refunded", "captured"}
CANCELLED_STATUSES = {"cancelled", "canceled", "voided", "void"}
CANCELLED_FLAG = "\x00cancelled"

#: an e-mail address (a one-column file of them is an opt-out list without a header)
EMAIL = re.compile(r"[^@\s,;<>\"']+@[^@\s,;<>\"']+\.[^@\s,;<>\"'.]+")
#: EMAIL for values without whitespace, anchored, in RE2 syntax (see plain_emails)
_PLAIN_EMAIL = r"^[^@,;<>\"']+@[^@,;<>\"']+\.[^@,;<>\"'.]+$"
_BIRTHDAY = re.compile(r"(?:(\d{4})|-)?[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ].*)?")
_DAY_MONTH_BIRTHDAY = re.compile(r"(\d{1,2})[./\-](\d{1,2})(?:[./\-](\d{4}|\d{2})?)?(?:[T ].*)?")
_CURRENCY = re.compile(r"[A-Z]{3}")


def parse_email(text: str) -> str:
    value = text.strip().lower()
    if value.startswith("mailto:"):
        value = value[7:]
    if not EMAIL.fullmatch(value):
        raise ValueError(f"invalid email {text!r}")
    return value


def plain_emails(values: pa.Array) -> pa.Array:
    """:func:`parse_email` column-wise for the common values: printable ASCII without spaces
    (where strip, lower and the pattern mean the same to Python and to Arrow's RE2) that
    are valid addresses; null for any other value (left to :func:`parse_email`)."""
    import pyarrow.compute as pc

    plain = pc.match_substring_regex(values, r"^[!-~]+$")
    lowered = pc.replace_substring_regex(pc.ascii_lower(values), "^mailto:", "")
    valid = pc.match_substring_regex(lowered, _PLAIN_EMAIL)
    return pc.if_else(pc.and_(plain, valid), lowered, None)


def plain_amounts(values: pa.Array) -> pa.Array:
    """:func:`parse_amount` column-wise for the common values, in minor units: digits with
    at most two decimals after a dot (``12``, ``1204.5``, ``0.99``), followed, in the keys
    that pair an amount with its currency, by ``\x1f`` and a currency with two decimals (or
    none). Null for any other value (left to :func:`parse_amount`)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # at most 12 digits: the amounts near MAX_AMOUNT are checked by parse_money
    pattern = r"^(?P<units>\d{1,12})(?:\.(?P<cents>\d{1,2}))?(?:\x1f(?P<currency>[A-Z]{3})?)?$"
    parts = pc.extract_regex(values, pattern)
    units = pc.cast(pc.struct_field(parts, "units"), pa.int64())
    cents = pc.cast(pc.utf8_rpad(pc.struct_field(parts, "cents"), 2, "0"), pa.int64())
    minor = pc.add(pc.multiply(units, 100), pc.coalesce(cents, 0))
    others = [code for code, digits in MINOR_UNITS.items() if digits != 2]
    other_units = pc.is_in(pc.struct_field(parts, "currency"), pa.array(others, pa.string()))
    return pc.if_else(pc.fill_null(other_units, False), None, minor)


def parse_consent(text: str) -> int:
    value = CONSENT_VALUES.get(" ".join(text.lower().split()))
    if value is None:
        raise ValueError(f"cannot read marketing consent {text!r} (expected yes or no)")
    return value


def parse_bool(text: str) -> bool:
    value = BOOL_VALUES.get(text.strip().lower())
    if value is None:
        raise ValueError(f"cannot read {text!r} as true or false")
    return value


#: the largest whole number (a line item's quantity) an import takes
MAX_INT = 10**9


def parse_int(text: str) -> int:
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        raise ValueError(f"cannot read {text!r} as a whole number") from None
    if not abs(number) <= MAX_INT:  # also inf and nan
        raise ValueError(f"{text!r} is too large to be real (the limit is {MAX_INT:,})")
    if number != int(number):
        raise ValueError(f"{text!r} is not a whole number")
    return int(number)


def parse_birthday(text: str, dayfirst: bool | None = None, fmt: str | None = None) -> str:
    """A birthday as ``YYYY-MM-DD``, or ``--MM-DD`` when the year is not given.

    Year first (``1985-03-14``, ``1985/03/14``), without a year (``--03-14``), or day and
    month in the file's order (``dayfirst``, as --date-format or the file's other dates
    settle it): ``14.03.1985``, ``14/03/1985``, ``03/14/1985``, ``14.03.``; ``fmt``, a
    strptime --date-format, is tried first. Without ``dayfirst`` a day above 12 tells."""
    value = text.strip()
    if fmt:
        try:
            moment = datetime.strptime(value, fmt)
        except ValueError:
            pass
        else:
            return moment.date().isoformat()
    match = _BIRTHDAY.fullmatch(value)
    if match is not None:
        year, month, day = match[1], int(match[2]), int(match[3])
    else:
        match = _DAY_MONTH_BIRTHDAY.fullmatch(value)
        if match is None:
            raise ValueError(
                f"cannot read birthday {text!r} (use YYYY-MM-DD, --MM-DD, or a day/month date "
                "with --date-format)"
            )
        first, second, year = int(match[1]), int(match[2]), match[3]
        if dayfirst is None and first <= 12 and second <= 12 and first != second:
            raise ValueError(
                f"birthday {text!r} can be read day-first or month-first; pass --date-format "
                "DD/MM/YYYY or --date-format MM/DD/YYYY"
            )
        if dayfirst is None:
            dayfirst = first > 12
        day, month = (first, second) if dayfirst else (second, first)
        if year and len(year) == 2:  # 85 -> 1985, 07 -> 2007: a birthday is in the past
            year = str((1900 if int(year) > date.today().year % 100 else 2000) + int(year))
    try:
        date(int(year) if year else 2000, month, day)
    except ValueError:
        raise ValueError(f"birthday {text!r} is not a valid date") from None
    return f"{year}-{month:02d}-{day:02d}" if year else f"--{month:02d}-{day:02d}"


def parse_currency(text: str) -> str:
    code = normalise_currency(text) or ""
    if not _CURRENCY.fullmatch(code):
        raise ValueError(f"currency {text!r} is not a 3-letter code such as USD")
    return code


def amount_or_none(amount: str, currency: str, *, decimal_comma: bool) -> int | None:
    try:
        return parse_amount(amount, currency or None, decimal_comma=decimal_comma)
    except ValueError:
        return None


#: money fields that cannot be negative, and what to tell the user instead
NOT_NEGATIVE = {
    "amount": "negative total {!r} is not an order; refunds belong in the refunded column "
    "(or a refund export)",
    "refunded": "negative refunded amount {!r}; write a refund as a positive amount",
}


#: amounts of this many units of their currency or more (a trillion) are not a shop's: a
#: placeholder, a column mix-up or a typo; they would also overflow the sums of SQLite's
#: 64-bit integers
MAX_AMOUNT = 10**12


def parse_money(
    text: str, decimal_comma: bool, field: str | None = None, currency: str | None = None
) -> int:
    """An amount in minor units; a negative total or refund is an error (see NOT_NEGATIVE),
    and so is an amount of :data:`MAX_AMOUNT` or more."""
    value = parse_amount(text, currency, decimal_comma=decimal_comma)
    if abs(value) >= MAX_AMOUNT * 10 ** minor_units(currency):
        raise ValueError(
            f"amount {text.strip()!r} is too large to be real (the limit is "
            f"{MAX_AMOUNT:,} units of its currency)"
        )
    if value < 0 and field in NOT_NEGATIVE:
        raise ValueError(NOT_NEGATIVE[field].format(text.strip()))
    return value


def parse_money_pair(text: str, decimal_comma: bool, field: str | None = None) -> int:
    amount, _, currency = text.rpartition("\x1f")
    return parse_money(amount, decimal_comma, field, currency or None)


def parse_cancelled(text: str, dates: Dates) -> str | None:
    flag = BOOL_VALUES.get(text.lower())
    if flag is not None or text.lower() in CANCELLED_STATUSES:
        return CANCELLED_FLAG if flag is not False else None
    return dates.parse(text)


def split_name(full: str | None) -> tuple[str | None, str | None]:
    if not full:
        return None, None
    first, _, last = full.strip().partition(" ")
    return first or None, last.strip() or None


def succeeded(status: str | None, captured: bool | None, mode: str | None) -> bool:
    """A Stripe payment that took money (not failed, not uncaptured, not a test)."""
    if mode and mode.lower() == "test":
        return False
    if status:
        return status.lower() in STRIPE_SUCCEEDED
    return captured is not False
