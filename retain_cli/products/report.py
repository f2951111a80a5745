"""``retain products`` and ``retain recommend CUSTOMER``: the library side."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retain_cli.products.curated import PRODUCTS_FILE, load_curated
from retain_cli.products.model import ProductModel, load_model
from retain_cli.products.recommend import EPOCH, Recommendation, day_number, purchases, recommend
from retain_cli.products.replenish import Due, due_items
from retain_cli.timeutil import from_iso, local_day, to_iso, zone

if TYPE_CHECKING:
    from retain_cli.store import Store

DEFAULT_PRODUCTS_FILE = Path(PRODUCTS_FILE)


def product_rows(model: ProductModel, limit: int | None = None) -> list[dict[str, Any]]:
    """Best sellers first (orders, then units): one row per product."""
    ranked = sorted(
        range(len(model)),
        key=lambda p: (-model.orders[p], -model.units[p], model.catalogue.names[p]),
    )
    rows = []
    for p in ranked[:limit] if limit else ranked:
        gap, low, high = model.gap_days[p], model.gap_low[p], model.gap_high[p]
        skus = model.catalogue.skus[p]
        rows.append(
            {
                "product": model.catalogue.names[p],
                "sku": ", ".join(skus[:2]) + (f" +{len(skus) - 2}" if len(skus) > 2 else ""),
                "orders": model.orders[p],
                "units": model.units[p],
                "customers": model.customers[p],
                "repeat_rate": f"{model.repeat_rate(p):.0%}",
                "gap_days": None if gap is None else round(gap),
                "gap_spread": None if low is None or high is None else f"{low:g}-{high:g}",
                "repeat_customers": model.repeat_customers[p],
                "last_sold": (EPOCH + timedelta(days=model.last_sold[p])).isoformat(),
            }
        )
    return rows


def products_report(store: Store, limit: int | None = None) -> tuple[int, list[dict[str, Any]]]:
    """(baskets, rows) for ``retain products``."""
    model = load_model(store)
    return model.baskets, product_rows(model, limit)


@dataclass(slots=True)
class Advice:
    customer_id: str
    email: str | None
    bought: list[dict[str, Any]] = field(default_factory=list)  # product, last bought
    recommendations: list[Recommendation] = field(default_factory=list)
    due: list[Due] = field(default_factory=list)


def customer_advice(
    store: Store,
    key: str,
    as_of: datetime,
    *,
    pairs_file: Path = DEFAULT_PRODUCTS_FILE,
    n: int = 3,
    timezone: str = "UTC",
) -> Advice:
    """What ``retain recommend CUSTOMER`` shows: what they bought, what to suggest and why,
    and the products they are due to buy again."""
    from retain_cli.analytics.customers import find_customer

    ref = find_customer(store, key)
    record = store.customer_record(ref)
    model = load_model(store)
    curated = load_curated(pairs_file, model.catalogue)
    lines = store.customers_product_lines([ref], to_iso(as_of))
    bought = purchases(model, lines)
    today = day_number(as_of)
    tz = zone(timezone)
    advice = Advice(str(record["customer_id"]), record.get("email"))
    advice.bought = [
        {
            "product": model.catalogue.names[p],
            "last_bought": (EPOCH + timedelta(days=day)).isoformat(),
        }
        for p, day in sorted(bought.items(), key=lambda item: -item[1])
    ]
    advice.recommendations = recommend(model, curated, bought, today, n)
    advice.due = due_items(model, lines, lambda stamp: _local(stamp, tz))
    return advice


def _local(stamp: str, tz: Any) -> Any:
    return local_day(from_iso(stamp), tz)
