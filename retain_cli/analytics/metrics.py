"""Retention KPIs and acquisition cohorts: pure functions over packed order arrays.

Everything starts from :class:`OrderArrays`, the countable orders (the ``order_facts`` view:
cancelled orders left out, refunds subtracted) sorted by customer and time. The exact
definitions printed by ``retain explain`` live in :mod:`retain_cli.analytics.definitions`;
keep the two in step.
"""

from __future__ import annotations

import calendar
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from retain_cli.errors import UsageError
from retain_cli.money import minor_units

if TYPE_CHECKING:
    import numpy as np

    from retain_cli.store import Store

DAY = 86400
#: name of the packed copy of the countable orders (bump the suffix when the format changes)
ORDERS_CACHE = "order_facts.v2"
#: a customer belongs to the customer base at moment t when they ordered in the year up to t
BASE_LOOKBACK_DAYS = 365
PERIODS = ("30d", "90d", "month", "quarter", "year")
COHORT_UNITS = ("month", "quarter", "week")
COHORT_VALUES = ("customers", "revenue")


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


def load_orders(store: Store) -> OrderArrays:
    """The countable orders, from the packed copy when it is current, else rebuilt and kept.

    When orders were only added since the copy was made (the usual nightly import), only the
    new ones are read from SQLite and merged in."""
    max_id, version = store.orders_state()
    fingerprint = f"{max_id}:{version}"
    cached = store.cached_blob(ORDERS_CACHE)
    if cached is not None:
        if cached[0] == fingerprint:
            return OrderArrays.unpack(cached[1])
        old_max, old_version = _parse_fingerprint(cached[0])
        if old_version == version and old_max is not None and old_max < max_id:
            # amounts are in major units already, so currencies can mix freely
            merged = _merge(OrderArrays.unpack(cached[1]), _read_orders(store, old_max))
            store.save_cached_blob(ORDERS_CACHE, fingerprint, merged.pack())
            return merged
    orders = _read_orders(store, 0)
    store.save_cached_blob(ORDERS_CACHE, fingerprint, orders.pack())
    return orders


def add_orders(store: Store, before: tuple[int, int], added: OrderArrays) -> None:
    """Bring the packed copy up to date after an import that only inserted orders.

    ``before`` is :meth:`Store.orders_state` before the import and ``added`` the countable
    orders among those inserted (see :func:`countable_orders`): merged into the copy kept as
    of ``before``, they need not be read back from SQLite. Anything else (orders updated, a
    copy older than ``before``) rebuilds the copy from the database."""
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
    ``order_facts`` view: cancelled orders left out, refunds subtracted (never below zero),
    sales without a customer (ref 0) not packed. ``None`` for a column means the file had
    none (nothing refunded or cancelled, no currency)."""
    import numpy as np
    import pyarrow as pa

    n = len(ordered_at)
    t = np.empty(n, np.int64)
    step = 65536  # a slice at a time: a million stamps as one Arrow array cost 100 MB more
    for start in range(0, n, step):
        stamps = pa.array(ordered_at[start : start + step], pa.string())
        t[start : start + step] = stamps.cast(pa.timestamp("s", tz="UTC")).cast(pa.int64())
    net = np.fromiter(total, np.int64, n)
    if refunded is not None:  # (in place: a million orders are 8 MB a column)
        net -= np.fromiter(refunded, np.int64, n)
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
    keep = None if cancelled is None else np.asarray(pa.array(cancelled, pa.string()).is_null())
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


def _read_orders(store: Store, after_id: int) -> OrderArrays:
    """Countable orders with an id above ``after_id``, read from SQLite.

    (Packing the currency into an integer column in SQL costs more than a separate DISTINCT
    scan; the common case, one currency or several with the same minor units, then reads
    three integers per order.)"""
    import numpy as np

    codes = store.order_currencies(after_id=after_id)
    named = tuple(c for c in codes if c)
    digits = {minor_digits(c) for c in codes}
    if len(digits) <= 1:
        flat = np.fromiter(
            itertools.chain.from_iterable(store.order_fact_rows(after_id=after_id)),
            dtype=np.int64,
        ).reshape(-1, 3)
        amount = flat[:, 2] / 10.0 ** (digits.pop() if digits else 2)
        return OrderArrays.sorted(flat[:, 0].copy(), flat[:, 1].copy(), amount, named)
    # currencies with different minor units: scale each order by its own
    rows = store.order_fact_rows(after_id=after_id, with_currency=True).fetchall()
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


# --- periods --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Orders with ``start < ordered_at <= end`` (both UTC), and a label for people."""

    start: datetime  # exclusive
    end: datetime  # inclusive
    label: str

    @property
    def first_day(self) -> date:
        return (self.start + timedelta(seconds=1)).date()

    @property
    def last_day(self) -> date:
        return self.end.date()


def _calendar_start(moment: datetime, period: str) -> datetime:
    if period == "month":
        return datetime(moment.year, moment.month, 1, tzinfo=UTC)
    if period == "quarter":
        return datetime(moment.year, 3 * ((moment.month - 1) // 3) + 1, 1, tzinfo=UTC)
    return datetime(moment.year, 1, 1, tzinfo=UTC)


def _previous_calendar_start(start: datetime, period: str) -> datetime:
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    index = start.year * 12 + start.month - 1 - months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def period_for(as_of: datetime, period: str) -> Period:
    """The period ending at ``as_of``: the last N days (``30d``), or the calendar month,
    quarter or year containing ``as_of``, up to ``as_of``."""
    as_of = as_of.astimezone(UTC)
    if period not in PERIODS:
        raise UsageError(f"--period {period!r} is not one of {', '.join(PERIODS)}")
    if period.endswith("d"):
        days = int(period[:-1])
        start = as_of - timedelta(days=days)
        return Period(start, as_of, f"{days} days to {as_of.date().isoformat()}")
    begin = _calendar_start(as_of, period)
    return Period(begin - timedelta(seconds=1), as_of, _calendar_label(begin, as_of, period))


def previous_period(current: Period, period: str) -> Period:
    """The period before: the N days before (``30d``), or the same span of the previous
    calendar period (1-12 March -> 1-12 February, clamped to the end of February)."""
    if period.endswith("d"):
        span = current.end - current.start
        end = current.start
        return Period(end - span, end, f"{span.days} days to {end.date().isoformat()}")
    begin = current.start + timedelta(seconds=1)
    previous_begin = _previous_calendar_start(begin, period)
    end = min(previous_begin + (current.end - begin), begin - timedelta(seconds=1))
    return Period(
        previous_begin - timedelta(seconds=1), end, _calendar_label(previous_begin, end, period)
    )


def _calendar_label(begin: datetime, end: datetime, period: str) -> str:
    if period == "month":
        name = f"{calendar.month_abbr[begin.month]} {begin.year}"
    elif period == "quarter":
        name = f"Q{(begin.month - 1) // 3 + 1} {begin.year}"
    else:
        name = str(begin.year)
    return f"{name} ({begin.date().isoformat()} to {end.date().isoformat()})"


# --- metrics --------------------------------------------------------------------------------

#: the figures, in the order they are shown; definitions in retain_cli.analytics.definitions
METRIC_NAMES: tuple[str, ...] = (
    "customers",
    "active_customers",
    "new_customers",
    "returning_customers",
    "orders",
    "revenue",
    "returning_revenue_share",
    "average_order_value",
    "purchase_frequency",
    "repeat_purchase_rate",
    "customer_base_start",
    "customer_base_end",
    "retention_rate",
    "churn_rate",
    "historic_clv",
    "median_days_between_orders",
    "median_days_to_second_order",
)


def _ratio(part: float, whole: float, digits: int = 4) -> float | None:
    return round(part / whole, digits) if whole else None


def _median(values: np.ndarray) -> float | None:
    import numpy as np

    return round(float(np.median(values)), 1) if len(values) else None


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


def compute_metrics(orders: OrderArrays, period: Period) -> dict[str, float | int | None]:
    """Every figure of ``retain metrics`` for one period (definitions: ``retain explain``)."""
    import numpy as np

    orders = orders.upto(period.end)
    lo, hi = _seconds(period.start), _seconds(period.end)
    lookback = max(BASE_LOOKBACK_DAYS * DAY, hi - lo)
    summary = summarise(orders)
    t, amount = orders.t, orders.amount
    in_period = t > lo
    active = _any_in(in_period, summary.starts)
    new = summary.first_t > lo
    returning = active & ~new
    base_start = _any_in((t > lo - lookback) & (t <= lo), summary.starts)
    base_end = _any_in(t > hi - lookback, summary.starts)

    revenue = float(amount[in_period].sum())
    period_orders = int(in_period.sum())
    returning_per_order = np.repeat(returning, summary.orders) if len(t) else np.zeros(0, bool)
    returning_revenue = float(amount[in_period & returning_per_order].sum())
    customers = len(summary.customer)
    start_count = int(base_start.sum())
    retained = int((base_end & ~new).sum())
    lost = int((base_start & ~base_end).sum())
    gaps, to_second = order_day_gaps(orders)
    return {
        "customers": customers,
        "active_customers": int(active.sum()),
        "new_customers": int(new.sum()),
        "returning_customers": int(returning.sum()),
        "orders": period_orders,
        "revenue": round(revenue, 2),
        "returning_revenue_share": _ratio(returning_revenue, revenue),
        "average_order_value": _ratio(revenue, period_orders, 2),
        "purchase_frequency": _ratio(period_orders, int(active.sum()), 3),
        "repeat_purchase_rate": _ratio(int((summary.orders >= 2).sum()), customers),
        "customer_base_start": start_count,
        "customer_base_end": int(base_end.sum()),
        "retention_rate": _ratio(retained, start_count),
        "churn_rate": _ratio(lost, start_count),
        "historic_clv": _ratio(float(summary.total.sum()), customers, 2),
        "median_days_between_orders": _median(gaps),
        "median_days_to_second_order": _median(to_second),
    }


@dataclass
class MetricsReport:
    period: Period
    values: dict[str, float | int | None]
    currency: str
    previous: Period | None = None
    previous_values: dict[str, float | int | None] | None = None
    sales_without_customer: int = 0  # (counted in orders and revenue)

    def rows(self) -> list[dict[str, Any]]:
        """One row per metric: metric, value[, previous, change, change_pct]."""
        out = []
        for name in METRIC_NAMES:
            row: dict[str, Any] = {"metric": name, "value": self.values[name]}
            if self.previous_values is not None:
                before = self.previous_values[name]
                now = self.values[name]
                row["previous"] = before
                if now is None or before is None:
                    row["change"] = None
                    row["change_pct"] = None
                else:
                    row["change"] = round(float(now) - float(before), 4)
                    row["change_pct"] = (
                        round((float(now) - float(before)) / abs(float(before)), 4)
                        if before
                        else None
                    )
            out.append(row)
        return out


def metrics(
    store: Store, as_of: datetime, period: str = "30d", *, compare: bool = False
) -> MetricsReport:
    """``retain metrics``: the figures for the period ending at ``as_of`` (sales without a
    customer counted in orders and revenue, see :mod:`retain_cli.analytics.walk_ins`)."""
    from retain_cli.analytics.walk_ins import add_walk_ins, load_walk_ins

    orders, walk_ins = load_orders(store).upto(as_of), load_walk_ins(store)
    current = period_for(as_of, period)
    codes = tuple(sorted({*orders.currencies, *walk_ins.currencies}))
    report = MetricsReport(
        current,
        add_walk_ins(compute_metrics(orders, current), walk_ins, current),
        currency_label(replace(orders, currencies=codes)),
        sales_without_customer=walk_ins.between(current)[0],
    )
    if compare:
        before = report.previous = previous_period(current, period)
        report.previous_values = add_walk_ins(compute_metrics(orders, before), walk_ins, before)
    return report


# --- cohorts --------------------------------------------------------------------------------


@dataclass
class CohortTable:
    by: str
    value: str
    offsets: list[int]
    rows: list[dict[str, Any]] = field(default_factory=list)  # cohort, size, then offsets

    @property
    def columns(self) -> list[str]:
        return ["cohort", "size", *(str(k) for k in self.offsets)]


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
    customers who ordered in period c+k (``customers``), or the net revenue cohort c
    brought in period c+k (``revenue``). Periods after ``as_of`` are left empty (None)."""
    import numpy as np

    if by not in COHORT_UNITS:
        raise UsageError(f"--by {by!r} is not one of {', '.join(COHORT_UNITS)}")
    if value not in COHORT_VALUES:
        raise UsageError(f"--value {value!r} is not one of {', '.join(COHORT_VALUES)}")
    orders = orders.upto(as_of)
    if len(orders) == 0:
        return CohortTable(by, value, [])
    now = int(_period_index(np.array([_seconds(as_of)], dtype=np.int64), by)[0])
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
        table.rows.append(row)
    return table


def cohorts(
    store: Store,
    as_of: datetime,
    *,
    by: str = "month",
    value: str = "customers",
    last: int | None = None,
) -> CohortTable:
    """``retain cohorts``: the triangle, optionally only the ``last`` N cohorts."""
    table = compute_cohorts(load_orders(store), as_of, by, value)
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
