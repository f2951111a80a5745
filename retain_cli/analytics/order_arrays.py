"""The countable orders, packed: the arrays every metric, cohort and segment starts from.

:class:`OrderArrays` holds the countable orders (the ``order_facts`` view: cancelled and
fully refunded orders left out, refunds subtracted) sorted by customer and time, with the
amounts of one kind of revenue (``gross``: the export's Total less refunds; ``net``: without
tax and shipping, Shopify's net sales). A million rows read through Python cost more than a
second, so the arrays are kept packed in ``analytics_cache`` and extended when orders are
only added (:func:`load_orders`, :func:`add_orders`); :func:`countable_orders` is the
importer's in-memory twin of the view. :func:`summarise` and :func:`order_day_gaps` are the
per-customer figures derived from them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from retain_cli.money import minor_units

if TYPE_CHECKING:
    import numpy as np

    from retain_cli.store import Store

DAY = 86400
#: name of the packed copy of the countable orders (bump the suffix when the format changes)
ORDERS_CACHE = "order_facts.v3"
#: the kinds of revenue (``--revenue``): the column of order_facts each reads, and its copy
REVENUES = ("gross", "net")
_REVENUE_CACHES = {"gross": ORDERS_CACHE, "net": "order_facts_net_sales.v1"}
_REVENUE_COLUMNS = {"gross": "net_minor", "net": "net_sales_minor"}


def minor_digits(currency: str | None) -> int:
    """Decimals of a currency's minor unit (JPY 0, EUR 2, KWD 3; 2 when unknown)."""
    return minor_units(currency)


# --- the countable orders, packed -------------------------------------------------------------


@dataclass(frozen=True)
class OrderArrays:
    """Countable orders sorted by (customer, time). ``amount`` is net, in major units."""

    customer: np.ndarray  # int64 customer_ref
    t: np.ndarray  # int64 unix seconds (UTC)
    amount: np.ndarray  # float64 net amount, major units
    currencies: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.customer)

    @classmethod
    def from_rows(cls, rows: Any, currencies: tuple[str, ...] = ()) -> OrderArrays:
        """From (customer_ref, unix seconds or datetime, amount) rows, in any order."""
        import numpy as np

        rows = list(rows)
        customer = np.array([int(r[0]) for r in rows], dtype=np.int64)
        t = np.array([_seconds(r[1]) for r in rows], dtype=np.int64)
        amount = np.array([float(r[2]) for r in rows], dtype=np.float64)
        return cls.sorted(customer, t, amount, currencies)

    @classmethod
    def sorted(
        cls, customer: np.ndarray, t: np.ndarray, amount: np.ndarray, currencies: tuple[str, ...]
    ) -> OrderArrays:
        import numpy as np

        if len(t) and customer.min() >= 0 and customer.max() < 2**31 and np.ptp(t) < 2**32:
            # one int64 key (customer, then time) sorts several times faster than lexsort
            key = t - t.min()
            key |= customer << 32
            order = np.argsort(key)
            del key
        else:
            order = np.lexsort((t, customer))
        return cls(customer[order], t[order], amount[order], currencies)

    def upto(self, moment: datetime) -> OrderArrays:
        """Only the orders placed at or before ``moment`` (sorting is kept)."""
        limit = _seconds(moment)
        if len(self.t) == 0 or self.t.max() <= limit:
            return self
        keep = self.t <= limit
        return OrderArrays(self.customer[keep], self.t[keep], self.amount[keep], self.currencies)

    def of_customers(self, refs: Collection[int]) -> OrderArrays:
        """Only these customers' orders (sorting is kept): one binary search per customer."""
        import numpy as np

        wanted = np.unique(np.asarray(list(refs), dtype=np.int64))
        lo = np.searchsorted(self.customer, wanted, side="left")
        hi = np.searchsorted(self.customer, wanted, side="right")
        rows = np.concatenate(
            [np.arange(a, b) for a, b in zip(lo.tolist(), hi.tolist(), strict=True)]
            or [np.zeros(0, dtype=np.int64)]
        )
        return OrderArrays(self.customer[rows], self.t[rows], self.amount[rows], self.currencies)

    def pack(self) -> bytearray:
        """A header line (JSON) and the three arrays' raw bytes: unpacking copies nothing.
        (Written straight into one buffer: no temporary copies of a million orders.)"""
        import numpy as np

        header = json.dumps({"n": len(self), "currencies": list(self.currencies)}).encode()
        n, start = len(self), len(header) + 1
        data = bytearray(start + 24 * n)
        data[:start] = header + b"\n"
        for index, (values, kind) in enumerate(
            ((self.customer, "<i8"), (self.t, "<i8"), (self.amount, "<f8"))
        ):
            np.frombuffer(data, dtype=kind, count=n, offset=start + 8 * n * index)[:] = values
        return data

    @classmethod
    def unpack(cls, data: bytes) -> OrderArrays:
        import numpy as np

        end = data.index(b"\n")
        header = json.loads(data[:end])
        n, start = int(header["n"]), end + 1
        customer = np.frombuffer(data, dtype="<i8", count=n, offset=start)
        t = np.frombuffer(data, dtype="<i8", count=n, offset=start + 8 * n)
        amount = np.frombuffer(data, dtype="<f8", count=n, offset=start + 16 * n)
        return cls(customer, t, amount, tuple(header["currencies"]))


def _seconds(moment: Any) -> int:
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp())
    return int(moment)


def load_orders(store: Store, revenue: str = "gross") -> OrderArrays:
    """The countable orders, from the packed copy when it is current, else rebuilt and kept.

    ``revenue`` says which amounts they carry: ``gross``, the export's Total (tax and
    shipping included) less refunds, or ``net``, without tax and shipping (Shopify's net
    sales). When orders were only added since the copy was made (the usual nightly import),
    only the new ones are read from SQLite and merged in."""
    if revenue not in REVENUES:
        from retain_cli.errors import UsageError

        raise UsageError(f"--revenue {revenue!r} is not one of {', '.join(REVENUES)}")
    name, column = _REVENUE_CACHES[revenue], _REVENUE_COLUMNS[revenue]
    max_id, version = store.orders_state()
    fingerprint = f"{max_id}:{version}"
    cached = store.cached_blob(name)
    if cached is not None:
        if cached[0] == fingerprint:
            return OrderArrays.unpack(cached[1])
        old_max, old_version = _parse_fingerprint(cached[0])
        if old_version == version and old_max is not None and old_max < max_id:
            # amounts are in major units already, so currencies can mix freely
            added = _read_orders(store, old_max, column)
            merged = _merge(OrderArrays.unpack(cached[1]), added)
            store.save_cached_blob(name, fingerprint, merged.pack())
            return merged
    orders = _read_orders(store, 0, column)
    store.save_cached_blob(name, fingerprint, orders.pack())
    return orders


def add_orders(store: Store, before: tuple[int, int], added: OrderArrays) -> None:
    """Bring the packed copy up to date after an import that only inserted orders.

    ``before`` is :meth:`Store.orders_state` before the import and ``added`` the countable
    orders among those inserted (see :func:`countable_orders`): merged into the copy kept as
    of ``before``, they need not be read back from SQLite. Anything else (orders updated, a
    copy older than ``before``) rebuilds the copy from the database. (This is the gross
    copy; the net one catches up from SQLite when it is next read.)"""
    max_id, version = store.orders_state()
    cached = store.cached_blob(ORDERS_CACHE)
    if version == before[1] and before[0] == 0:
        merged = added
    elif version == before[1] and cached is not None and cached[0] == f"{before[0]}:{before[1]}":
        merged = _merge(OrderArrays.unpack(cached[1]), added)
    else:
        load_orders(store)
        return
    store.save_cached_blob(ORDERS_CACHE, f"{max_id}:{version}", merged.pack())


def countable_orders(
    customer: Any,
    ordered_at: Sequence[str],
    total: Sequence[int],
    refunded: Sequence[int] | None,
    cancelled: Sequence[str | None] | None,
    currency: Sequence[str | None] | None,
) -> OrderArrays:
    """Orders as the importer holds them (columns of the orders table: ISO ``ordered_at``,
    amounts in minor units) -> the countable ones, packed. The in-memory twin of the
    ``order_facts`` view: cancelled and fully refunded orders (a positive total refunded in
    full) left out, refunds subtracted (never below zero), gross amounts; sales without a
    customer (ref 0) are not packed, as :meth:`Store.order_fact_rows` leaves them out.
    ``None`` for a column means the file had none (nothing refunded or cancelled, no
    currency)."""
    import numpy as np
    import pyarrow as pa

    n = len(ordered_at)
    t = np.empty(n, np.int64)
    step = 65536  # a slice at a time: a million stamps as one Arrow array cost 100 MB more
    for start in range(0, n, step):
        stamps = pa.array(ordered_at[start : start + step], pa.string())
        t[start : start + step] = stamps.cast(pa.timestamp("s", tz="UTC")).cast(pa.int64())
    net = np.fromiter(total, np.int64, n)
    keep = None
    if refunded is not None:  # (in place: a million orders are 8 MB a column)
        back = np.fromiter(refunded, np.int64, n)
        keep = ~((net > 0) & (back >= net))
        net -= back
        del back
        np.maximum(net, 0, out=net)
    codes = sorted({"" if code is None else code.upper() for code in set(currency or [None])})
    digits = {minor_digits(code) for code in codes}
    # the same arithmetic as _read_orders, so both give the very same floats
    if len(digits) == 1:
        amount = net / 10.0 ** digits.pop()
    else:
        assert currency is not None
        scale = {code: 10.0 ** -minor_digits(code) for code in codes}
        amount = net * np.fromiter(
            (scale["" if c is None else c.upper()] for c in currency), float, n
        )
    del net
    refs = np.asarray(customer, dtype=np.int64)
    if cancelled is not None:
        open_ = np.asarray(pa.array(cancelled, pa.string()).is_null())
        keep = open_ if keep is None else keep & open_
    if len(refs) and not refs.all():  # sales without a customer (ref 0) are not packed
        keep = refs != 0 if keep is None else keep & (refs != 0)
    if keep is not None:
        refs, t, amount = refs[keep], t[keep], amount[keep]
    return OrderArrays.sorted(refs, t, amount, tuple(c for c in codes if c))


def _parse_fingerprint(text: str) -> tuple[int | None, int | None]:
    parts = text.split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None, None
    return int(parts[0]), int(parts[1])


def _read_orders(store: Store, after_id: int, column: str = "net_minor") -> OrderArrays:
    """Countable orders with an id above ``after_id``, read from SQLite, with the amounts of
    ``column`` (``net_minor``: gross revenue; ``net_sales_minor``: net).

    (Packing the currency into an integer column in SQL costs more than a separate DISTINCT
    scan; the common case, one currency or several with the same minor units, then reads
    three integers per order.)"""
    import numpy as np

    codes = store.order_currencies(after_id=after_id)
    named = tuple(c for c in codes if c)
    digits = {minor_digits(c) for c in codes}
    if len(digits) <= 1:
        flat = np.fromiter(
            itertools.chain.from_iterable(store.order_fact_rows(after_id=after_id, column=column)),
            dtype=np.int64,
        ).reshape(-1, 3)
        amount = flat[:, 2] / 10.0 ** (digits.pop() if digits else 2)
        return OrderArrays.sorted(flat[:, 0].copy(), flat[:, 1].copy(), amount, named)
    # currencies with different minor units: scale each order by its own
    rows = store.order_fact_rows(after_id=after_id, with_currency=True, column=column).fetchall()
    scale = {c: 10.0 ** -minor_digits(c) for c in codes}
    return OrderArrays.sorted(
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=np.int64),
        np.array([r[2] * scale[r[3]] for r in rows], dtype=np.float64),
        named,
    )


def _merge(old: OrderArrays, new: OrderArrays) -> OrderArrays:
    import numpy as np

    return OrderArrays.sorted(
        np.concatenate([old.customer, new.customer]),
        np.concatenate([old.t, new.t]),
        np.concatenate([old.amount, new.amount]),
        tuple(sorted(set(old.currencies) | set(new.currencies))),
    )


def currency_label(orders: OrderArrays) -> str:
    if not orders.currencies:
        return ""
    if len(orders.currencies) == 1:
        return orders.currencies[0]
    return "mixed: " + ", ".join(orders.currencies) + " (added without conversion)"


@dataclass(frozen=True)
class CustomerSummary:
    """Per-customer figures from sorted order arrays (one entry per customer with orders)."""

    customer: np.ndarray  # customer_ref
    starts: np.ndarray  # index of each customer's first order in the arrays
    orders: np.ndarray  # number of countable orders
    total: np.ndarray  # net spend, major units
    first_t: np.ndarray
    last_t: np.ndarray


def summarise(orders: OrderArrays) -> CustomerSummary:
    import numpy as np

    c = orders.customer
    if len(c) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return CustomerSummary(empty, empty, empty, np.zeros(0), empty, empty)
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    ends = np.r_[starts[1:], len(c)]
    return CustomerSummary(
        customer=c[starts],
        starts=starts,
        orders=ends - starts,
        total=np.add.reduceat(orders.amount, starts),
        first_t=orders.t[starts],
        last_t=orders.t[ends - 1],
    )


def order_day_gaps(orders: OrderArrays) -> tuple[np.ndarray, np.ndarray]:
    """Days between a customer's consecutive distinct order days, and (for customers with
    two or more order days) the days from their first to their second order day."""
    import numpy as np

    c = orders.customer
    day = orders.t // DAY
    if len(c) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    distinct = np.r_[True, (c[1:] != c[:-1]) | (day[1:] != day[:-1])]
    c, day = c[distinct], day[distinct]
    same = c[1:] == c[:-1]
    gaps = (day[1:] - day[:-1])[same]
    # the first gap of each customer: the previous row starts that customer
    first_of_customer = np.r_[True, c[1:] != c[:-1]]
    second = same & first_of_customer[:-1]
    return gaps, (day[1:] - day[:-1])[second]


def typical_gap(orders: OrderArrays) -> float | None:
    """The shop's median days between a customer's consecutive order days (None: no repeats)."""
    import numpy as np

    gaps, _ = order_day_gaps(orders)
    return float(np.median(gaps)) if len(gaps) else None


def _any_in(mask: np.ndarray, starts: np.ndarray) -> np.ndarray:
    import numpy as np

    if len(starts) == 0:
        return np.zeros(0, dtype=bool)
    return np.add.reduceat(mask.astype(np.int64), starts) > 0
