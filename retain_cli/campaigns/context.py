"""What a template sees: the shop, the customer, their figures and their first and last order
(loaded for a batch of customers in a few queries), and the filters that format amounts and
dates.

Filters (both written for the shop's locale, ``shop.locale``, with Babel):

- ``money``: ints are minor units, floats major units; the currency is the filter's argument,
  else the context's ``currency``. ``{{ 1640 | money('EUR') }}`` is ``€16.40`` in ``en_GB``,
  ``16,40 €`` in ``de_DE``.
- ``date``: a timestamp is first moved to the shop's time zone (``shop.timezone``), so an
  order placed at 00:30 in Berlin is on that day, not the day before in UTC. No argument:
  the locale's long date (``7 October 2025``, ``October 7, 2025``, ``7. Oktober 2025``);
  ``short``/``medium``/``long``/``full``; a Babel pattern such as ``'MMMM y'`` (``October
  2025``, in the locale's language); or a ``strftime`` format with ``%`` (English names).

The whole context is documented in the README ("Template context reference"); a test keeps
the two in step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from retain_cli.campaigns.message import parseaddr, unsubscribe_url
from retain_cli.campaigns.model import CampaignConfig, Sender
from retain_cli.money import DEFAULT_LOCALE, minor_units
from retain_cli.money import format_money as format_minor
from retain_cli.timeutil import from_iso, to_iso, utc_now

if TYPE_CHECKING:
    from retain_cli.campaigns.offers import ProductOffers
    from retain_cli.store import Store

DEFAULT_CURRENCY = "USD"
DATE_STYLES = ("short", "medium", "long", "full")


# --- filters -----------------------------------------------------------------------------


def minor_digits(currency: str | None) -> int:
    """Decimals of a currency, as the database stores it (see :mod:`retain_cli.money`)."""
    return minor_units(currency)


def format_money(
    amount: Any,
    currency: str | None = None,
    *,
    minor: bool | None = None,
    locale: str = DEFAULT_LOCALE,
) -> str:
    """Format an amount for ``locale``: ints are minor units (1250 -> $12.50) unless
    ``minor=False``; floats are major units."""
    if amount is None:
        return ""
    if isinstance(amount, bool):
        raise TypeError("money: expected a number, got true/false")
    code = (currency or DEFAULT_CURRENCY).upper()
    is_minor = isinstance(amount, int) if minor is None else minor
    if is_minor and isinstance(amount, int):
        value = amount
    else:
        try:
            number = float(amount)
        except (TypeError, ValueError):
            raise TypeError(f"money: expected a number, got {amount!r}") from None
        value = round(number if is_minor else number * 10 ** minor_digits(code))
    return format_minor(value, code, locale)


def format_date(
    value: Any,
    fmt: str | None = None,
    *,
    locale: str = DEFAULT_LOCALE,
    timezone: str = "UTC",
) -> str:
    """Format a date, datetime or ISO text for ``locale``; timestamps in ``timezone``."""
    if value is None or value == "":
        return ""
    if type(value) is str:
        return _date_cached(value, fmt, locale, timezone)
    return _date(value, fmt, locale, timezone)


@lru_cache(maxsize=8192)
def _date_cached(value: str, fmt: str | None, locale: str, timezone: str) -> str:
    return _date(value, fmt, locale, timezone)


def local_day(value: str | datetime | date, timezone: str) -> date:
    """The shop's calendar day of a stored timestamp (ISO text, UTC) or a date."""
    if isinstance(value, str):
        value = date.fromisoformat(value) if len(value) == 10 else from_iso(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(_zone(timezone)).date()
    return value


@lru_cache(maxsize=32)
def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def _date(value: Any, fmt: str | None, locale: str, timezone: str) -> str:
    from babel.dates import format_date as babel_date
    from babel.dates import format_skeleton

    if isinstance(value, str) and value.strip().startswith("--") and len(value.strip()) == 7:
        text = value.strip()  # a birthday without a year: day and month only
        try:
            moment = date(2000, int(text[2:4]), int(text[5:7]))
        except ValueError:
            raise TypeError(f"date: {value!r} is not a date") from None
        if fmt and "%" in fmt:
            return moment.strftime(fmt)
        return format_skeleton("MMMMd", moment, locale=locale)
    if not isinstance(value, str | datetime | date):
        raise TypeError(f"date: {value!r} is not a date")
    try:
        day = local_day(value.strip() if isinstance(value, str) else value, timezone)
    except ValueError:
        raise TypeError(f"date: {value!r} is not a date") from None
    if fmt and "%" in fmt:
        return day.strftime(fmt)
    return str(babel_date(day, format=fmt or "long", locale=locale))


# --- context ------------------------------------------------------------------------------


def shop_context(config: CampaignConfig) -> dict[str, Any]:
    sender = config.sender
    name, email = parseaddr(sender.from_addr)
    return {
        "name": name or email,
        "email": email,
        "reply_to": sender.reply_to,
        "address": sender.address,
        "locale": config.shop.locale,
        "timezone": config.shop.timezone,
    }


def _days_between(earlier: str | None, today: date, timezone: str) -> int | None:
    if not earlier:
        return None
    return max((today - local_day(earlier, timezone)).days, 0)


def _major(minor: int | None, currency: str) -> float | None:
    if minor is None:
        return None
    return minor / (10 ** minor_digits(currency))


def order_context(
    order: Mapping[str, Any], items: Sequence[Mapping[str, Any]], currency: str
) -> dict[str, Any]:
    """One order as a template sees it, with amounts that add up on the page.

    The export's subtotal, discount, shipping and tax are kept as given. ``adds_up`` says
    whether the items' line totals, less the discount, plus shipping (plus the tax when it is
    added on top rather than included in the prices) make the total; ``tax_included`` says
    which of the two the export's figures show (None without tax). A template shows the
    breakdown only when it adds up, else the items without prices and the total.
    """
    code = order.get("currency") or currency
    lines: list[dict[str, Any]] = []
    for item in items:
        quantity = int(item.get("quantity") or 1)
        price = item.get("price_minor")
        line_minor = None if price is None else quantity * int(price)
        lines.append(
            {
                "name": item.get("name") or item.get("sku") or "item",
                "sku": item.get("sku"),
                "quantity": quantity,
                "price_minor": price,
                "price": _major(price, code),
                "total_minor": line_minor,
                "total": _major(line_minor, code),
            }
        )
    priced = [line["total_minor"] for line in lines]
    items_minor = sum(priced) if priced and None not in priced else None
    total = int(order["total_minor"])
    discount = int(order.get("discount_minor") or 0)
    shipping = int(order.get("shipping_minor") or 0)
    tax = int(order.get("tax_minor") or 0)
    subtotal = order.get("subtotal_minor")
    adds_up, tax_included = False, None
    # exports give the subtotal before the discount (Shopify) or after it (some others)
    fits = subtotal is None or items_minor in (subtotal, subtotal + discount)
    if items_minor is not None and fits:
        before_tax = items_minor - discount + shipping
        if before_tax == total or (tax and before_tax + tax == total):
            adds_up, subtotal = True, items_minor
            tax_included = (before_tax == total) if tax else None
    refunded = int(order.get("refunded_minor") or 0)
    return {
        "order_id": order["order_id"],
        "ordered_at": order["ordered_at"],
        "currency": code,
        "items": lines,
        "subtotal_minor": subtotal,
        "discount_minor": discount,
        "shipping_minor": shipping,
        "tax_minor": tax,
        "tax_included": tax_included,
        "total_minor": total,
        "total": _major(total, code),
        "refunded_minor": refunded,
        "net_minor": max(total - refunded, 0),
        "adds_up": adds_up,
    }


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
    first_order: Mapping[str, Any] | None = None,
    first_items: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """One customer's template context from plain rows (see :func:`load_contexts`)."""
    first = customer.get("first_name")
    last = customer.get("last_name")
    full = " ".join(p for p in (first, last) if p) or None
    currency = (last_order or {}).get("currency") or default_currency
    stats = stats or {}
    orders = int(stats.get("orders") or 0)
    spent_minor = int(stats.get("total_spent_minor") or 0)
    digits = minor_digits(currency)
    email = str(customer["email"])
    timezone = str(shop.get("timezone") or "UTC")
    today = local_day(as_of, timezone)
    # a customer since their first order, or since the platform says they signed up if that
    # was earlier; never since the day retain imported them
    known = [t for t in (stats.get("first_order_at"), customer.get("source_created_at")) if t]
    since = min(known, key=lambda t: from_iso(t)) if known else None
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
            "since": since,
        },
        "metrics": {
            "orders": orders,
            "total_spent_minor": spent_minor,
            "total_spent": spent_minor / (10**digits),
            "average_order_minor": round(spent_minor / orders) if orders else None,
            "average_order": (spent_minor / orders) / (10**digits) if orders else None,
            "first_order_at": stats.get("first_order_at"),
            "last_order_at": stats.get("last_order_at"),
            "days_since_last_order": _days_between(stats.get("last_order_at"), today, timezone),
            "days_since_first_order": _days_between(stats.get("first_order_at"), today, timezone),
        },
        "segment": segment,
        "first_order": None
        if first_order is None
        else order_context(first_order, first_items, currency),
        "last_order": None if last_order is None else order_context(last_order, items, currency),
        "currency": currency,
        "unsubscribe_url": unsubscribe_url(sender, email),
        "shop": dict(shop),
        "today": today.isoformat(),
        "loyalty": None,  # the loyalty program's figures, with a loyalty: section
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
    offers: ProductOffers | None = None,
) -> dict[int, dict[str, Any]]:
    """Template contexts for a batch of customers (by internal id), in a few queries.

    Customers without an e-mail address are left out. ``segments`` optionally maps a
    customer to their segment name (the audience knows it); otherwise ``segment`` is None.
    ``default_currency``: the shop's currency when the caller knows it already (looking it
    up scans every order; a sender asks once per run, not once per batch). ``offers``: the
    run's :class:`ProductOffers` (``recommendations()``, ``replenishment``), else one for
    this batch.
    """
    from retain_cli.campaigns.offers import ProductOffers

    refs = list(dict.fromkeys(int(r) for r in customer_refs))
    if not refs:
        return {}
    as_of_iso = to_iso(as_of)
    customers = store.template_customers(refs)
    stats = {row["customer_ref"]: row for row in store.template_order_stats(refs, as_of_iso)}
    last_orders = {row["customer_ref"]: row for row in store.template_last_orders(refs, as_of_iso)}
    first_orders = {
        row["customer_ref"]: row for row in store.template_first_orders(refs, as_of_iso)
    }
    wanted = {o["order_ref"] for o in (*last_orders.values(), *first_orders.values())}
    items: dict[int, list[dict[str, Any]]] = {}
    for item in store.template_order_items(sorted(wanted)):
        items.setdefault(item["order_ref"], []).append(item)
    default_currency = default_currency or shop_currency(store)
    shop = shop_context(config)
    loyalty: dict[int, dict[str, Any]] = {}
    if config.loyalty is not None:
        from retain_cli.campaigns.loyalty import loyalty_contexts

        loyalty = loyalty_contexts(store, config.loyalty, refs, as_of, default_currency)
    offers = offers or ProductOffers(store, config, as_of)
    offers.batch(refs)
    out: dict[int, dict[str, Any]] = {}
    for customer in customers:
        if not customer.get("email"):
            continue
        ref = customer["customer_ref"]
        order = last_orders.get(ref)
        first = first_orders.get(ref)
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
            first_order=first,
            first_items=items.get(first["order_ref"], []) if first else [],
        )
        out[ref]["loyalty"] = loyalty.get(ref)
        out[ref]["recommendations"] = offers.recommendations_for(ref)
        out[ref]["replenishment"] = None
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
        "subtotal_minor": 3150,
        "discount_minor": 0,
        "shipping_minor": 490,
        "tax_minor": 0,
        "total_minor": 3640,
        "refunded_minor": 0,
    }
    items = [
        {"name": "Sourdough loaf", "sku": "SD-1", "quantity": 2, "price_minor": 750},
        {"name": "Cinnamon buns (box of 4)", "sku": "CB-4", "quantity": 1, "price_minor": 1650},
    ]
    first = {
        "order_id": "#1001",
        "ordered_at": first_at,
        "currency": "USD",
        "subtotal_minor": 2400,
        "discount_minor": 240,
        "shipping_minor": 0,
        "tax_minor": 178,
        "total_minor": 2338,
        "refunded_minor": 0,
    }
    first_items = [{"name": "Birthday cake", "sku": "BC-8", "quantity": 1, "price_minor": 2400}]
    context = customer_context(
        customer,
        stats,
        order,
        items,
        shop=shop_context(config),
        sender=config.sender,
        as_of=moment,
        default_currency="USD",
        segment="at_risk",
        first_order=first,
        first_items=first_items,
    )
    if config.loyalty is not None:
        from retain_cli.campaigns.loyalty import sample_loyalty

        context["loyalty"] = sample_loyalty(config.loyalty, moment)
    context["recommendations"] = _sample_recommendations
    context["replenishment"] = {
        "product": "coffee beans",
        "name": "Coffee beans",
        "sku": "CB-250",
        "last_bought": (moment - timedelta(days=30)).date().isoformat(),
        "last_order_at": to_iso(moment - timedelta(days=30)),
        "times_bought": 3,
        "interval_days": 28,
        "own_interval": True,
        "due": (moment - timedelta(days=2)).date().isoformat(),
    }
    return context


def _sample_recommendations(n: int = 3) -> list[dict[str, Any]]:
    """``recommendations()`` of the sample customer (who bought a sourdough loaf)."""
    sample = {
        "product": "plum jam",
        "name": "Plum jam",
        "sku": "PJ-1",
        "because": "Sourdough loaf",
        "curated": False,
        "together": 38,
        "support": 0.038,
        "confidence": 0.38,
        "lift": 3.1,
        "note": None,
        "reason": "bought Sourdough loaf; 38% of the orders with Sourdough loaf also had "
        "Plum jam, lift 3.1",
    }
    return [sample][: max(n, 0)]
