"""Money: parsing amounts as shops export them, minor units per currency, formatting.

Money is stored as integer minor units (cents) with a currency code. Most currencies have two
decimals; the exceptions are listed in :data:`MINOR_UNITS` (ISO 4217). An unknown or missing
currency is taken to have two decimals. :func:`format_money` writes an amount for a locale
(messages, reports and tables all use it, so ``16,40 €`` and ``€16.40`` never meet).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

#: how amounts and dates are written when the campaign file sets no ``shop.locale``
DEFAULT_LOCALE = "en_US"

#: currencies whose minor unit is not 1/100 (ISO 4217 exponent)
MINOR_UNITS: dict[str, int] = {
    # no minor unit
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    # three decimals
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}

_BODY = re.compile(
    r"([-+]?)\s*([^\d\s\-+.,()']*)\s*([-+]?)\s*([\d.,'\s]*\d[\d.,'\s]*|[.,]\d+)\s*([^\d\s.,()'\-+]*)\s*(-?)"
)
_GROUPED_DOT = re.compile(r"\d{1,3}(,\d{3})+(\.\d+)?")
_PLAIN_DOT = re.compile(r"\d*(\.\d+)?|\d+\.")
_GROUPED_COMMA = re.compile(r"\d{1,3}(\.\d{3})+(,\d+)?")
_PLAIN_COMMA = re.compile(r"\d*(,\d+)?|\d+,")
_LOOKS_DECIMAL_COMMA = re.compile(r"\d{1,3}(\.\d{3})*,\d{1,2}|\d+,\d{1,2}")


def normalise_currency(code: str | None) -> str | None:
    """``usd`` -> ``USD``; blank -> None."""
    if code is None:
        return None
    code = code.strip().upper()
    return code or None


def minor_units(currency: str | None) -> int:
    """Number of decimals of a currency (2 when unknown)."""
    if not currency:
        return 2
    return MINOR_UNITS.get(currency.upper(), 2)


def parse_amount(text: str, currency: str | None = None, *, decimal_comma: bool = False) -> int:
    """An amount as written in an export -> integer minor units of ``currency``.

    Accepts currency symbols or codes around the number (``$1,204.00``, ``12.50 EUR``),
    thousands separators, negatives (``-5``, ``(5.00)``, ``5.00-``) and, with
    ``decimal_comma``, ``1.204,00``. Raises ``ValueError`` with a reason users can act on.
    """
    raw = text.strip()
    if not raw:
        raise ValueError("amount is empty")
    body = raw
    negative = False
    if body.startswith("(") and body.endswith(")"):
        negative = True
        body = body[1:-1].strip()
    match = _BODY.fullmatch(body)
    if match is None:
        raise ValueError(f"cannot read amount {raw!r}")
    sign1, _prefix, sign2, number, _suffix, trailing = match.groups()
    if "-" in (sign1, sign2) or trailing == "-":
        negative = True
    number = re.sub(r"[\s']", "", number)
    if decimal_comma:
        if _GROUPED_COMMA.fullmatch(number):
            number = number.replace(".", "").replace(",", ".")
        elif _PLAIN_COMMA.fullmatch(number):
            number = number.replace(",", ".")
        else:
            raise ValueError(f"cannot read amount {raw!r} with --decimal-comma")
    elif _GROUPED_DOT.fullmatch(number):
        number = number.replace(",", "")
    elif not _PLAIN_DOT.fullmatch(number):
        if _LOOKS_DECIMAL_COMMA.fullmatch(number):
            raise ValueError(
                f"amount {raw!r} looks like it uses a decimal comma; pass --decimal-comma"
            )
        raise ValueError(f"cannot read amount {raw!r}")
    try:
        value = Decimal(number)
    except InvalidOperation:
        raise ValueError(f"cannot read amount {raw!r}") from None
    decimals = minor_units(currency)
    scaled = value.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        what = currency.upper() if currency else "an amount without a currency"
        raise ValueError(f"amount {raw!r} has too many decimals for {what} (at most {decimals})")
    minor = int(scaled)
    return -minor if negative else minor


def to_major(minor: int, currency: str | None = None) -> float:
    """Minor units -> major units as a float (for display and statistics)."""
    return minor / 10 ** minor_units(currency)


def format_money(minor: int | None, currency: str | None = None, locale: str | None = None) -> str:
    """Minor units as the shop's customers write money, in ``locale`` (Babel, CLDR data).

    ``120450, "USD", "en_US"`` -> ``$1,204.50``; ``1640, "EUR", "de_DE"`` -> ``16,40 €``;
    ``1640, "EUR", "en_GB"`` -> ``€16.40``. The number of decimals is the currency's own
    (:func:`minor_units`), so an amount reads back exactly with :func:`parse_amount`. Without a
    currency the number alone. ``locale`` defaults to :data:`DEFAULT_LOCALE`; an unknown
    locale raises ``ValueError`` (campaign files are checked when they are read).
    """
    if minor is None:
        return ""
    return _format_money(int(minor), normalise_currency(currency), locale or DEFAULT_LOCALE)


@lru_cache(maxsize=16384)
def _format_money(minor: int, currency: str | None, locale: str) -> str:
    digits = minor_units(currency)
    value = Decimal(minor).scaleb(-digits)
    pattern = _money_pattern(locale, digits, currency is not None)
    text = str(pattern.apply(value, _locale(locale), currency=currency, currency_digits=False))
    # CLDR's currency spacing, which Babel leaves out: "CHF 19.99", not "CHF19.99"
    return _LETTER_DIGIT.sub("\\1\u00a0\\2", _DIGIT_LETTER.sub("\\1\u00a0\\2", text))


_LETTER_DIGIT = re.compile(r"([^\W\d_])(\d)")
_DIGIT_LETTER = re.compile(r"(\d)([^\W\d_])")


@lru_cache(maxsize=64)
def _money_pattern(locale: str, digits: int, with_currency: bool) -> Any:
    """The locale's standard currency (or decimal) pattern with exactly ``digits`` decimals."""
    import copy

    parsed = _locale(locale)
    formats = parsed.currency_formats if with_currency else parsed.decimal_formats
    pattern = copy.copy(formats["standard"] if with_currency else formats[None])
    pattern.frac_prec = (digits, digits)
    return pattern


@lru_cache(maxsize=64)
def _locale(name: str) -> Any:
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(name.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(
            f"{name!r} is not a locale; write one such as en_US, en_GB or de_DE"
        ) from None


def check_locale(name: str) -> str:
    """``de-de`` -> ``de_DE``, the canonical name of a locale Babel knows; ValueError if none."""
    return str(_locale(name.strip()))
