"""Money parsing: the amounts shops export, minor units per currency."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retain_cli.money import format_money, minor_units, parse_amount, to_major


@pytest.mark.parametrize(
    "text,currency,decimal_comma,expected",
    [
        ("19.99", None, False, 1999),
        ("$1,204.00", "USD", False, 120400),
        ("1,204", None, False, 120400),
        ("USD 19.99", None, False, 1999),
        ("19.99 €", "EUR", False, 1999),
        ("-12.5", "EUR", False, -1250),
        ("(5.00)", None, False, -500),
        ("5.00-", None, False, -500),
        ("-$3", None, False, -300),
        (".5", None, False, 50),
        ("1.204,00", "EUR", True, 120400),
        ("1 204,50", "EUR", True, 120450),
        ("12,5", "EUR", True, 1250),
        ("1200", "JPY", False, 1200),
        ("1,200", "JPY", False, 1200),
        ("1.234", "KWD", False, 1234),
        ("49.00", "usd", False, 4900),
    ],
)
def test_parse_amount(text, currency, decimal_comma, expected):
    assert parse_amount(text, currency, decimal_comma=decimal_comma) == expected


@pytest.mark.parametrize(
    "text,currency,message",
    [
        ("12,50", None, "looks like it uses a decimal comma; pass --decimal-comma"),
        ("abc", None, "cannot read amount 'abc'"),
        ("", None, "amount is empty"),
        ("1.5", "JPY", "too many decimals for JPY (at most 0)"),
        ("19.999", "USD", "too many decimals for USD (at most 2)"),
        ("1,2,3.4.5", None, "cannot read amount"),
    ],
)
def test_parse_amount_rejects_with_a_reason(text, currency, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_amount(text, currency)


def test_minor_units_and_formatting():
    assert minor_units(None) == 2
    assert minor_units("jpy") == 0
    assert minor_units("BHD") == 3
    assert format_money(120450, "USD") == "$1,204.50"
    assert format_money(-500, "EUR") == "-€5.00"
    assert format_money(1200, "JPY") == "¥1,200"
    assert format_money(1999, "CHF") == "CHF\u00a019.99"
    assert format_money(1640, "EUR", "de_DE") == "16,40\u00a0€"
    assert format_money(1640, "EUR", "en_GB") == "€16.40"
    assert format_money(1234500, "KWD", "en_US") == "KWD\u00a01,234.500"  # three decimals
    assert format_money(1250, None, "de_DE") == "12,50"
    assert format_money(None, "USD") == ""
    assert to_major(1999, "USD") == 19.99
    assert to_major(1200, "JPY") == 1200


@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from(["USD", "EUR", "JPY", "KWD", "GBP"]),
)
def test_formatted_amounts_parse_back(minor, currency):
    assert parse_amount(format_money(minor, currency), currency) == minor


@given(st.integers(min_value=0, max_value=10**12))
def test_decimal_comma_round_trip(minor):
    major, cents = divmod(minor, 100)
    text = f"{major:,}".replace(",", ".") + f",{cents:02d}"
    assert parse_amount(text, "EUR", decimal_comma=True) == minor
