"""The shop's settings: chosen once, kept in the database, used by every command
(``retain config set|show|unset``).

``currency``: the currency of amounts that name none. An orders import reads each amount's
currency from the file (a currency column, or a code or symbol with the amount); where the
file names none it takes ``--currency``, else this setting, else it fails and says so.
Setting it also gives the orders stored without a currency (imported before it existed) this
one, so no amount is shown without its currency.

``program_holdout``: the share of customers kept out of every marketing campaign (``5%``).
It is not a plain value: setting it draws the customers, and the draw is recorded, so it is
set and ended by :mod:`retain_cli.campaigns.program` (``retain config set`` routes it there);
here it is only listed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from retain_cli.errors import UsageError
from retain_cli.money import check_currency

if TYPE_CHECKING:
    from retain_cli.store import Store


@dataclass(frozen=True)
class Setting:
    key: str
    help: str
    check: Callable[[str], str]  # the value as typed -> as stored; ValueError if wrong


SETTINGS: dict[str, Setting] = {
    "currency": Setting(
        "currency",
        "the shop's currency (ISO 4217 code, e.g. EUR), for amounts that name none",
        check_currency,
    ),
    "program_holdout": Setting(
        "program_holdout",
        "the share of customers kept out of every marketing campaign, e.g. 5% ('retain "
        "report program' compares them with everyone else)",
        str,
    ),
}
#: settings kept in tables of their own (set and unset by their domain), listed here only
MANAGED = ("program_holdout",)


@dataclass(frozen=True)
class SettingChange:
    """What ``retain config set`` did."""

    key: str
    value: str
    previous: str | None
    #: currency: orders stored without a currency that now have this one
    orders_filled: int = 0


def _setting(key: str) -> Setting:
    setting = SETTINGS.get(key.strip().lower())
    if setting is None:
        raise UsageError(f"unknown setting {key!r}; the settings are: {', '.join(SETTINGS)}")
    return setting


def shop_currency(store: Store) -> str | None:
    """The shop's currency, if set."""
    return store.setting("currency")


def set_setting(store: Store, key: str, value: str) -> SettingChange:
    """Check and store one setting (see the module docstring for what ``currency`` does)."""
    setting = _setting(key)
    if setting.key in MANAGED:
        raise UsageError(f"{setting.key} is set by its own module, not as a plain value")
    try:
        stored = setting.check(value)
    except ValueError as exc:
        raise UsageError(f"{setting.key}: {exc}") from None
    with store.transaction():
        previous = store.setting(setting.key)
        store.set_setting(setting.key, stored)
        filled = store.fill_order_currency(stored) if setting.key == "currency" else 0
    return SettingChange(setting.key, stored, previous, filled)


def unset_setting(store: Store, key: str) -> bool:
    """Forget one setting; False when it was not set."""
    setting = _setting(key)
    with store.transaction():
        return store.unset_setting(setting.key)


def show_settings(store: Store) -> list[dict[str, str | None]]:
    """Every setting with its value (None: not set) and what it is for."""
    values = store.settings()
    program = store.program_active()
    if program is not None:
        values["program_holdout"] = (
            f"{program['share'] * 100:g}% (since {program['started_at'][:10]})"
        )
    return [
        {"setting": s.key, "value": values.get(s.key), "meaning": s.help} for s in SETTINGS.values()
    ]
