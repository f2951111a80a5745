"""Sales without a customer (walk-ins at the till, a Square payment nobody was attached to) in
the shop's figures.

They are not in the packed copy of the countable orders (every figure about customers reads
that copy, and they have none): ``retain metrics`` adds them to the period's ``orders`` and
``revenue``, and so to ``average_order_value``; the figures about customers (their counts,
frequency, retention, lifetime value, the returning share of their revenue) leave them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from retain_cli.money import minor_units

if TYPE_CHECKING:
    import numpy as np

    from retain_cli.store import Store


class Period(Protocol):
    """Orders with ``start < ordered_at <= end`` (see :class:`retain_cli.analytics.metrics.
    Period`)."""

    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...


@dataclass(frozen=True)
class WalkIns:
    """Countable sales without a customer: UTC unix seconds and net amount in major units."""

    t: np.ndarray
    amount: np.ndarray
    currencies: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.t)

    def between(self, period: Period) -> tuple[int, float]:
        """(how many, net revenue) of the sales in the period."""
        start, end = int(period.start.timestamp()), int(period.end.timestamp())
        inside = (self.t > start) & (self.t <= end)
        return int(inside.sum()), float(self.amount[inside].sum())


def load_walk_ins(store: Store, revenue: str = "gross") -> WalkIns:
    """The countable sales without a customer, their amounts as ``revenue`` says (``gross``:
    the total less refunds; ``net``: also without tax and shipping)."""
    import numpy as np

    rows = store.walk_in_order_rows("net_sales_minor" if revenue == "net" else "net_minor")
    scale = {code: 10.0 ** -minor_units(code) for code in {row[2] for row in rows}}
    return WalkIns(
        np.array([row[0] for row in rows], dtype=np.int64),
        np.array([row[1] * scale[row[2]] for row in rows], dtype=np.float64),
        tuple(sorted(code for code in scale if code)),
    )


def add_walk_ins(
    values: dict[str, float | int | None], walk_ins: WalkIns, period: Period
) -> dict[str, float | int | None]:
    """The period's figures (see :func:`retain_cli.analytics.metrics.compute_metrics`) with
    the sales without a customer added to ``orders``, ``revenue`` and
    ``average_order_value``."""
    count, revenue = walk_ins.between(period)
    out = dict(values)
    if not count:
        return out
    orders = int(values["orders"] or 0) + count
    total = round(float(values["revenue"] or 0) + revenue, 2)
    out["orders"] = orders
    out["revenue"] = total
    out["average_order_value"] = round(total / orders, 2)
    return out
