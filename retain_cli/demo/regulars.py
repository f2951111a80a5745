"""What the demo bakery's customers buy together and buy again, so that ``retain products``,
``retain recommend`` and the replenishment campaign find something.

- Products that go together: a Country Sourdough Loaf comes with a jar of Plum Jam in about
  40% of orders (jam is hardly bought alone), House Espresso Beans with a mug now and then.
- Coffee regulars: about 6% of the one-order customers come back for House Espresso Beans
  every 14, 21 or 28 days (a day or two either way), the 250 g bag or the 1 kg one (one
  product, two variants); most stop at some point, a few are still at it. Four of those who
  accept marketing stopped exactly one interval before "today" (give or take two days), so
  the replenishment campaign has someone to remind.

Drawn from a generator of its own (seeded from the demo's seed), so the rest of the shop is
what it was without them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    IntArray = np.ndarray[Any, Any]

# (sku, name, price in cents)
PLUM_JAM = ("JAM-PL", "Plum Jam", 490)
BEANS_1KG = ("COF-ESP-1K", "House Espresso Beans - 1kg", 3900)
# sku of a product -> (the product that goes with it, how often)
COMPANIONS: dict[str, tuple[tuple[str, str, int], float]] = {
    "SOUR-01": (PLUM_JAM, 0.4),
    "COF-ESP": (("MUG-01", "Rosie's Bakery Mug", 1400), 0.08),
}
REGULAR_SHARE = 0.06
INTERVALS = (14, 21, 28)
DUE_NOW = 4


def companions(skus: Sequence[str], rng: np.random.Generator) -> list[tuple[str, str, int, int]]:
    """(sku, name, quantity, price) of the lines that come with an order's ``skus``."""
    out = []
    for sku in skus:
        found = COMPANIONS.get(sku)
        if found is not None and found[0][0] not in skus and rng.random() < found[1]:
            product, _ = found
            out.append((product[0], product[1], 1, product[2]))
    return out


def coffee_regulars(
    owner: IntArray,
    day: IntArray,
    reachable: Mapping[int, bool],
    beans: tuple[str, str, int],
    days: int,
    rng: np.random.Generator,
) -> list[tuple[int, int, int, tuple[str, str, int]]]:
    """(day index, seconds after midnight, customer, product) of the regulars' refill
    orders; ``owner``/``day``: the shop's orders (day index from the start of its history,
    ``days`` is today's); ``reachable``: customer -> may be mailed."""
    import numpy as np

    customers, first_at, counts = np.unique(owner, return_index=True, return_counts=True)
    once = customers[counts == 1]
    first_day = dict(zip(customers.tolist(), day[first_at].tolist(), strict=True))
    chosen = [int(c) for c in once if rng.random() < REGULAR_SHARE]
    due_now = [c for c in chosen if reachable.get(c) and first_day[c] < days - 90][:DUE_NOW]
    out = []
    for c in chosen:
        interval = int(rng.choice(INTERVALS))
        big = rng.random() < 0.25
        product = BEANS_1KG if big else beans
        if c in due_now:  # the last refill one interval (give or take) before today
            last = days - interval - int(rng.integers(0, 3))
            refills = list(range(last, first_day[c], -interval))[::-1]
        else:
            stop = min(days - 1, first_day[c] + interval * int(rng.integers(2, 14)))
            refills, at = [], first_day[c] + interval
            while at <= stop:
                refills.append(at)
                at += interval + int(rng.integers(-2, 3))
        for at in refills:
            out.append((at, int(8 * 3600 + rng.integers(0, 10 * 3600)), c, product))
    return out


def refill_order(
    refill: tuple[int, int, int, tuple[str, str, int]],
    start: date,
    local: Callable[[date, int], datetime],
) -> tuple[datetime, str, str, int]:
    """(when, sku, name, price) of a refill order; ``local`` makes the shop's wall time."""
    day, seconds, _, (sku, name, price) = refill
    return local(start + timedelta(days=day), seconds), sku, name, price


def refill_amounts(price: int, vat_percent: int) -> dict[str, Any]:
    """The amounts and states of a refill order: one bag, paid online, nothing off."""
    return {
        "subtotal_minor": price,
        "discount_code": "",
        "discount_minor": 0,
        "shipping_minor": 0,
        "tax_minor": round(price * vat_percent / (100 + vat_percent)),
        "total_minor": price,
        "refunded_minor": 0,
        "financial_status": "paid",
        "cancelled_at": None,
        "source": "web",
    }
