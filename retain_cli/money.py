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

#: the ISO 4217 codes of the currencies in use
_ISO_4217 = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
    KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP
    MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
    RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS
    TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER
    ZAR ZMW ZWG ZWL
"""
ISO_CODES = frozenset(_ISO_4217.split())

#: symbols and local abbreviations that name one currency (letters compared in lower case)
_MARKS: dict[str, str] = {
    "€": "EUR",
    "£": "GBP",
    "₹": "INR",
    "₩": "KRW",
    "₺": "TRY",
    "₽": "RUB",
    "₪": "ILS",
    "₱": "PHP",
    "฿": "THB",
    "₫": "VND",
    "₴": "UAH",
    "₦": "NGN",
    "円": "JPY",
    "元": "CNY",
    "cn¥": "CNY",
    "rmb": "CNY",
    "us$": "USD",
    "c$": "CAD",
    "ca$": "CAD",
    "a$": "AUD",
    "au$": "AUD",
    "nz$": "NZD",
    "hk$": "HKD",
    "s$": "SGD",
    "mx$": "MXN",
    "r$": "BRL",
    "zł": "PLN",
    "kč": "CZK",
    "ft": "HUF",
    "lei": "RON",
}

#: the currencies written with a plain $
_DOLLARS = """
    USD CAD AUD NZD HKD SGD TWD MXN ARS CLP COP BSD BBD BMD BZD FJD JMD KYD LRD NAD SBD SRD
    TTD XCD
"""

#: symbols several currencies write: the usual reading, and the currencies that share it
#: (a shop whose own currency is one of them reads the symbol as its own)
AMBIGUOUS_MARKS: dict[str, tuple[str | None, frozenset[str]]] = {
    "$": ("USD", frozenset(_DOLLARS.split())),
    "¥": ("JPY", frozenset({"JPY", "CNY"})),
    "kr": (None, frozenset({"SEK", "NOK", "DKK", "ISK"})),
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


def check_currency(text: str) -> str:
    """A currency code as the user typed it (``eur``) -> ``EUR``; ValueError unless it is
    an ISO 4217 code in use."""
    code = text.strip().upper()
    if code not in ISO_CODES:
        raise ValueError(
            f"{text.strip()!r} is not a currency code; use one such as EUR, USD or GBP"
        )
    return code


def amount_currency(text: str, default: str | None = None) -> str | None:
    """The currency an amount names with a code or symbol (``12,50 EUR``, ``12,50 €``,
    ``€12.50``, ``$12.50``), or None when it names none (``12.50``).

    A symbol several currencies use is read as the shop's (``default``) when that is one of
    them, else as the usual one: ``$`` is USD unless the shop's currency is another dollar
    (CAD, AUD ...), ``¥`` is JPY unless it is CNY; ``kr`` needs the shop's currency to tell
    SEK, NOK, DKK and ISK apart. Raises ValueError for a symbol or code it does not know."""
    body = text.strip()
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1].strip()
    match = _BODY.fullmatch(body)
    if match is None:
        return None  # not an amount at all: parse_amount says why
    found = {_mark(mark, default, text) for mark in (match[2], match[5]) if mark}
    if len(found) > 1:
        raise ValueError(f"amount {text.strip()!r} names two currencies")
    return found.pop() if found else None


def _mark(mark: str, default: str | None, text: str) -> str:
    """The currency one mark around an amount stands for (see amount_currency)."""
    if mark.upper() in ISO_CODES:
        return mark.upper()
    lower = mark.lower().rstrip(".")
    if lower in _MARKS:
        return _MARKS[lower]
    if lower in AMBIGUOUS_MARKS:
        usual, shared = AMBIGUOUS_MARKS[lower]
        if default in shared:
            return default
        if usual is not None:
            return usual
        raise ValueError(
            f"{mark!r} in amount {text.strip()!r} may be {', '.join(sorted(shared))}; pass "
            "--currency (or set the shop's: retain config set currency CODE)"
        )
    raise ValueError(
        f"unknown currency {mark!r} in amount {text.strip()!r}; write a code such as EUR"
    )


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
