"""Looking at the data: the customer list, one customer's profile, and the database status.

Every function takes an open :class:`~retain_cli.store.Store` and returns plain typed data
(rows are dicts, so they render as they are). Orders are counted the one way the whole tool
counts them: the ``order_facts`` view (cancelled and fully refunded orders left out, refunds
subtracted). Money is returned in major units (``12.5`` for 12.50 EUR).
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict

from retain_cli.errors import NotFound, UsageError
from retain_cli.settings import shop_currency
from retain_cli.timeutil import to_iso

if TYPE_CHECKING:
    from retain_cli.store import Store

LIST_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "email",
    "first_name",
    "last_name",
    "orders",
    "total_spent",
    "first_order_at",
    "last_order_at",
)


class SortKey(enum.StrEnum):
    """Orders ``retain customers list`` can sort by (ties: latest order, then customer_id)."""

    total_spent = "total_spent"  # biggest spenders first (the default)
    orders = "orders"  # most orders first
    last_order = "last_order"  # most recent order first
    first_order = "first_order"  # earliest first order first
    name = "name"  # last name, first name
    email = "email"
    customer_id = "customer_id"


SORT_KEYS: tuple[str, ...] = tuple(k.value for k in SortKey)
DEFAULT_SORT = SortKey.total_spent
ORDER_COLUMNS: tuple[str, ...] = (
    "order_id",
    "ordered_at",
    "status",
    "cancelled_at",
    "items",
    "total",
    "refunded",
    "net",
    "currency",
)
IMPORT_COLUMNS: tuple[str, ...] = (
    "started_at",
    "kind",
    "source",
    "file_name",
    "rows",
    "inserted",
    "updated",
    "unchanged",
    "rejected",
    "warnings",
)


class CustomerRow(TypedDict):
    """One line of ``retain customers list``."""

    ref: int
    customer_id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    orders: int
    total_spent: float
    first_order_at: str | None
    last_order_at: str | None


class OrderRow(TypedDict):
    """One order in a customer's history (cancelled ones included, flagged by cancelled_at)."""

    order_id: str
    ordered_at: str
    status: str | None
    cancelled_at: str | None
    items: str
    total: float
    refunded: float
    net: float
    currency: str | None


@dataclass(frozen=True)
class CustomerProfile:
    """Everything ``retain customers show`` prints about one customer."""

    ref: int
    customer_id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    company: str | None
    address: str | None
    birthday: str | None
    tags: list[str]
    note: str | None
    accepts_marketing: bool | None
    suppressed: bool
    suppression: dict[str, str] | None
    can_email: bool
    source: str
    sources: list[dict[str, str]]
    signed_up_at: str | None
    created_at: str
    updated_at: str
    orders: int
    total_spent: float
    cancelled_orders: int
    refunded: float
    first_order_at: str | None
    last_order_at: str | None
    currency: str | None
    history: list[OrderRow] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The profile as flat, printable fields (for a two-column table)."""
        consent = {True: "yes", False: "no", None: "unknown"}[self.accepts_marketing]
        if self.suppression is not None:
            s = self.suppression
            suppressed = f"yes: {s['reason']} ({s['source']}, {s['created_at']})"
        else:
            suppressed = "no"
        return {
            "customer_id": self.customer_id,
            "email": self.email,
            "name": " ".join(p for p in (self.first_name, self.last_name) if p) or None,
            "phone": self.phone,
            "company": self.company,
            "address": self.address,
            "birthday": self.birthday,
            "tags": ", ".join(self.tags) or None,
            "note": self.note,
            "accepts_marketing": consent,
            "suppressed": suppressed,
            "can_email": "yes" if self.can_email else "no",
            "sources": ", ".join(f"{s['source']}:{s['source_id']}" for s in self.sources)
            or self.source,
            "signed_up_at": self.signed_up_at,
            "orders": self.orders,
            "total_spent": self.total_spent,
            "currency": self.currency,
            "cancelled_orders": self.cancelled_orders,
            "refunded": self.refunded,
            "first_order_at": self.first_order_at,
            "last_order_at": self.last_order_at,
        }

    def as_json(self) -> dict[str, Any]:
        """The profile with typed values (booleans, lists) and its order history."""
        data = {k: v for k, v in self.__dict__.items() if k not in ("ref", "history")}
        data["orders_history"] = list(self.history)
        return data


@dataclass(frozen=True)
class StatusReport:
    """What ``retain status`` prints: a summary and the most recent imports."""

    summary: dict[str, Any]
    imports: list[dict[str, Any]]


# -- money -------------------------------------------------------------------------------


def minor_digits(currency: str | None) -> int:
    """How many decimals a currency's minor unit has (2 when unknown)."""
    from retain_cli.money import minor_units

    return minor_units(currency)


def to_major(minor: int | None, currency: str | None) -> float:
    """Integer minor units as a major-unit amount (``1295, "EUR"`` -> ``12.95``)."""
    digits = minor_digits(currency)
    return round((minor or 0) / 10**digits, digits)


def _scales() -> dict[str, int]:
    """Divisors from minor to major units for currencies without two decimals."""
    from retain_cli.money import MINOR_UNITS

    return {code: 10**digits for code, digits in MINOR_UNITS.items() if digits != 2}


# -- the list ----------------------------------------------------------------------------


def list_customers(
    store: Store,
    *,
    limit: int | None = None,
    sort: str | SortKey = DEFAULT_SORT,
    refs: Collection[int] | None = None,
    as_of: datetime | None = None,
) -> list[CustomerRow]:
    """Customers with their order count and net spend, biggest spenders first by default.

    ``sort`` is one of :data:`SORT_KEYS` (ties are broken by the most recent order, then by
    ``customer_id``, so the order is always the same). ``refs`` keeps only the given internal
    ids (a segment's members); ``as_of`` ignores orders placed after it.
    """
    if sort not in SORT_KEYS:
        raise UsageError(f"cannot sort by {sort!r}; use one of: {', '.join(SORT_KEYS)}")
    if limit is not None and limit < 0:
        raise UsageError(f"--limit must be 0 or more, not {limit}")
    until = to_iso(as_of) if as_of is not None else None
    rows = store.customer_list(
        sort=str(sort), limit=limit, refs=refs, until=until, scales=_scales()
    )
    return [
        CustomerRow(
            ref=r["ref"],
            customer_id=r["customer_id"],
            email=r["email"],
            first_name=r["first_name"],
            last_name=r["last_name"],
            orders=r["orders"],
            total_spent=to_major(r["total_minor"], r["currency"]),
            first_order_at=r["first_order_at"],
            last_order_at=r["last_order_at"],
        )
        for r in rows
    ]


# -- one customer ------------------------------------------------------------------------


def _close_spellings(text: str, pool: Sequence[str], limit: int) -> list[str]:
    """Entries of ``pool`` spelled like ``text``; for addresses, the part before @ must be
    close too (else every address at the same domain would match)."""
    local = text.split("@")[0]
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(text)
    scored = []
    for candidate in pool:
        matcher.set_seq1(candidate.lower())
        if matcher.real_quick_ratio() < 0.75 or matcher.quick_ratio() < 0.75:
            continue
        ratio = matcher.ratio()
        if ratio < 0.75:
            continue
        other = candidate.lower().split("@")[0]
        if difflib.SequenceMatcher(None, local, other).ratio() < 0.6:
            continue
        scored.append((-ratio, candidate))
    return [candidate for _, candidate in sorted(scored)[:limit]]


def similar_customers(store: Store, key: str, limit: int = 5) -> list[str]:
    """Customers the user may have meant by ``key`` (their e-mail, else their customer_id):
    substring matches first, then close spellings (difflib)."""
    text = key.strip().lower()
    local = text.split("@")[0]
    words = local.replace(".", " ").replace("_", " ").replace("-", " ").split()
    fragments = dict.fromkeys([text, local, *words])
    found: dict[str, str] = {}  # shown name -> text it is compared with
    for fragment in fragments:
        if len(fragment) < 2:
            continue
        for row in store.customer_candidates(fragment, limit=50):
            name = row["email"] or row["customer_id"]
            full = " ".join(p for p in (row["first_name"], row["last_name"]) if p)
            found[name] = f"{name} {full}".lower()

    def score(name: str) -> tuple[float, float]:
        # the part before @ decides (addresses at one domain all look alike), then the rest
        near = difflib.SequenceMatcher(None, local, name.lower().split("@")[0]).ratio()
        return near, difflib.SequenceMatcher(None, text, found[name]).ratio()

    # close spellings among (a bounded number of) all customers, for typos in the address
    pool = [email or cid for cid, email in store.customer_keys(20_000)]
    for match in _close_spellings(text, pool, limit):
        found.setdefault(match, match.lower())
    ranked = sorted(found, key=lambda name: (tuple(-x for x in score(name)), name))
    return ranked[:limit]


def _address(record: dict[str, Any]) -> str | None:
    city_line = " ".join(p for p in (record["zip"], record["city"]) if p)
    parts = [
        record["address1"],
        record["address2"],
        city_line,
        record["province"],
        record["country"],
    ]
    text = ", ".join(p for p in parts if p)
    return text or None


def _items_summary(items: Sequence[dict[str, Any]]) -> str:
    parts = []
    for item in items:
        name = item["name"] or item["sku"] or "item"
        parts.append(f"{item['quantity']}× {name}")
    return ", ".join(parts)


def find_customer(store: Store, key: str) -> int:
    """The internal id of the customer ``key`` names (e-mail, customer_id or platform id).

    Raises :class:`NotFound` naming the closest customers when there is no such customer.
    """
    if not key.strip():
        raise UsageError("give an e-mail address or a customer id")
    ref = store.find_customer_ref(key)
    if ref is not None:
        return ref
    hints = similar_customers(store, key)
    message = f"no customer with e-mail or id {key.strip()!r}"
    if hints:
        message += "; did you mean " + ", ".join(hints) + "?"
    else:
        message += "; see 'retain customers list' for the customers in this database"
    raise NotFound(message)


def customer_profile(store: Store, key: str) -> CustomerProfile:
    """The profile and full order history of the customer ``key`` names."""
    ref = find_customer(store, key)
    record = store.customer_record(ref)
    items_by_order: dict[int, list[dict[str, Any]]] = {}
    for item in store.customer_order_items(ref):
        items_by_order.setdefault(item["order_ref"], []).append(item)

    history: list[OrderRow] = []
    countable = cancelled = 0
    net_minor = refunded_minor = 0
    currencies: dict[str, int] = {}
    first = last = None
    for order in store.customer_orders(ref):
        currency = order["currency"]
        is_cancelled = order["cancelled_at"] is not None
        net = 0 if is_cancelled else max(order["total_minor"] - order["refunded_minor"], 0)
        history.append(
            OrderRow(
                order_id=order["order_id"],
                ordered_at=order["ordered_at"],
                status=order["financial_status"],
                cancelled_at=order["cancelled_at"],
                items=_items_summary(items_by_order.get(order["order_ref"], [])),
                total=to_major(order["total_minor"], currency),
                refunded=to_major(order["refunded_minor"], currency),
                net=to_major(net, currency),
                currency=currency,
            )
        )
        if is_cancelled:
            cancelled += 1
            continue
        refunded_minor += order["refunded_minor"]
        if order["total_minor"] > 0 and order["refunded_minor"] >= order["total_minor"]:
            continue  # refunded in full: no countable order (order_facts leaves it out)
        countable += 1
        net_minor += net
        currencies[currency or ""] = currencies.get(currency or "", 0) + 1
        first = first or order["ordered_at"]
        last = order["ordered_at"]
    currency = max(currencies, key=lambda c: currencies[c]) if currencies else None

    suppression = None
    if record["suppressed_at"] is not None:
        suppression = {
            "reason": record["suppression_reason"],
            "source": record["suppression_source"],
            "created_at": record["suppressed_at"],
        }
    consent = record["accepts_marketing"]
    tags = [t.strip() for t in (record["tags"] or "").split(",") if t.strip()]
    return CustomerProfile(
        ref=ref,
        customer_id=record["customer_id"],
        email=record["email"],
        first_name=record["first_name"],
        last_name=record["last_name"],
        phone=record["phone"],
        company=record["company"],
        address=_address(record),
        birthday=record["birthday"],
        tags=tags,
        note=record["note"],
        accepts_marketing=None if consent is None else bool(consent),
        suppressed=suppression is not None,
        suppression=suppression,
        can_email=bool(record["consent"]),
        source=record["source"],
        sources=store.customer_source_ids(ref),
        signed_up_at=record["source_created_at"],
        created_at=record["created_at"],
        updated_at=record["updated_at"],
        orders=countable,
        total_spent=to_major(net_minor, currency or None),
        cancelled_orders=cancelled,
        refunded=to_major(refunded_minor, currency or None),
        first_order_at=first,
        last_order_at=last,
        currency=currency or None,
        history=history,
    )


# -- status ------------------------------------------------------------------------------


def _currency_shown(code: str | None) -> str:
    """The currency as status shows it: never blank (orders stored without one, from before
    retain asked for it, and a shop with none set say how to set it)."""
    return code or "unknown (set it: retain config set currency CODE)"


def status(store: Store, *, imports: int = 5) -> StatusReport:
    """Counts, the date range of orders, net revenue, and the most recent imports.

    Revenue is the net amount of countable orders in the most used currency (``currency``);
    amounts in any other currency are reported beside it as ``revenue_<CODE>``, never added.
    """
    counts = store.status_counts()
    summary: dict[str, Any] = {"database": str(store.path)}
    summary.update(counts)
    if not counts["orders_without_customer"]:
        del summary["orders_without_customer"]  # (only shops with walk-in sales have them)
    revenue = store.revenue_by_currency()
    shop = shop_currency(store)
    summary["currency"] = _currency_shown(revenue[0]["currency"] if revenue else shop)
    summary["revenue"] = (
        to_major(revenue[0]["net_minor"], revenue[0]["currency"]) if revenue else 0.0
    )
    for other in revenue[1:]:
        code = other["currency"] or "unknown"
        summary[f"revenue_{code}"] = to_major(other["net_minor"], other["currency"])
    recent = [{c: row[c] for c in IMPORT_COLUMNS} for row in store.recent_imports(imports)]
    return StatusReport(summary=summary, imports=recent)
