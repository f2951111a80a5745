"""What a template sees: the shop, the customer, their figures and last order (loaded for a
batch of customers in a few queries), and the filters that format amounts and dates.

Filters: ``money`` (ints are minor units, floats major units; the currency is the filter's
argument, else the context's ``currency``) and ``date`` (a ``strftime`` format; default
``"%-d %B %Y"`` style, e.g. ``7 October 2025``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from retain_cli.campaigns.message import parseaddr, unsubscribe_url
from retain_cli.campaigns.model import CampaignConfig, Sender
from retain_cli.timeutil import from_iso, to_iso, utc_now

if TYPE_CHECKING:
    from retain_cli.store import Store

# how an amount reads in an e-mail: symbol, decimals (as in retain_cli.money), decimal
# separator, thousands separator, symbol after the amount. Others: "KWD 1,234.500".
CURRENCIES: dict[str, tuple[str, int, str, str, bool]] = {
    "USD": ("$", 2, ".", ",", False),
    "CAD": ("CA$", 2, ".", ",", False),
    "AUD": ("A$", 2, ".", ",", False),
    "NZD": ("NZ$", 2, ".", ",", False),
    "GBP": ("£", 2, ".", ",", False),
    "EUR": ("€", 2, ",", ".", False),
    "CHF": ("CHF ", 2, ".", "'", False),
    "SEK": (" kr", 2, ",", " ", True),
    "NOK": (" kr", 2, ",", " ", True),
    "DKK": (" kr", 2, ",", ".", True),
    "PLN": (" zł", 2, ",", " ", True),
    "JPY": ("¥", 0, ".", ",", False),
    "KRW": ("₩", 0, ".", ",", False),
    "INR": ("₹", 2, ".", ",", False),
    "BRL": ("R$", 2, ",", ".", False),
    "MXN": ("MX$", 2, ".", ",", False),
}
DEFAULT_CURRENCY = "USD"


# --- filters -----------------------------------------------------------------------------


def minor_digits(currency: str) -> int:
    """Decimals of a currency, as the database stores it (see :mod:`retain_cli.money`)."""
    from retain_cli.money import minor_units

    return minor_units(currency)


def format_money(amount: Any, currency: str | None = None, *, minor: bool | None = None) -> str:
    """Format an amount: ints are minor units (1250 -> $12.50) unless ``minor=False``."""
    if amount is None:
        return ""
    kind = type(amount)
    if kind is int or kind is float:
        return _money_cached(kind is int, amount, currency or DEFAULT_CURRENCY, minor)
    if isinstance(amount, bool):
        raise TypeError("money: expected a number, got true/false")
    return _money(amount, currency or DEFAULT_CURRENCY, minor)


@lru_cache(maxsize=8192)
def _money_cached(_is_int: bool, amount: Any, currency: str, minor: bool | None) -> str:
    return _money(amount, currency, minor)


def _money(amount: Any, currency: str, minor: bool | None) -> str:
    code = currency.upper()
    digits = minor_digits(code)
    is_minor = isinstance(amount, int) if minor is None else minor
    try:
        value = float(amount)
    except (TypeError, ValueError):
        raise TypeError(f"money: expected a number, got {amount!r}") from None
    major = value / (10**digits) if is_minor else value
    negative = major < 0
    text = f"{abs(major):,.{digits}f}"
    symbol, _, point, thousands, after = CURRENCIES.get(code, (f"{code} ", digits, ".", ",", False))
    text = text.replace(",", "\x00").replace(".", point).replace("\x00", thousands)
    text = f"{text}{symbol}" if after else f"{symbol}{text}"
    return f"-{text}" if negative else text


def format_date(value: Any, fmt: str | None = None) -> str:
    """Format a date, datetime or ISO text; the default looks like ``7 October 2025``."""
    if value is None or value == "":
        return ""
    if type(value) is str:
        return _date_cached(value, fmt)
    return _date(value, fmt)


@lru_cache(maxsize=8192)
def _date_cached(value: str, fmt: str | None) -> str:
    return _date(value, fmt)


def _date(value: Any, fmt: str | None) -> str:
    moment: date
    if isinstance(value, datetime | date):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            moment = date.fromisoformat(text) if len(text) == 10 else from_iso(text)
        except ValueError:
            if text.startswith("--") and len(text) == 7:  # birthday without a year
                moment = date(2000, int(text[2:4]), int(text[5:7]))
                return moment.strftime(fmt) if fmt else f"{moment.day} {moment:%B}"
            raise TypeError(f"date: {value!r} is not a date") from None
    else:
        raise TypeError(f"date: {value!r} is not a date")
    if fmt:
        return moment.strftime(fmt)
    return f"{moment.day} {moment:%B %Y}"


# --- context ------------------------------------------------------------------------------


def shop_context(config: CampaignConfig) -> dict[str, Any]:
    sender = config.sender
    name, email = parseaddr(sender.from_addr)
    return {
        "name": name or email,
        "email": email,
        "reply_to": sender.reply_to,
        "address": sender.address,
    }


def _days_between(earlier: str | None, as_of: datetime) -> int | None:
    if not earlier:
        return None
    return max((as_of.astimezone(UTC).date() - from_iso(earlier).date()).days, 0)


def _major(minor: int | None, currency: str) -> float | None:
    if minor is None:
        return None
    return minor / (10 ** minor_digits(currency))


def customer_context(
    customer: Mapping[str, Any],
    stats: Mapping[str, Any] | None,
    last_order: Mapping[str, Any] | None,
    items: Sequence[Mapping[str, Any]],
    *,
    shop: Mapping[str, Any],
    sender: Sender,
    as_of: datetime,
    default_currency: str,
    segment: str | None = None,
) -> dict[str, Any]:
    """One customer's template context from plain rows (see :func:`load_contexts`)."""
    first = customer.get("first_name")
    last = customer.get("last_name")
    full = " ".join(p for p in (first, last) if p) or None
    currency = (last_order or {}).get("currency") or default_currency
    orders = int((stats or {}).get("orders") or 0)
    spent_minor = int((stats or {}).get("total_spent_minor") or 0)
    digits = minor_digits(currency)
    email = str(customer["email"])
    order_ctx: dict[str, Any] | None = None
    if last_order is not None:
        order_currency = last_order.get("currency") or currency
        order_ctx = {
            "order_id": last_order["order_id"],
            "ordered_at": last_order["ordered_at"],
            "currency": order_currency,
            "total_minor": last_order["net_minor"],
            "total": _major(last_order["net_minor"], order_currency),
            "items": [
                {
                    "name": item.get("name") or item.get("sku") or "item",
                    "sku": item.get("sku"),
                    "quantity": item.get("quantity") or 1,
                    "price_minor": item.get("price_minor"),
                    "price": _major(item.get("price_minor"), order_currency),
                }
                for item in items
            ],
        }
    return {
        "customer": {
            "customer_id": customer["customer_id"],
            "email": email,
            "first_name": first,
            "last_name": last,
            "name": full,
            "birthday": customer.get("birthday"),
            "city": customer.get("city"),
            "country": customer.get("country"),
            "company": customer.get("company"),
            "tags": customer.get("tags"),
            "since": customer.get("source_created_at") or customer.get("created_at"),
        },
        "metrics": {
            "orders": orders,
            "total_spent_minor": spent_minor,
            "total_spent": spent_minor / (10**digits),
            "average_order": (spent_minor / orders) / (10**digits) if orders else None,
            "first_order_at": (stats or {}).get("first_order_at"),
            "last_order_at": (stats or {}).get("last_order_at"),
            "days_since_last_order": _days_between((stats or {}).get("last_order_at"), as_of),
            "days_since_first_order": _days_between((stats or {}).get("first_order_at"), as_of),
        },
        "segment": segment,
        "last_order": order_ctx,
        "currency": currency,
        "unsubscribe_url": unsubscribe_url(sender, email),
        "shop": dict(shop),
        "today": as_of.date().isoformat(),
    }


def shop_currency(store: Store) -> str:
    """The currency amounts without one are shown in: the shop's most used one."""
    return store.shop_currency() or DEFAULT_CURRENCY


def load_contexts(
    store: Store,
    config: CampaignConfig,
    customer_refs: Sequence[int],
    as_of: datetime,
    *,
    segments: Mapping[int, str] | None = None,
    default_currency: str | None = None,
) -> dict[int, dict[str, Any]]:
    """Template contexts for a batch of customers (by internal id), in a few queries.

    Customers without an e-mail address are left out. ``segments`` optionally maps a
    customer to their segment name (the audience knows it); otherwise ``segment`` is None.
    ``default_currency``: the shop's currency when the caller knows it already (looking it
    up scans every order; a sender asks once per run, not once per batch).
    """
    refs = list(dict.fromkeys(int(r) for r in customer_refs))
    if not refs:
        return {}
    as_of_iso = to_iso(as_of)
    customers = store.template_customers(refs)
    stats = {row["customer_ref"]: row for row in store.template_order_stats(refs, as_of_iso)}
    last_orders = {row["customer_ref"]: row for row in store.template_last_orders(refs, as_of_iso)}
    items: dict[int, list[dict[str, Any]]] = {}
    for item in store.template_order_items([o["order_ref"] for o in last_orders.values()]):
        items.setdefault(item["order_ref"], []).append(item)
    default_currency = default_currency or shop_currency(store)
    shop = shop_context(config)
    out: dict[int, dict[str, Any]] = {}
    for customer in customers:
        if not customer.get("email"):
            continue
        ref = customer["customer_ref"]
        order = last_orders.get(ref)
        out[ref] = customer_context(
            customer,
            stats.get(ref),
            order,
            items.get(order["order_ref"], []) if order else [],
            shop=shop,
            sender=config.sender,
            as_of=as_of,
            default_currency=default_currency,
            segment=(segments or {}).get(ref),
        )
    return {ref: out[ref] for ref in refs if ref in out}


def sample_context(config: CampaignConfig, as_of: datetime | None = None) -> dict[str, Any]:
    """A realistic made-up customer, for ``campaigns check`` and the benchmark."""
    moment = as_of or utc_now()
    first_at = to_iso(moment - timedelta(days=400))
    customer = {
        "customer_id": "sample-1001",
        "email": "sam.sample@example.com",
        "first_name": "Sam",
        "last_name": "Sample",
        "birthday": "1990-06-15",
        "city": "Springfield",
        "country": "US",
        "company": None,
        "tags": "newsletter",
        "created_at": first_at,
        "source_created_at": first_at,
    }
    last_at = to_iso(moment - timedelta(days=75))
    stats = {
        "orders": 3,
        "total_spent_minor": 8450,
        "first_order_at": first_at,
        "last_order_at": last_at,
    }
    order = {
        "order_id": "#1042",
        "ordered_at": last_at,
        "currency": "USD",
        "net_minor": 3150,
    }
    items = [
        {"name": "Sourdough loaf", "sku": "SD-1", "quantity": 2, "price_minor": 750},
        {"name": "Cinnamon buns (box of 4)", "sku": "CB-4", "quantity": 1, "price_minor": 1650},
    ]
    return customer_context(
        customer,
        stats,
        order,
        items,
        shop=shop_context(config),
        sender=config.sender,
        as_of=moment,
        default_currency="USD",
        segment="at_risk",
    )
