"""Money: parsing amounts as shops export them, minor units per currency, formatting.

Money is stored as integer minor units (cents) with a currency code. Most currencies have two
decimals; the exceptions are listed in :data:`MINOR_UNITS` (ISO 4217). An unknown or missing
currency is taken to have two decimals.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

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

SYMBOLS: dict[str, str] = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}

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


def format_money(minor: int | None, currency: str | None = None) -> str:
    """``120450, 'USD'`` -> ``$1,204.50``; unknown currencies get their code after the number."""
    if minor is None:
        return ""
    decimals = minor_units(currency)
    sign = "-" if minor < 0 else ""
    number = f"{abs(minor) / 10**decimals:,.{decimals}f}"
    code = (currency or "").upper()
    symbol = SYMBOLS.get(code)
    if symbol:
        return f"{sign}{symbol}{number}"
    return f"{sign}{number} {code}".rstrip()
