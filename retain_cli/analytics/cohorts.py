"""Acquisition cohorts (``retain cohorts``): customers grouped by the period of their first
countable order, and what each cohort did in the periods after. Pure functions over
:class:`~retain_cli.analytics.order_arrays.OrderArrays`; the definition printed by ``retain
explain cohorts`` lives in :mod:`retain_cli.analytics.definitions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from retain_cli.analytics.order_arrays import DAY, OrderArrays, _seconds, load_orders, summarise
from retain_cli.errors import UsageError

if TYPE_CHECKING:
    import numpy as np

    from retain_cli.store import Store

COHORT_UNITS = ("month", "quarter", "week")
COHORT_VALUES = ("customers", "revenue")


@dataclass
class CohortTable:
    """Rows: cohort, size, one value per offset "0", "1" ..., and ``incomplete_from``: the
    offset whose period is not over at as-of (counted so far), or None when it is over."""

    by: str
    value: str
    offsets: list[int]
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: the period holding as-of, when it is not over (its cells count the orders so far)
    current: str | None = None

    @property
    def columns(self) -> list[str]:
        return ["cohort", "size", *(str(k) for k in self.offsets), "incomplete_from"]


def _period_start(index: int, by: str) -> int:
    """Unix seconds at which period ``index`` (see :func:`_period_index`) begins."""
    import numpy as np

    if by == "week":
        return (index * 7 - 3) * DAY
    month = index * 3 if by == "quarter" else index
    return int(np.datetime64(month, "M").astype("datetime64[s]").astype(np.int64))


def _period_index(t: np.ndarray, by: str) -> np.ndarray:
    import numpy as np

    if by == "week":
        return (t // DAY + 3) // 7  # weeks starting on Monday (1970-01-01 was a Thursday)
    months = t.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
    return months // 3 if by == "quarter" else months


def _period_label(index: int, by: str) -> str:
    if by == "week":
        monday = date(1970, 1, 1) + timedelta(days=index * 7 - 3)
        iso = monday.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if by == "quarter":
        return f"{1970 + index // 4}-Q{index % 4 + 1}"
    return f"{1970 + index // 12}-{index % 12 + 1:02d}"


def compute_cohorts(
    orders: OrderArrays, as_of: datetime, by: str = "month", value: str = "customers"
) -> CohortTable:
    """Acquisition cohorts by first-order period. Cell (c, k): the share of cohort c's
    customers who ordered in period c+k (``customers``), or the revenue cohort c brought in
    period c+k (``revenue``). Periods after ``as_of`` are left empty (None); the period
    holding ``as_of``, unless as-of is its very last second, is not over: each row names
    its cell in that period in ``incomplete_from``."""
    import numpy as np

    if by not in COHORT_UNITS:
        raise UsageError(f"--by {by!r} is not one of {', '.join(COHORT_UNITS)}")
    if value not in COHORT_VALUES:
        raise UsageError(f"--value {value!r} is not one of {', '.join(COHORT_VALUES)}")
    orders = orders.upto(as_of)
    if len(orders) == 0:
        return CohortTable(by, value, [])
    moment = _seconds(as_of)
    now = int(_period_index(np.array([moment], dtype=np.int64), by)[0])
    unfinished = moment < _period_start(now + 1, by) - 1
    period = _period_index(orders.t, by)
    summary = summarise(orders)
    cohort_of_customer = period[summary.starts]
    cohort = np.repeat(cohort_of_customer, summary.orders)
    first_cohort = int(cohort_of_customer.min())
    n_cohorts = now - first_cohort + 1
    width = n_cohorts  # the oldest cohort can reach offset n_cohorts - 1
    offset = period - cohort
    cell = (cohort - first_cohort) * width + offset
    sizes = np.bincount(cohort_of_customer - first_cohort, minlength=n_cohorts)
    if value == "customers":
        # one count per (customer, period): rows are sorted by customer, then time
        c = orders.customer
        distinct = np.r_[True, (c[1:] != c[:-1]) | (period[1:] != period[:-1])]
        counts = np.bincount(cell[distinct], minlength=n_cohorts * width)
    else:
        counts = np.bincount(cell, weights=orders.amount, minlength=n_cohorts * width)
    grid = counts.reshape(n_cohorts, width)
    table = CohortTable(by, value, list(range(width)))
    table.current = _period_label(now, by) if unfinished else None
    for i in range(n_cohorts):
        size = int(sizes[i])
        if size == 0:
            continue
        row: dict[str, Any] = {"cohort": _period_label(first_cohort + i, by), "size": size}
        for k in range(width):
            if first_cohort + i + k > now:
                row[str(k)] = None
            elif value == "customers":
                row[str(k)] = round(float(grid[i, k]) / size, 4)
            else:
                row[str(k)] = round(float(grid[i, k]), 2)
        row["incomplete_from"] = now - first_cohort - i if unfinished else None
        table.rows.append(row)
    return table


def cohorts(
    store: Store,
    as_of: datetime,
    *,
    by: str = "month",
    value: str = "customers",
    last: int | None = None,
    revenue: str = "gross",
) -> CohortTable:
    """``retain cohorts``: the triangle, optionally only the ``last`` N cohorts; ``revenue``
    (gross or net) is the kind of amounts ``value="revenue"`` adds up."""
    table = compute_cohorts(load_orders(store, revenue), as_of, by, value)
    if last is not None and last >= 0 and len(table.rows) > last:
        table.rows = table.rows[len(table.rows) - last :] if last else []
        # offsets no remaining cohort has reached yet are dropped
        reach = max(
            (sum(v is not None for k, v in r.items() if k.isdigit()) for r in table.rows), default=0
        )
        table.offsets = table.offsets[:reach]
        for row in table.rows:
            for k in range(reach, len(row)):
                row.pop(str(k), None)
    return table
