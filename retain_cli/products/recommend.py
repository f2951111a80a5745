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
    return Recommender(model, curated, today)(bought, n)


class Recommender:
    """:func:`recommend` for many customers on one day (a send): each product's pairs
    filtered once to the targets still selling, and each suggestion (a target and the
    product it goes with, always the same figures and reason) made once."""

    def __init__(
        self, model: ProductModel, curated: Mapping[int, list[CuratedPair]], today: int
    ) -> None:
        self.model, self.curated, self.today = model, curated, today
        self.active = [day > today - ACTIVE_DAYS for day in model.last_sold]
        self._pairs: dict[int, list[tuple[int, int, float, int]]] = {}
        self._made: dict[tuple[int, int, int | None, str | None], Recommendation] = {}

    def pairs(self, source: int) -> list[tuple[int, int, float, int]]:
        """(target, together, -confidence, orders of the target) of the source's pairs whose
        target still sells, best confidence first."""
        found = self._pairs.get(source)
        if found is None:
            orders, active = self.model.orders, self.active
            base = orders[source]
            found = self._pairs[source] = [
                (target, together, -together / base, orders[target])
                for target, together in self.model.pairs.get(source, ())
                if active[target]
            ]
        return found

    def __call__(self, bought: Mapping[int, int], n: int = 3) -> list[Recommendation]:
        if not bought:
            return []
        names, active = self.model.catalogue.names, self.active
        since = self.today - RECENT_DAYS
        recent = {p for p, day in bought.items() if day > since}
        chosen: dict[int, Recommendation] = {}
        latest_first = sorted(bought, key=lambda p: (-bought[p], names[p]))
        for source in latest_first:
            for pair in self.curated.get(source, ()):
                target = pair.recommend
                if target in chosen or target in recent or not active[target]:
                    continue
                chosen[target] = self._make(target, source, None, pair.note)
        wanted = max(0, min(n, MAX_RECOMMENDATIONS))
        if len(chosen) >= wanted:
            return list(chosen.values())[:wanted]
        # each product's pairs are sorted by confidence, best first: from each, the first
        # ``wanted`` allowed targets are enough (a later one has that many at least as good)
        # target -> (-confidence, its orders, target, source, together): sorted as they are
        best: dict[int, tuple[float, int, int, int, int]] = {}
        for source in latest_first:
            taken = 0
            for target, together, negative, orders in self.pairs(source):
                if target in chosen or target in recent:
                    continue
                found = best.get(target)
                if found is None or negative < found[0]:
                    best[target] = (negative, orders, target, source, together)
                taken += 1
                if taken >= wanted:
                    break
        # best confidence first; of equal ones the higher lift (the less common target)
        ranked = sorted(best.values())
        for _, _, target, source, together in ranked[: wanted - len(chosen)]:
            chosen[target] = self._make(target, source, together, None)
        return list(chosen.values())

    def _make(
        self, product: int, source: int, together: int | None, note: str | None
    ) -> Recommendation:
        key = (product, source, together, note)
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = _make(self.model, product, source, together, note)
        return made


def _make(
    model: ProductModel, product: int, source: int, together: int | None, note: str | None
) -> Recommendation:
    names = model.catalogue.names
    if together is None:
        reason = f"bought {names[source]}; the shop pairs {names[product]} with it"
        if note:
            reason += f" ({note})"
        figures = None
    else:
        figures = model.pair(source, product, together)
        share = together / model.orders[source]
        lift = share * model.baskets / model.orders[product]
        reason = (
            f"bought {names[source]}; {share:.0%} of the orders with {names[source]} "
            f"also had {names[product]}, lift {lift:.1f}"
        )
    skus = model.catalogue.skus[product]
    return Recommendation(
        product=model.catalogue.keys[product],
        name=names[product],
        sku=skus[0] if skus else None,
        because=names[source],
        curated=together is None,
        together=together,
        support=None if figures is None else round(figures["support"], 6),
        confidence=None if figures is None else round(figures["confidence"], 4),
        lift=None if figures is None else round(figures["lift"], 2),
        note=note,
        reason=reason,
    )
