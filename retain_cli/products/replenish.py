"""Who is due to buy a product again.

A customer is due for a product on the day of their last purchase of it plus an interval:
their own (the median of the days between their purchases of it, when they bought it on two
days or more), else the product's (the median over its repeat customers, see
:mod:`retain_cli.products.model`); a product with neither is never due. A new purchase of the
product moves the due day on, so a reminder is once per purchase and never after a reorder.
The occurrence (``2026-10-01 coffee beans``: the day of that purchase and the product) is
what the send ledger keys the reminder by.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from retain_cli.products.model import ProductModel, median_gap


@dataclass(frozen=True, slots=True)
class Due:
    product: str  # the product's key
    name: str
    sku: str | None
    last_bought: date  # the shop's day of their last purchase of it
    last_order_at: str  # that order's timestamp (UTC ISO text)
    times_bought: int  # the days they bought it on
    interval_days: int
    own_interval: bool  # their own interval (else the product's)
    due: date

    @property
    def occurrence(self) -> str:
        return f"{self.last_bought.isoformat()} {self.product}"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["last_bought"] = self.last_bought.isoformat()
        data["due"] = self.due.isoformat()
        return data


def due_items(
    model: ProductModel, lines: Iterable[Mapping[str, Any]], to_day: Callable[[str], date]
) -> list[Due]:
    """Every product a customer bought that has an interval, with its due day (earliest
    first); ``lines`` are their order lines (``ordered_at``, ``sku``, ``name``), ``to_day``
    turns a timestamp into the shop's day."""
    days: dict[int, dict[date, str]] = {}
    for line in lines:
        product = model.catalogue.product_of(line.get("sku"), line.get("name"))
        if product is None:
            continue
        stamp = str(line["ordered_at"])
        day = to_day(stamp)
        seen = days.setdefault(product, {})
        if day not in seen or stamp > seen[day]:
            seen[day] = stamp
    out: list[Due] = []
    for product, bought in days.items():
        ordered = sorted(bought)
        own = median_gap([d.toordinal() for d in ordered])
        interval = own if own is not None else model.gap_days[product]
        if interval is None:
            continue
        interval_days = max(1, round(interval))
        last = ordered[-1]
        skus = model.catalogue.skus[product]
        out.append(
            Due(
                product=model.catalogue.keys[product],
                name=model.catalogue.names[product],
                sku=skus[0] if skus else None,
                last_bought=last,
                last_order_at=bought[last],
                times_bought=len(ordered),
                interval_days=interval_days,
                own_interval=own is not None,
                due=last + timedelta(days=interval_days),
            )
        )
    out.sort(key=lambda d: (d.due, d.name))
    return out
