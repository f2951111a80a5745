"""SQL for the shop's settings (a mixin of :class:`retain_cli.store.Store`).

``settings`` holds one value per key (m011_settings); which keys exist and how their values
are checked is :mod:`retain_cli.settings`' business.
"""

from __future__ import annotations

from retain_cli.store.base import StoreBase
from retain_cli.timeutil import utc_now_iso


class SettingsStore(StoreBase):
    """Reading and writing settings."""

    def setting(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def settings(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT key, value FROM settings ORDER BY key"))

    def set_setting(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at",
            (key, value, utc_now_iso()),
        )

    def unset_setting(self, key: str) -> bool:
        """Forget a setting; False when it was not set."""
        return self.conn.execute("DELETE FROM settings WHERE key = ?", (key,)).rowcount == 1

    def orders_without_currency(self) -> int:
        (count,) = self.conn.execute(
            "SELECT count(*) FROM orders WHERE coalesce(currency, '') = ''"
        ).fetchone()
        return int(count)

    def fill_order_currency(self, currency: str) -> int:
        """Give the orders stored without a currency this one; returns how many."""
        return self.conn.execute(
            "UPDATE orders SET currency = ? WHERE coalesce(currency, '') = ''", (currency,)
        ).rowcount
