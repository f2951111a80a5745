"""A deterministic sample shop (a Berlin bakery and coffee bar) and ``retain demo``.

- :mod:`.shop`: the simulation (customers, orders, seasons), ``generate_shop``;
- :mod:`.exports`: the shop written in its platforms' export layouts;
- :mod:`.run`: ``run_demo``, which sets a folder up, writes the exports and imports them.
"""

from __future__ import annotations

from retain_cli.demo.exports import (
    birthdays_csv,
    customers_csv,
    orders_csv,
    signups_csv,
    unsubscribes_csv,
)
from retain_cli.demo.run import DemoResult, run_demo
from retain_cli.demo.shop import CUSTOMER_HEADER, ORDER_HEADER, Shop, generate_shop, shopify_time

__all__ = [
    "CUSTOMER_HEADER",
    "ORDER_HEADER",
    "DemoResult",
    "Shop",
    "birthdays_csv",
    "customers_csv",
    "generate_shop",
    "orders_csv",
    "run_demo",
    "shopify_time",
    "signups_csv",
    "unsubscribes_csv",
]
