"""What templates see of the shop's products: ``recommendations(n=3)`` and ``replenishment``.

:class:`ProductOffers` lives for one run (a send, a preview, a check): the product model and
the shop's pairs (``products.yaml`` beside the campaign file) are loaded the first time a
template asks, and each batch's customers' order lines in one query the first time a
template asks about one of them. A template that never calls ``recommendations`` costs
nothing. The replenishment trigger (:mod:`retain_cli.campaigns.due`) asks
:meth:`ProductOffers.due` who is due for what.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from retain_cli.timeutil import from_iso, local_day, to_iso, zone

if TYPE_CHECKING:
    from retain_cli.campaigns.model import Campaign, CampaignConfig
    from retain_cli.products.model import ProductModel
    from retain_cli.products.replenish import Due
    from retain_cli.store import Store

REPLENISHMENT = "replenishment"


class ProductOffers:
    """The product side of template contexts for one run (see the module's docstring)."""

    def __init__(self, store: Store, config: CampaignConfig, as_of: datetime) -> None:
        self.store, self.config, self.as_of = store, config, as_of
        self.tz = zone(config.timezone)
        self._model: ProductModel | None = None
        self._curated: dict[int, Any] | None = None
        self._batch: tuple[int, ...] = ()
        self._lines: dict[int, list[dict[str, Any]]] | None = None
        self._bought: dict[int, dict[int, int]] | None = None
        self._made: dict[tuple[int, int], list[dict[str, Any]]] = {}  # text and HTML: once

    @property
    def model(self) -> ProductModel:
        if self._model is None:
            from retain_cli.products.model import load_model

            self._model = load_model(self.store)
        return self._model

    @property
    def curated(self) -> dict[int, Any]:
        if self._curated is None:
            from retain_cli.products.curated import PRODUCTS_FILE, load_curated

            path = self.config.path.absolute().parent / PRODUCTS_FILE
            self._curated = load_curated(path, self.model.catalogue)
        return self._curated

    def batch(self, refs: Sequence[int]) -> None:
        """The customers whose contexts are being made (their lines are read together)."""
        self._batch = tuple(refs)
        self._lines = self._bought = None
        self._made = {}

    def lines(self, ref: int) -> list[dict[str, Any]]:
        if self._lines is None or ref not in self._lines:
            refs = self._batch if ref in self._batch else (ref,)
            self._lines = {r: [] for r in refs}
            for line in self.store.customers_product_lines(refs, to_iso(self.as_of)):
                self._lines[line["customer_ref"]].append(line)
        return self._lines.get(ref, [])

    def recommendations_for(self, ref: int) -> Callable[..., list[dict[str, Any]]]:
        """The template function ``recommendations(n=3)`` for one customer."""
        return partial(self.recommendations, ref)

    def recommendations(self, ref: int, n: int = 3) -> list[dict[str, Any]]:
        from retain_cli.products.recommend import day_number, recommend

        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 20:
            raise TypeError(f"recommendations: n must be a whole number from 0 to 20, not {n!r}")
        made = self._made.get((ref, n))
        if made is not None:
            return [dict(r) for r in made]
        model = self.model
        if self._bought is None or ref not in self._bought:
            refs = self._batch if ref in self._batch else (ref,)
            self._bought = {r: {} for r in refs}
            rows = self.store.customers_product_days(refs, to_iso(self.as_of))
            product_of, bought = model.catalogue.product_of, self._bought
            for customer, day, sku, name in rows:
                product = product_of(sku, name)
                if product is not None and day > bought[customer].get(product, -(10**9)):
                    bought[customer][product] = day
        found = recommend(model, self.curated, self._bought[ref], day_number(self.as_of), n)
        self._made[(ref, n)] = [r.as_dict() for r in found]
        return [dict(r) for r in self._made[(ref, n)]]

    def _day(self, stamp: str) -> date:
        return local_day(from_iso(stamp), self.tz)

    def due(self, ref: int) -> list[Due]:
        """Every product the customer bought that has an interval, earliest due first."""
        from retain_cli.products.replenish import due_items

        return due_items(self.model, self.lines(ref), self._day)

    def replenishment(self, ref: int, occurrence: str | None) -> dict[str, Any] | None:
        """The template's ``replenishment``: the product of ``occurrence`` (the ledger's
        ``2026-10-01 coffee beans``), else the customer's earliest due product."""
        items = self.due(ref)
        if occurrence is not None:
            items = [d for d in items if d.occurrence == occurrence]
        return items[0].as_dict() if items else None


def with_replenishment(
    context: dict[str, Any],
    offers: ProductOffers | None,
    campaign: Campaign,
    ref: int,
    occurrence: str | None = None,
) -> dict[str, Any]:
    """The context with ``replenishment`` filled in for a replenishment campaign."""
    trigger = campaign.trigger
    if offers is None or trigger is None or trigger.event != REPLENISHMENT:
        return context
    return {**context, "replenishment": offers.replenishment(ref, occurrence)}
