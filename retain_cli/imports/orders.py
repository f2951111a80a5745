"""Writing orders (:class:`OrdersWriter`), column by column.

Which rows are orders (blank, bad, failed or test payments are not; line-item exports are
grouped by order id), their ids, their customers (see :mod:`retain_cli.imports.order_customers`),
then one insert or upsert per chunk, and the packed copy analytics read kept current.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from retain_cli.analytics.metrics import OrderArrays, countable_orders
from retain_cli.imports.order_customers import WALK_IN, OrderCustomers
from retain_cli.imports.payments import PointOfSale
from retain_cli.imports.read import release_arrow_memory
from retain_cli.imports.values import CANCELLED_FLAG, CANCELLED_STATUSES, succeeded
from retain_cli.imports.writers import Writer
from retain_cli.store.imports import ORDER_COLUMNS

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass
class _Order:
    """One order of a grouped (line-item) export such as Shopify's."""

    row: int
    order_id: str
    rows: list[int] = field(default_factory=list)
    items: list[tuple[Any, ...]] = field(default_factory=list)


#: the order-level fields, in the order the writer reads them
_ORDER_FIELDS = (
    "order_id",
    "customer_id",
    "email",
    "first_name",
    "last_name",
    "name",
    "date",
    "amount",
    "currency",
    "subtotal",
    "shipping",
    "tax",
    "discount",
    "discount_code",
    "refunded",
    "status",
    "cancelled",
    "accepts_marketing",
)
_MISSING = {"date": "no date", "amount": "no amount"}


class OrdersWriter(Writer):
    """Orders, column by column: a million-row file never becomes a million Python objects
    beyond the tuples handed to SQLite one chunk at a time."""

    #: the countable orders among those inserted, when the import only inserted orders
    added: OrderArrays | None = None
    #: orders_state() before the import
    state_before: tuple[int, int] = (0, 0)
    #: rows that are refunds of a payment, not orders (see imports.payments)
    refund_rows: frozenset[int] | set[int] = frozenset()

    def refresh_analytics(self) -> None:
        """Keep the packed copy of the orders that metrics, segments, cohorts and predict
        read current, so the first of them after a big import is as fast as any other: the
        orders this import inserted are merged in from memory; after updates, the copy is
        read again from the database."""
        from retain_cli.analytics.metrics import add_orders, load_orders

        if not (self.inserted or self.updated):
            return
        if self.added is not None and not self.updated:
            add_orders(self.store, self.state_before, self.added)
        else:
            load_orders(self.store)

    def run(self) -> None:
        frame = self.frame
        self.state_before = self.store.orders_state()
        grouped = frame.has("item_name") or frame.has("item_sku")
        groups: list[_Order] | None = None
        good: Sequence[int]
        sale = PointOfSale(frame, self.layout) if PointOfSale.applies(self.layout) else None
        self.refund_rows = sale.prepare() if sale else set()
        if grouped:
            groups = self._group()
            if sale and self.layout.item_amounts:
                sale.sum_items(groups)
            good = [item.row for item in groups]
        else:
            good = self._single()
        if good:
            self._write(good, groups)
        if sale:
            self.updated += sale.write_refunds(self.store, self.import_ref)
            self.refunds = sale.applied

    def _write(self, good: Sequence[int], groups: list[_Order] | None) -> None:
        """Resolve the customers of the orders at rows ``good`` and write them."""
        frame = self.frame
        ids = frame.arrays.get("order_id") if groups is None else None
        if ids is not None and ids.null_count == 0:
            import pyarrow as pa

            if len(good) != frame.n:
                ids = ids.take(pa.array(good, type=pa.int64()))
            if not _all_distinct(ids):
                ids = None  # duplicates: found and rejected below, in Python
            release_arrow_memory()
        else:
            ids = None
        nones = [None] * len(good)  # one shared list for every field the file lacks
        cols: dict[str, Any] = {
            name: _pick(self.frame.get(name), good, frame.n)
            if frame.has(name) or name in frame.values
            else nones
            for name in _ORDER_FIELDS
            if not (name == "order_id" and ids is not None)
        }
        if ids is not None:
            cols["order_id"] = ids
        elif groups is None:
            cols["order_id"] = self._order_ids(good, cols)
            keep = self._drop_duplicates(good, cols["order_id"])
            if keep is not None:
                good = [good[i] for i in keep]
                cols = {name: [values[i] for i in keep] for name, values in cols.items()}
        customers = OrderCustomers(self.store, frame, self.layout)
        refs = customers.resolve(cols)
        self.customers_created = customers.customers_created
        self.walk_ins = _count(refs, WALK_IN)
        del cols["first_name"], cols["last_name"], cols["name"], cols["email"]
        columns = self._columns(cols, refs)
        del cols
        if groups is None:
            self._write_plain(columns)
        else:
            n = len(refs)
            rows = list(zip(*(_slice(columns[c], 0, n) for c in ORDER_COLUMNS), strict=True))
            self._write_grouped(rows, groups)

    # which rows are orders -----------------------------------------------------------------

    def _single(self) -> Sequence[int]:
        """Indexes of the rows that are usable orders; rejects and skips the others."""
        frame = self.frame
        payments = self.layout.name == "stripe_payments"
        if (
            not frame.errors
            and not payments
            and not frame.any_blank
            and not frame.has_nulls("date")
            and not frame.has_nulls("amount")
            and not self.refund_rows
        ):
            return range(frame.n)  # every row is an order: no per-row work
        dates, amounts = frame.get("date"), frame.get("amount")
        blank, errors = frame.blank, frame.errors
        statuses, captured, modes = frame.get("status"), frame.get("captured"), frame.get("mode")
        good: list[int] = []
        refunds = self.refund_rows
        for row in range(frame.n):
            if blank[row]:
                self.skipped += 1
            elif row in errors or row in refunds:
                continue
            elif dates[row] is None:
                frame.reject(row, "date", _MISSING["date"])
            elif amounts[row] is None:
                frame.reject(row, "amount", _MISSING["amount"])
            elif payments and not succeeded(statuses[row], captured[row], modes[row]):
                self.skipped += 1
            else:
                good.append(row)
        return range(frame.n) if len(good) == frame.n else good

    def _group(self) -> list[_Order]:
        """Line-item exports: rows grouped by order id; the first row carries the order."""
        frame = self.frame
        items = [frame.get(n) for n in ("item_sku", "item_name", "item_quantity", "item_price")]
        ids = frame.get("order_id")
        by_id: dict[str, _Order] = {}
        groups: list[_Order] = []
        for row in range(frame.n):
            if frame.blank[row]:
                self.skipped += 1
                continue
            if row in self.refund_rows:
                continue
            order_id = ids[row]
            if order_id is None:
                frame.reject(row, "order_id", "no order id")
                continue
            current = by_id.get(order_id)
            if current is None:
                current = by_id[order_id] = _Order(row, order_id)
                groups.append(current)
            current.rows.append(row)
            sku, name, quantity, price = (column[row] for column in items)
            if sku or name:
                current.items.append((sku, name, 1 if quantity is None else quantity, price))
        dates, amounts = frame.get("date"), frame.get("amount")
        kept: list[_Order] = []
        for order in groups:
            bad = next((r for r in order.rows if r in frame.errors), None)
            first = order.row
            if bad is None:
                problem = (
                    "date" if dates[first] is None else "amount" if amounts[first] is None else None
                )
                if problem:
                    frame.reject(first, problem, f"{_MISSING[problem]} on the order's first row")
                    bad = first
            if bad is not None:
                for row in order.rows:
                    frame.reject(row, "order_id", f"order {order.order_id} has a rejected row")
                continue
            kept.append(order)
        return kept

    def _order_ids(self, good: Sequence[int], cols: Mapping[str, list[Any]]) -> list[Any]:
        """The file's order ids, and a stable id derived from the row where there is none:
        the same row always gets the same id, and identical rows are told apart by how many
        times they occurred before."""
        ids = cols["order_id"]
        if all(value is not None for value in ids):
            return ids
        out = list(ids)
        seen: dict[str, int] = {}
        parts = [cols[n] for n in ("customer_id", "email", "date", "amount", "currency")]
        for i, value in enumerate(ids):
            if value is not None:
                continue
            identity = "\x1f".join("" if p[i] is None else str(p[i]) for p in parts)
            number = seen.get(identity, 0) + 1
            seen[identity] = number
            digest = hashlib.sha1(f"{identity}\x1f{number}".encode()).hexdigest()
            out[i] = f"row-{digest[:16]}"
        return out

    def _drop_duplicates(self, good: Sequence[int], ids: Sequence[str]) -> list[int] | None:
        """Positions to keep when an order id occurs more than once (later rows rejected)."""
        if len(set(ids)) == len(ids):
            return None
        first: dict[str, int] = {}
        keep: list[int] = []
        for position, order_id in enumerate(ids):
            if order_id in first:
                self.frame.reject(
                    good[position],
                    "order_id",
                    f"order {order_id} appears more than once in the file; "
                    "only its first row was used",
                )
            else:
                first[order_id] = position
                keep.append(position)
        return keep

    # writing -------------------------------------------------------------------------------

    def _columns(self, cols: Mapping[str, Any], refs: Sequence[int]) -> dict[str, Any]:
        """The orders as columns named like the table's (see ORDER_COLUMNS)."""
        n = len(refs)
        ids = cols["order_id"]
        statuses = cols["status"]
        if self.frame.has("status"):
            statuses = [s.lower() if s else None for s in statuses]
        cancelled = cols["cancelled"]
        has_status = self.frame.has("status")
        if has_status or (self.frame.has("cancelled") and CANCELLED_FLAG in cancelled):
            generic = self.layout.name == "generic_orders"
            cancelled = [
                d
                if (c == CANCELLED_FLAG or (c is None and generic and s in CANCELLED_STATUSES))
                else c
                for c, s, d in zip(cancelled, statuses, cols["date"], strict=True)
            ]
        refunded: list[Any]
        if not has_status and self.frame.has("refunded") and None not in cols["refunded"]:
            refunded = cols["refunded"]
        elif self.frame.has("refunded") or has_status:
            refunded = [
                r if r is not None else (a if s == "refunded" else 0)
                for r, s, a in zip(cols["refunded"], statuses, cols["amount"], strict=True)
            ]
        else:
            refunded = [0] * n
        return {
            "order_id": ids,
            "customer_ref": refs,
            "ordered_at": cols["date"],
            "currency": cols["currency"],
            "subtotal_minor": cols["subtotal"],
            "shipping_minor": cols["shipping"],
            "tax_minor": cols["tax"],
            "discount_minor": cols["discount"],
            "total_minor": cols["amount"],
            "refunded_minor": refunded,
            "financial_status": statuses,
            "cancelled_at": cancelled,
            "discount_code": cols["discount_code"],
        }

    def _write_plain(self, columns: dict[str, Any]) -> None:
        """Upsert; or, when no order of this platform exists yet, a plain insert of only the
        columns that hold something (the common first import of a big file)."""
        store, source = self.store, self.layout.name
        n = len(columns["order_id"])
        prefix = f"{self.layout.platform}:"
        before = store.count_orders()
        step = 50_000
        fresh = not store.has_orders(prefix)
        # one currency for the whole file: written as a constant, not bound row by row
        same = self.frame.uniform_currency if fresh else None
        if fresh:
            names = [
                c
                for c in ORDER_COLUMNS
                if not (c == "currency" and same) and _nulls(columns[c]) != n
            ]
            if isinstance(columns["refunded_minor"], list) and (
                columns["refunded_minor"].count(0) == n
            ):
                names.remove("refunded_minor")  # the column's default
        else:
            names = list(ORDER_COLUMNS)
        constants = {"currency": same} if same else {}
        changed = 0
        with ThreadPoolExecutor(1) as worker:
            packing = None
            with store.orders_bulk_load(n > max(50_000, before)):
                for start in range(0, n, step):
                    if fresh:
                        part = {c: _slice(columns[c], start, start + step) for c in names}
                        changed += len(
                            store.insert_orders(part, self.import_ref, source, prefix, constants)
                        )
                        del part
                    else:
                        parts = (_slice(columns[c], start, start + step) for c in names)
                        chunk = list(zip(*parts, strict=True))
                        changed += store.upsert_orders(chunk, self.import_ref, source, prefix)
                        del chunk
                    self.tick(start + step)
                if fresh:
                    # packed for analytics in a worker thread while SQLite, which lets go of
                    # the interpreter meanwhile, builds the orders index as this block ends
                    packing = worker.submit(_countable, {**columns, **constants}, names)
            if packing is not None:
                self.added = packing.result()
        self.inserted = store.count_orders() - before
        self.updated = changed - self.inserted
        self.unchanged = n - changed

    def _write_grouped(self, rows: list[tuple[Any, ...]], groups: Sequence[_Order]) -> None:
        store, source = self.store, self.layout.name
        prefix = f"{self.layout.platform}:"
        if not store.has_orders(prefix):
            self._insert_grouped(rows, groups)
            return
        keys = [prefix + row[0] for row in rows]
        known = store.order_refs(keys)
        old_items = store.order_items(list(known.values()))
        plain, items_changed = [], []
        for order, row, key in zip(groups, rows, keys, strict=True):
            ref = known.get(key)
            if ref is not None and old_items.get(ref, []) != order.items:
                items_changed.append(row)
            else:
                plain.append(row)
        changed = store.upsert_orders(plain, self.import_ref, source, prefix)
        store.upsert_orders(items_changed, self.import_ref, source, prefix)
        self.inserted = len(keys) - len(known)
        self.updated = (changed - self.inserted) + len(items_changed)
        self.unchanged = len(rows) - self.inserted - self.updated
        write = {prefix + row[0] for row in items_changed} | {k for k in keys if k not in known}
        if write:
            ids = store.order_refs(sorted(write))
            store.replace_order_items(
                {
                    ids[key]: order.items
                    for order, key in zip(groups, keys, strict=True)
                    if key in write
                }
            )

    def _insert_grouped(self, rows: list[tuple[Any, ...]], groups: Sequence[_Order]) -> None:
        """The first import of a platform's line-item orders: every order is new, so they
        and their items are inserted many to a statement, the orders numbered in turn."""
        store = self.store
        columns = {name: [row[i] for row in rows] for i, name in enumerate(ORDER_COLUMNS)}
        refs = store.insert_orders(
            columns, self.import_ref, self.layout.name, f"{self.layout.platform}:"
        )
        store.insert_order_items(
            {ref: order.items for ref, order in zip(refs, groups, strict=True) if order.items}
        )
        self.inserted = len(rows)
        self.added = _countable(columns, ORDER_COLUMNS)


def _countable(columns: Mapping[str, Any], names: Sequence[str]) -> OrderArrays:
    """The countable orders among new orders given as columns (``names``: those written)."""

    def given(name: str) -> Any:
        if isinstance(columns.get(name), str):  # one value for every order
            return [columns[name]]
        return columns[name] if name in names else None

    return countable_orders(
        columns["customer_ref"],
        columns["ordered_at"],
        columns["total_minor"],
        given("refunded_minor"),
        given("cancelled_at"),
        given("currency"),
    )


def _all_distinct(values: pa.Array) -> bool:
    """Whether no value repeats: at once when they are in strictly increasing or decreasing
    order (as exports list their orders), else by counting."""
    import pyarrow.compute as pc

    if len(values) > 1:
        before, after = values.slice(0, len(values) - 1), values.slice(1)
        for ordered in (pc.less, pc.greater):
            if pc.all(ordered(before, after)).as_py():
                return True
        # B9, B10, B11 ...: increasing by length, then by text
        lengths = pc.utf8_length(values)
        shorter, longer = lengths.slice(0, len(values) - 1), lengths.slice(1)
        step = pc.or_(
            pc.less(shorter, longer), pc.and_(pc.equal(shorter, longer), pc.less(before, after))
        )
        if pc.all(step).as_py():
            return True
    return bool(pc.count_distinct(values).as_py() == len(values))


def _count(values: Any, value: int) -> int:
    """How many of ``values`` (a list, an array or a numpy array) equal ``value``."""
    if hasattr(values, "dtype"):
        return int((values == value).sum())
    return list(values).count(value) if not isinstance(values, list) else values.count(value)


def _nulls(values: Any) -> int:
    """How many values are None (a list or an Arrow array)."""
    if isinstance(values, array) or hasattr(values, "dtype"):
        return 0
    return values.count(None) if isinstance(values, list) else int(values.null_count)


def _slice(values: Any, start: int, stop: int) -> list[Any]:
    """``values[start:stop]`` as a list (from a list or an Arrow array)."""
    if isinstance(values, list):
        return values[start:stop]
    if isinstance(values, array) or hasattr(values, "dtype"):  # array or numpy
        return list(values[start:stop].tolist())
    return list(values.slice(start, stop - start).to_pylist())


def _pick(values: list[Any], rows: Sequence[int], n: int) -> list[Any]:
    """``values`` at ``rows`` (the list itself when every row is kept)."""
    if len(rows) == n:
        return values
    return [values[r] for r in rows]
