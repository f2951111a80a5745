"""The product model: what sells, what sells together, and how soon it is bought again.

Built from every line of the countable orders (cancelled and fully refunded orders left out)
with numpy and scipy.sparse, and kept packed in the database until the orders change
(:func:`load_model`). Definitions:

- a basket is one countable order; ``orders`` of a product is the baskets holding it;
- for a pair A -> B: ``together`` is the baskets holding both, support = together / baskets,
  confidence = together / orders(A) ("of the orders with A, this share also had B"), lift =
  confidence / (orders(B) / baskets) (how much likelier B is with A than in any order). A
  pair counts only with at least :data:`MIN_PAIR_ORDERS` baskets and a lift of at least
  :data:`MIN_LIFT`, so one odd basket (or chance) recommends nothing;
- repeat rate: the share of a product's customers who bought it on two days or more;
- repurchase gap: per customer who bought it on two days or more, the median of the days
  between their purchases of it; per product, the median of those (``gap_days``) and the
  middle half of them (``gap_low`` to ``gap_high``, the 25th and 75th percentiles), given
  when at least :data:`MIN_INTERVAL_CUSTOMERS` customers bought it again.
"""

from __future__ import annotations

import itertools
import json
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from retain_cli.products.identity import Catalogue, build_catalogue

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from retain_cli.store import Store

MIN_PAIR_ORDERS = 3
MIN_LIFT = 1.2
MIN_INTERVAL_CUSTOMERS = 3
TOP_PAIRS = 20  # consequents kept per product
CACHE_NAME = "products"
MODEL_VERSION = 1
_DAY_BITS = 21  # a (customer, product) pair and a day share one int64
_DAY_SHIFT = 1 << 20


@dataclass(slots=True)
class ProductModel:
    catalogue: Catalogue
    baskets: int = 0
    orders: list[int] = field(default_factory=list)
    units: list[int] = field(default_factory=list)
    customers: list[int] = field(default_factory=list)
    repeat_customers: list[int] = field(default_factory=list)
    gap_days: list[float | None] = field(default_factory=list)
    gap_low: list[float | None] = field(default_factory=list)
    gap_high: list[float | None] = field(default_factory=list)
    last_sold: list[int] = field(default_factory=list)  # UTC day number (days since 1970)
    pairs: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # a -> [(b, together)]

    def __len__(self) -> int:
        return len(self.catalogue.keys)

    def pair(self, a: int, b: int, together: int) -> dict[str, float]:
        """Support, confidence and lift of a -> b."""
        support = together / self.baskets
        confidence = together / self.orders[a]
        lift = confidence / (self.orders[b] / self.baskets)
        return {"support": support, "confidence": confidence, "lift": lift}

    def repeat_rate(self, product: int) -> float:
        buyers = self.customers[product]
        return self.repeat_customers[product] / buyers if buyers else 0.0

    # --- packing -------------------------------------------------------------------------

    def pack(self) -> bytes:
        c = self.catalogue
        data = {
            "keys": c.keys,
            "names": c.names,
            "skus": c.skus,
            "by_sku": c.by_sku,
            "by_name": c.by_name,
            "baskets": self.baskets,
            "orders": self.orders,
            "units": self.units,
            "customers": self.customers,
            "repeat_customers": self.repeat_customers,
            "gap_days": self.gap_days,
            "gap_low": self.gap_low,
            "gap_high": self.gap_high,
            "last_sold": self.last_sold,
            "pairs": [[a, [x for pair in pairs for x in pair]] for a, pairs in self.pairs.items()],
        }
        return zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 1)

    @classmethod
    def unpack(cls, blob: bytes) -> ProductModel:
        data = json.loads(zlib.decompress(blob))
        catalogue = Catalogue(
            data["keys"], data["names"], data["skus"], data["by_sku"], data["by_name"]
        )
        pairs = {int(a): list(zip(flat[::2], flat[1::2], strict=True)) for a, flat in data["pairs"]}
        return cls(
            catalogue,
            data["baskets"],
            data["orders"],
            data["units"],
            data["customers"],
            data["repeat_customers"],
            data["gap_days"],
            data["gap_low"],
            data["gap_high"],
            data["last_sold"],
            pairs,
        )


def load_model(store: Store) -> ProductModel:
    """The product model of the database's orders: the packed copy while the orders are
    unchanged, else built again (and kept, when the database can be written)."""
    fingerprint = f"v{MODEL_VERSION}:{store.orders_fingerprint()}"
    cached = store.cached_blob(CACHE_NAME)
    if cached is not None and cached[0] == fingerprint:
        try:
            return ProductModel.unpack(cached[1])
        except (ValueError, KeyError, TypeError, zlib.error):
            pass  # an unreadable copy is built again
    model = build_model(*store.product_line_arrays())
    store.save_cached_blob(CACHE_NAME, fingerprint, model.pack())
    return model


def build_model(
    lines: npt.NDArray[np.int64],
    keys: list[str],
    orders: npt.NDArray[np.int64],
    sku_names: dict[str, str] | None = None,
) -> ProductModel:
    """The model from every order line (order_ref, quantity; its key: the SKU, else
    ``"\\x1f"`` and its name; ``sku_names`` names the SKUs) and the countable orders
    (order_ref, customer_ref or 0, day number); see
    :meth:`retain_cli.store.Store.product_line_arrays`."""
    import numpy as np
    import pandas as pd

    from retain_cli.store.products import UNIT

    codes, uniques = pd.factorize(np.asarray(keys, dtype=object))
    per_key = np.bincount(codes, minlength=len(uniques)) if len(codes) else np.zeros(0, int)
    triples = []
    for key, count in zip(uniques.tolist(), per_key.tolist(), strict=True):
        if key.startswith(UNIT):
            triples.append(("", key[1:], count))
        else:
            triples.append((key, (sku_names or {}).get(key, ""), count))
    catalogue, index = build_catalogue(triples)
    size = len(catalogue.keys)
    model = ProductModel(catalogue)
    if not size:
        return model
    product = np.asarray(index, dtype=np.int64)[codes]
    refs, who, day = orders[:, 0], orders[:, 1], orders[:, 2]
    # each line's countable order (-1: its order does not count), by a table of order ids
    top = int(max(refs.max(initial=0), lines[:, 0].max(initial=0))) + 1
    lookup = np.full(top, -1, dtype=np.int64)
    lookup[refs] = np.arange(len(refs))
    pos = lookup[lines[:, 0]]
    keep = (product >= 0) & (pos >= 0)
    line_order, product, quantity = pos[keep], product[keep], lines[keep, 1]
    model.units = np.bincount(product, weights=quantity, minlength=size).astype(int).tolist()

    # baskets: each (order, product) once
    basket = _distinct(line_order * size + product)
    b_order, b_product = basket // size, basket % size
    model.baskets = int(np.count_nonzero(np.r_[True, b_order[1:] != b_order[:-1]]))
    counts = np.bincount(b_product, minlength=size)
    model.orders = counts.tolist()
    last = pd.Series(day[b_order]).groupby(b_product).max()
    sold = np.full(size, -(10**6), dtype=np.int64)
    sold[last.index.to_numpy()] = last.to_numpy()
    model.last_sold = sold.tolist()
    model.pairs = _pairs(b_order, b_product, counts, size, model.baskets)
    _repurchase(model, who[b_order], day[b_order], b_product, size)
    return model


def _pairs(
    b_order: npt.NDArray[np.int64],
    b_product: npt.NDArray[np.int64],
    counts: npt.NDArray[np.int64],
    size: int,
    baskets: int,
) -> dict[int, list[tuple[int, int]]]:
    """a -> [(b, together)], best confidence first, for the pairs that count."""
    import numpy as np
    from scipy import sparse

    per_order = np.bincount(b_order)
    multi = per_order[b_order] >= 2
    rows, cols = b_order[multi], b_product[multi]
    if not len(rows):
        return {}
    rows = np.cumsum(np.r_[0, rows[1:] != rows[:-1]])  # sorted: number the orders 0, 1, ..
    matrix = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(int(rows.max()) + 1, size)
    )
    both = (matrix.T @ matrix).tocoo()
    a, b, together = both.row, both.col, both.data.astype(np.int64)
    # lift >= MIN_LIFT: together / orders(a) >= MIN_LIFT * orders(b) / baskets
    lifted = together * baskets >= MIN_LIFT * counts[a] * counts[b]
    ok = (a != b) & (together >= MIN_PAIR_ORDERS) & lifted
    a, b, together = a[ok], b[ok], together[ok]
    if not len(a):
        return {}
    confidence = together / counts[a]
    lift = confidence * baskets / counts[b]
    order = np.lexsort((b, -lift, -confidence, a))  # (recommend merges on this order)
    a, b, together = a[order], b[order], together[order]
    out: dict[int, list[tuple[int, int]]] = {}
    starts = np.flatnonzero(np.r_[True, a[1:] != a[:-1]])
    ends = np.r_[starts[1:], len(a)]
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        stop = min(end, start + TOP_PAIRS)
        out[int(a[start])] = list(
            zip(b[start:stop].tolist(), together[start:stop].tolist(), strict=True)
        )
    return out


def _repurchase(
    model: ProductModel,
    who: npt.NDArray[np.int64],
    day: npt.NDArray[np.int64],
    product: npt.NDArray[np.int64],
    size: int,
) -> None:
    """Customers, repeat customers and repurchase gaps per product (sales without a
    customer left out)."""
    import numpy as np
    import pandas as pd

    known = who > 0
    pair = who[known] * size + product[known]
    bought = _distinct((pair << _DAY_BITS) + day[known] + _DAY_SHIFT)  # (pair, day) once
    pair, day = bought >> _DAY_BITS, (bought & ((1 << _DAY_BITS) - 1)) - _DAY_SHIFT
    first = np.r_[True, pair[1:] != pair[:-1]]
    model.customers = np.bincount(pair[first] % size, minlength=size).tolist()
    again = ~first
    gap_pair, gap = pair[again], day[again] - day[np.flatnonzero(again) - 1]
    per_customer = pd.Series(gap).groupby(gap_pair).median()
    by_product = per_customer.groupby(per_customer.index.to_numpy() % size)
    repeat = by_product.size()
    model.repeat_customers = repeat.reindex(range(size), fill_value=0).astype(int).tolist()
    median = by_product.median()
    low, high = by_product.quantile(0.25), by_product.quantile(0.75)
    enough = repeat[repeat >= MIN_INTERVAL_CUSTOMERS].index

    def listed(values: pd.Series) -> list[float | None]:
        kept = values.reindex(enough).reindex(range(size))
        return [None if pd.isna(v) else round(float(v), 1) for v in kept]

    model.gap_days, model.gap_low, model.gap_high = listed(median), listed(low), listed(high)


def _distinct(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The distinct values, sorted (a sort: faster here than numpy's hash-based unique)."""
    import numpy as np

    ordered = np.sort(values, kind="stable")
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


def median_gap(days: list[int]) -> float | None:
    """The median of the days between distinct purchase days (None for fewer than two)."""
    import statistics

    distinct = sorted(set(days))
    gaps = [b - a for a, b in itertools.pairwise(distinct)]
    return float(statistics.median(gaps)) if gaps else None
