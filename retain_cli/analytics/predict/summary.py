"""The per-customer summary the models are fitted on, from the packed orders or the store.

The summary ("RFM" in the papers' sense) counts *purchase days*: several orders on one day are
one purchase whose value is their sum.
- ``frequency`` = distinct order days - 1 (repeat purchases),
- ``recency`` = last order day - first order day, in the time unit,
- ``T`` = as-of day - first order day, in the time unit,
- ``monetary_value`` = mean value of the repeat purchase days (the first day left out),
  0 when ``frequency`` is 0.

:func:`load_summary` reads it from the store (and meanwhile loads scipy, which the fits need
next); :func:`summary_from_orders` and :func:`purchase_days` are pure: arrays in, arrays out.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from retain_cli.errors import RetainError, UsageError
from retain_cli.timeutil import to_iso

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from retain_cli.store import Store

    Array = npt.NDArray[np.float64]

TimeUnit = Literal["day", "week"]
UNIT_DAYS: dict[str, float] = {"day": 1.0, "week": 7.0}


@dataclass
class Summary:
    """One entry per customer with a countable order by the as-of date (arrays of equal length)."""

    customer_ref: npt.NDArray[np.int64]
    customer_id: npt.NDArray[np.object_]  # str
    email: npt.NDArray[np.object_]  # str or None
    frequency: Array
    recency: Array
    T: Array
    monetary_value: Array
    time_unit: str
    as_of: date

    def __len__(self) -> int:
        return len(self.customer_id)

    @property
    def repeat_customers(self) -> int:
        return int((self.frequency > 0).sum())


EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def day_number(day: date) -> int:
    """Days since 1970-01-01 (the day numbers the store gives orders)."""
    return day.toordinal() - EPOCH_ORDINAL


@dataclass
class PurchaseDays:
    """Orders grouped into purchase days, sorted by customer then day (arrays of equal length)."""

    customer_ref: npt.NDArray[np.int64]
    day: npt.NDArray[np.int64]
    amount: Array  # the day's net total, major units
    #: index of each customer's first purchase day in the arrays above, and their count
    starts: npt.NDArray[np.int64]
    counts: npt.NDArray[np.int64]


def purchase_days(
    refs: npt.NDArray[np.int64], days: npt.NDArray[np.int64], amounts: Array
) -> PurchaseDays:
    """Group order rows (customer_ref, day number, net amount) into one row per customer and day.

    Vectorised: one sort on a combined integer key, then run boundaries; no Python loop.
    """
    import numpy as np

    if len(refs) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return PurchaseDays(empty, empty, np.zeros(0), empty, empty)
    low = int(days.min())
    span = int(days.max()) - low + 1
    key = refs * span + (days - low)
    order = np.argsort(key, kind="stable")
    key = key[order]
    day_starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    day_key = key[day_starts]
    day_refs = day_key // span
    day_amount = np.add.reduceat(np.asarray(amounts, dtype=np.float64)[order], day_starts)
    starts = np.flatnonzero(np.r_[True, day_refs[1:] != day_refs[:-1]])
    counts = np.diff(np.r_[starts, len(day_refs)])
    return PurchaseDays(day_refs, day_key % span + low, day_amount, starts, counts)


def summary_from_orders(
    refs: npt.NDArray[np.int64],
    days: npt.NDArray[np.int64],
    amounts: Array,
    keys: tuple[npt.NDArray[np.int64], list[Any], list[Any]],
    *,
    as_of: date,
    time_unit: str,
) -> Summary:
    """The per-customer summary from countable orders (customer_ref, day number since
    1970-01-01, net amount in major units; all on or before ``as_of``) and the customers'
    keys ``(ids ascending, customer_id, email)``."""
    import numpy as np

    unit = unit_days(time_unit)
    grouped = purchase_days(refs, days, amounts)
    starts, counts = grouped.starts, grouped.counts
    ends = starts + counts - 1
    first = grouped.day[starts]
    frequency = (counts - 1).astype(np.float64)
    if len(starts):
        repeat_amount = np.add.reduceat(grouped.amount, starts) - grouped.amount[starts]
    else:
        repeat_amount = np.zeros(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        monetary = np.where(frequency > 0, repeat_amount / frequency, 0.0)
    customer_refs = grouped.customer_ref[starts]
    ids, customer_ids, emails = keys
    where = np.searchsorted(ids, customer_refs)
    return Summary(
        customer_ref=customer_refs,
        customer_id=np.asarray(customer_ids, dtype=object)[where],
        email=np.asarray(emails, dtype=object)[where],
        frequency=frequency,
        recency=(grouped.day[ends] - first) / unit,
        T=(day_number(as_of) - first) / unit,
        monetary_value=np.maximum(np.asarray(monetary, dtype=np.float64), 0.0),
        time_unit=time_unit,
        as_of=as_of,
    )


def unit_days(time_unit: str) -> float:
    """Days in one ``--time-unit`` (day or week)."""
    try:
        return UNIT_DAYS[time_unit]
    except KeyError:
        raise UsageError(f"--time-unit {time_unit!r} is not known; use day or week") from None


def load_orders(
    store: Store, end: datetime, start: datetime | None = None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], Array]:
    """Countable orders placed from ``start`` (default: the beginning) to ``end``, inclusive:
    customer_ref, UTC day number (days since 1970-01-01) and net amount in major units.

    Reuses the packed copy of the orders that metrics keep (:func:`retain_cli.analytics.metrics.
    load_orders`) when it is current; otherwise reads them straight from the store (faster
    than rebuilding that copy). Amounts are scaled by their currency's minor units.
    """
    import numpy as np

    from retain_cli.analytics.metrics import ORDERS_CACHE, OrderArrays

    cached = store.cached_blob(ORDERS_CACHE)
    if cached is not None and cached[0] == store.orders_fingerprint():
        packed = OrderArrays.unpack(cached[1])
        keep = packed.t <= int(end.timestamp())
        if start is not None:
            keep &= packed.t >= int(start.timestamp())
        amount = np.asarray(packed.amount[keep], dtype=np.float64)
        return packed.customer[keep], packed.t[keep] // 86400, amount
    rows = store.predict_order_days(to_iso(end), to_iso(start) if start else None)
    return rows[:, 0], rows[:, 1], rows[:, 2] / 1000.0


def preload_scipy() -> None:
    """Start loading the parts of scipy the fits use (~0.6 s) in a thread, so that opening
    the store and reading the orders happen meanwhile; whoever imports them next waits for
    that thread only as long as it still needs."""
    import threading

    threading.Thread(target=_import_scipy, name="import scipy").start()


def _import_scipy() -> None:
    for module in ("scipy.special", "scipy.optimize"):
        importlib.import_module(module)


def load_summary(store: Store, as_of: datetime, time_unit: str) -> Summary:
    """The summary of every customer with a countable order up to ``as_of``."""
    from concurrent.futures import ThreadPoolExecutor

    unit_days(time_unit)
    with ThreadPoolExecutor(2) as pool:
        # scipy (needed next, ~0.6 s of imports) loads and SQLite reads the customers while
        # this thread reads the orders and builds the summary
        scipy = pool.submit(_import_scipy)
        keys = pool.submit(store.predict_customer_keys)
        refs, days, amounts = load_orders(store, as_of)
        summary = summary_from_orders(
            refs, days, amounts, keys.result(), as_of=as_of.date(), time_unit=time_unit
        )
        scipy.result()
        return summary


def require_customers(summary: Summary) -> None:
    """A summary with nobody in it cannot be fitted: say why and what to do."""
    if len(summary) == 0:
        raise RetainError(
            f"no orders on or before {summary.as_of.isoformat()}; import orders first "
            "('retain import orders FILE') or pass a later --as-of"
        )
