"""What to suggest to one customer, and why.

From the products they bought (the most recent first): the shop's own pairs
(``products.yaml``) first, then the products most often in the same orders (highest
confidence, then lift). Never a product they bought in the last :data:`RECENT_DAYS` days,
never one with no sale in the last :data:`ACTIVE_DAYS` days (likely discontinued).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from retain_cli.products.curated import CuratedPair
from retain_cli.products.model import ProductModel

RECENT_DAYS = 180
ACTIVE_DAYS = 90
MAX_RECOMMENDATIONS = 20
EPOCH = date(1970, 1, 1)


def day_number(value: str | date | datetime) -> int:
    """Days since 1970-01-01 of a UTC timestamp (ISO text), a datetime or a date."""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.date()
    return (value - EPOCH).days


@dataclass(frozen=True, slots=True)
class Recommendation:
    product: str  # the product's key
    name: str
    sku: str | None
    because: str  # the product they bought that it goes with
    curated: bool  # from products.yaml
    together: int | None  # orders holding both (None for a curated pair)
    support: float | None
    confidence: float | None
    lift: float | None
    note: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def purchases(model: ProductModel, lines: Iterable[Mapping[str, Any]]) -> dict[int, int]:
    """product -> the day number it was last bought, from a customer's order lines (with
    ``ordered_at``, ``sku``, ``name``); products the model does not know are left out."""
    out: dict[int, int] = {}
    for line in lines:
        product = model.catalogue.product_of(line.get("sku"), line.get("name"))
        if product is None:
            continue
        day = line.get("day")
        if day is None:
            day = day_number(str(line["ordered_at"]))
        if day > out.get(product, -(10**9)):
            out[product] = day
    return out


def recommend(
    model: ProductModel,
    curated: Mapping[int, list[CuratedPair]],
    bought: Mapping[int, int],
    today: int,
    n: int = 3,
) -> list[Recommendation]:
    """Up to ``n`` recommendations for a customer who bought ``bought`` (product -> last
    day), as of the day number ``today``."""
    names = model.catalogue.names
    recent = {p for p, day in bought.items() if day > today - RECENT_DAYS}

    def allowed(product: int) -> bool:
        return product not in recent and model.last_sold[product] > today - ACTIVE_DAYS

    chosen: dict[int, Recommendation] = {}
    latest_first = sorted(bought, key=lambda p: (-bought[p], names[p]))
    for source in latest_first:
        for pair in curated.get(source, []):
            if pair.recommend in chosen or not allowed(pair.recommend):
                continue
            reason = f"bought {names[source]}; the shop pairs {names[pair.recommend]} with it"
            if pair.note:
                reason += f" ({pair.note})"
            chosen[pair.recommend] = _make(model, pair.recommend, source, None, pair.note, reason)
    wanted = max(0, min(n, MAX_RECOMMENDATIONS))
    if len(chosen) >= wanted:
        return list(chosen.values())[:wanted]
    # each product's pairs are sorted by confidence, best first: from each, the first
    # ``wanted`` allowed targets are enough (a later one has that many at least as good)
    orders, baskets = model.orders, model.baskets
    best: dict[int, tuple[float, int, int]] = {}  # target -> (-confidence, source, together)
    for source in latest_first:
        pairs = model.pairs.get(source)
        if not pairs:
            continue
        base, taken = orders[source], 0
        for target, together in pairs:
            if target in chosen or not allowed(target):
                continue
            negative = -together / base
            found = best.get(target)
            if found is None or negative < found[0]:
                best[target] = (negative, source, together)
            taken += 1
            if taken >= wanted:
                break
    # best confidence first; of equal ones the higher lift (the less common target)
    ranked = sorted(best.items(), key=lambda item: (item[1][0], orders[item[0]], item[0]))
    for target, (negative, source, together) in ranked[: wanted - len(chosen)]:
        lift = -negative * baskets / orders[target]
        reason = (
            f"bought {names[source]}; {-negative:.0%} of the orders with {names[source]} "
            f"also had {names[target]}, lift {lift:.1f}"
        )
        chosen[target] = _make(model, target, source, together, None, reason)
    return list(chosen.values())


def _make(
    model: ProductModel,
    product: int,
    source: int,
    together: int | None,
    note: str | None,
    reason: str,
) -> Recommendation:
    figures = model.pair(source, product, together) if together is not None else None
    skus = model.catalogue.skus[product]
    return Recommendation(
        product=model.catalogue.keys[product],
        name=model.catalogue.names[product],
        sku=skus[0] if skus else None,
        because=model.catalogue.names[source],
        curated=together is None,
        together=together,
        support=None if figures is None else round(figures["support"], 6),
        confidence=None if figures is None else round(figures["confidence"], 4),
        lift=None if figures is None else round(figures["lift"], 2),
        note=note,
        reason=reason,
    )
