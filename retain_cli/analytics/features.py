"""Per-customer figures at an as-of moment, orders up to it only.

:class:`Core` holds them as numpy arrays (what rfm and lifecycle segments need);
:func:`customer_features` is the pandas frame, one row per customer, that custom segment and
campaign audience rules (the filter language) are evaluated on.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from retain_cli.timeutil import to_iso

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from retain_cli.analytics.metrics import OrderArrays
    from retain_cli.store import Store


@dataclass(frozen=True)
class Core:
    """Per-customer figures (customers with countable orders by as-of) and every customer."""

    as_of: datetime
    orders: OrderArrays
    customer: np.ndarray
    order_count: np.ndarray
    total: np.ndarray
    first_t: np.ndarray
    last_t: np.ndarray
    days_since_last: np.ndarray
    days_since_first: np.ndarray
    all_refs: np.ndarray


def _day_number(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp()) // 86400


#: the last Core computed, by what it was computed from: one command often needs the same
#: figures several times (a plan's segment audiences, ``retain explain CUSTOMER``)
_LAST: list[tuple[tuple[object, ...], Core]] = []


#: every customer's id, by the state of the database it was read from (a plan, ``retain
#: explain CUSTOMER``, reads the figures at two moments of one day: one read of 200,000 ids)
_EVERYONE: list[tuple[tuple[object, ...], np.ndarray]] = []


#: customers without an order by as_of asked about one by one (below: a scan of every customer)
FEW_DOUBTFUL = 5_000


def core_features(store: Store, as_of: datetime) -> Core:
    """The :class:`Core` figures at ``as_of``: orders up to it only, and only the customers
    who existed by then (a first order, a sign-up or an import by as-of): at a past as-of,
    someone whose first order came later is not a prospect, they were not there yet.

    The arrays are shared with the next caller asking for the same figures while the
    database is unchanged: read them, never write to them."""
    key = (str(store.path), id(store.conn), as_of.isoformat(), store.data_stamp())
    if _LAST and _LAST[0][0] == key:
        return _LAST[0][1]
    core = _core_features(store, as_of)
    _LAST[:] = [(key, core)]
    return core


def _core_features(store: Store, as_of: datetime) -> Core:
    from retain_cli.analytics.metrics import DAY, load_orders, summarise

    orders = load_orders(store).upto(as_of)
    summary = summarise(orders)
    today = _day_number(as_of)
    return Core(
        as_of=as_of,
        orders=orders,
        customer=summary.customer,
        order_count=summary.orders,
        total=summary.total,
        first_t=summary.first_t,
        last_t=summary.last_t,
        days_since_last=today - summary.last_t // DAY,
        days_since_first=today - summary.first_t // DAY,
        all_refs=_existing(store, as_of, summary.customer),
    )


def _existing(store: Store, as_of: datetime, buyers: np.ndarray) -> np.ndarray:
    """Every customer who existed at ``as_of``, ascending. Only those imported after it and
    without a countable order by then need a look at the database (usually nobody)."""
    import numpy as np

    key = (str(store.path), id(store.conn), store.data_stamp())
    if _EVERYONE and _EVERYONE[0][0] == key:
        everyone = _EVERYONE[0][1]
    else:
        everyone = np.array(store.customer_refs(), dtype=np.int64)
        everyone.flags.writeable = False
        _EVERYONE[:] = [(key, everyone)]
    # a buyer by as_of existed then: only the others can be in doubt. When they are few, ask
    # about them alone (the same answer: existing-by counts an import by as_of too) rather
    # than read every customer imported after as_of (at a past --now: everyone, 0.2 s)
    others = np.setdiff1d(everyone, buyers, assume_unique=True)
    moment = to_iso(as_of)
    if len(others) <= FEW_DOUBTFUL:
        doubtful = others
    else:
        late = np.array(store.customers_imported_after(moment), dtype=np.int64)
        doubtful = np.intersect1d(late, others, assume_unique=True)
    if len(doubtful) == 0:
        return everyone
    found = store.customers_existing_by(doubtful.tolist(), moment)
    gone = np.setdiff1d(doubtful, np.array(found, dtype=np.int64), assume_unique=True)
    return np.setdiff1d(everyone, gone, assume_unique=True)


def customer_features(
    store: Store, as_of: datetime, refs: Collection[int] | None = None
) -> pd.DataFrame:
    """One row per customer who existed at ``as_of`` (index ``customer_ref``), orders up to
    ``as_of`` only; with ``refs``, only those customers (each row the same as in the whole
    frame).

    Columns: customer_id, email, orders, total_spent (net, major units), avg_order_value,
    first_order_at, last_order_at (UTC timestamps or NaT), days_since_last_order,
    days_since_first_order (whole days, NaN without orders), accepts_marketing (True, False
    or <NA>), birthday. Customers without orders have orders = 0 and total_spent = 0.
    """
    import numpy as np
    import pandas as pd

    core = core_features(store, as_of)
    rows = store.customer_feature_rows(refs)
    frame = pd.DataFrame(
        rows, columns=["customer_ref", "customer_id", "email", "accepts_marketing", "birthday"]
    ).set_index("customer_ref")
    if refs is not None or len(core.all_refs) < len(frame):
        # a past as-of: customers who came later are left out
        frame = frame[frame.index.isin(core.all_refs)]
    frame = frame.astype({"customer_id": object, "email": object, "birthday": object})
    frame.index = frame.index.astype(np.int64)
    frame["accepts_marketing"] = frame["accepts_marketing"].astype("boolean")
    keep = slice(None) if refs is None else np.isin(core.customer, np.fromiter(refs, np.int64))
    per = pd.DataFrame(
        {
            "orders": core.order_count[keep],
            "total_spent": np.round(core.total[keep], 2),
            "first_order_at": pd.to_datetime(core.first_t[keep], unit="s", utc=True),
            "last_order_at": pd.to_datetime(core.last_t[keep], unit="s", utc=True),
            "days_since_last_order": core.days_since_last[keep].astype(np.float64),
            "days_since_first_order": core.days_since_first[keep].astype(np.float64),
        },
        index=pd.Index(core.customer[keep], name="customer_ref"),
    )
    frame = frame.join(per, how="left")
    frame["orders"] = frame["orders"].fillna(0).astype(np.int64)
    frame["total_spent"] = frame["total_spent"].fillna(0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["avg_order_value"] = (
            (frame["total_spent"] / frame["orders"]).where(frame["orders"] > 0).round(2)
        )
    columns = [
        "customer_id",
        "email",
        "orders",
        "total_spent",
        "avg_order_value",
        "first_order_at",
        "last_order_at",
        "days_since_last_order",
        "days_since_first_order",
        "accepts_marketing",
        "birthday",
    ]
    return frame[columns]
