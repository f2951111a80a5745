"""Figures as people read them: the units of ``retain metrics`` (rates in percent, money in
the shop's currency), written for the campaign file's ``shop.locale`` as messages are
(``€16.40`` in en_GB, ``16,40 €`` in de_DE); shared by the terminal and the HTML report."""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from retain_cli.money import DEFAULT_LOCALE, format_money, minor_units


def money_text(
    value: float | None, currency: str, *, sign: bool = False, locale: str = DEFAULT_LOCALE
) -> str:
    """A major-unit amount in the shop's currency and locale: ``€12.50``, ``-12,50 €``."""
    if value is None:
        return "-"
    minor = round(abs(value) * 10 ** minor_units(currency))
    mark = "+" if sign and minor and value > 0 else "-" if minor and value < 0 else ""
    return mark + format_money(minor, currency or None, locale)


@lru_cache(maxsize=16)
def _percent_pattern(locale: str, digits: int) -> Any:
    from babel import Locale

    pattern = copy.copy(Locale.parse(locale).percent_formats[None])  # "12.5%", "12,5 %"
    pattern.frac_prec = (digits, digits)
    return pattern


def percent(value: float | None, digits: int = 1, locale: str = DEFAULT_LOCALE) -> str:
    if value is None:
        return "-"
    return str(_percent_pattern(locale, digits).apply(value, locale))


def points(value: float | None, digits: int = 1, locale: str = DEFAULT_LOCALE) -> str:
    """A difference of rates in percentage points: ``+4.0 pp``, ``-1,5 pp``."""
    if value is None:
        return "-"
    from babel.numbers import format_decimal

    number = format_decimal(abs(value) * 100, "#,##0." + "0" * digits, locale=locale)
    return f"{'-' if value < 0 and number.strip('0,.') else '+'}{number} pp"


def goal_value(value: float | None, unit: str, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """A figure of ``retain metrics`` in its unit (rate: 57.8%, money: €18.36, days: 16)."""
    if value is None:
        return "-"
    if unit == "rate":
        return percent(value, locale=locale)
    if unit == "money":
        return money_text(value, currency, locale=locale)
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "days":
        return f"{value:g} days"
    return f"{value:,.2f}"


class Units:
    """The shop's currency and locale, and every way a report writes a figure with them."""

    def __init__(self, currency: str, locale: str = DEFAULT_LOCALE) -> None:
        self.currency = currency
        self.locale = locale

    def money(self, value: float | None, *, sign: bool = False) -> str:
        return money_text(value, self.currency, sign=sign, locale=self.locale)

    def percent(self, value: float | None) -> str:
        return percent(value, locale=self.locale)

    def points(self, value: float | None) -> str:
        return points(value, locale=self.locale)

    def goal(self, value: float | None, unit: str) -> str:
        return goal_value(value, unit, self.currency, self.locale)

    def interval(self, interval: Any, kind: str) -> str:
        """``+4.0 pp (-2.1 to +10.3)``, ``+€3.00 (+€0.96 to +€5.04)``; kind: rate, money or
        count (an :class:`~retain_cli.measure.stats.Interval`, or None: ``-``)."""
        if interval is None:
            return "-"
        values = (interval.estimate, interval.low, interval.high)
        if kind == "rate":
            parts = [self.points(v) for v in values]
            return f"{parts[0]} ({parts[1][:-3]} to {parts[2][:-3]})"
        if kind == "money":
            parts = [self.money(v, sign=True) for v in values]
        else:
            parts = [f"{v:+,.1f}" for v in values]
        return f"{parts[0]} ({parts[1]} to {parts[2]})"
