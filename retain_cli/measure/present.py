"""Figures as people read them: the units of ``retain metrics`` (rates in percent, money in
the shop's currency), shared by the terminal and the HTML report."""

from __future__ import annotations

from retain_cli.money import SYMBOLS, minor_units


def money_text(value: float | None, currency: str, *, sign: bool = False) -> str:
    """A major-unit amount in the shop's currency: ``€12.50``, ``-1,200 JPY``."""
    if value is None:
        return "-"
    digits = minor_units(currency)
    mark = "+" if sign and value > 0 else "-" if value < 0 else ""
    number = f"{abs(value):,.{digits}f}"
    symbol = SYMBOLS.get(currency.upper())
    if symbol:
        return f"{mark}{symbol}{number}"
    return f"{mark}{number} {currency}".rstrip()


def percent(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def points(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value * 100:+.{digits}f} pp"


def goal_value(value: float | None, unit: str, currency: str) -> str:
    """A figure of ``retain metrics`` in its unit (rate: 57.8%, money: €18.36, days: 16)."""
    if value is None:
        return "-"
    if unit == "rate":
        return percent(value)
    if unit == "money":
        return money_text(value, currency)
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "days":
        return f"{value:g} days"
    return f"{value:,.2f}"
