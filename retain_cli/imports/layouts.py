"""Export layouts: which columns of which platform's export mean what, and detecting them.

A layout maps retain's *fields* (``email``, ``date``, ``amount`` ...) to the column headers a
platform writes. Headers are compared after :func:`header_key` (case, spaces, underscores and
dashes do not matter). ``--map FIELD=COLUMN`` uses the same field names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Literal

Kind = Literal["customers", "orders", "suppressions"]

#: how each field's values are read (see importer normalisers)
FIELD_TYPES: dict[str, str] = {
    # shared
    "email": "email",
    "customer_id": "id",
    "first_name": "text",
    "last_name": "text",
    "name": "text",
    "accepts_marketing": "consent",
    # customers
    "phone": "text",
    "company": "text",
    "address1": "text",
    "address2": "text",
    "city": "text",
    "province": "text",
    "country": "text",
    "zip": "zip",
    "birthday": "birthday",
    "tags": "text",
    "note": "text",
    "created_at": "date",
    # orders
    "order_id": "id",
    "date": "date",
    "amount": "money",
    "currency": "currency",
    "subtotal": "money",
    "shipping": "money",
    "tax": "money",
    "discount": "money",
    "discount_code": "text",
    "refunded": "money",
    "status": "text",
    "cancelled": "cancelled",
    "captured": "bool",
    "mode": "text",
    "item_name": "text",
    "item_sku": "text",
    "item_quantity": "int",
    "item_price": "money",
    "time": "time",
    "time_zone": "zone",
    "event": "text",
    # suppressions
    "reason": "text",
}

CUSTOMER_FIELDS = (
    "customer_id",
    "email",
    "first_name",
    "last_name",
    "name",
    "phone",
    "company",
    "address1",
    "address2",
    "city",
    "province",
    "country",
    "zip",
    "birthday",
    "tags",
    "note",
    "accepts_marketing",
    "created_at",
)
ORDER_FIELDS = (
    "order_id",
    "customer_id",
    "email",
    "name",
    "first_name",
    "last_name",
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
    "captured",
    "mode",
    "item_name",
    "item_sku",
    "item_quantity",
    "item_price",
    "time",
    "time_zone",
    "event",
)
SUPPRESSION_FIELDS = ("email", "reason")

FIELDS_BY_KIND: dict[str, tuple[str, ...]] = {
    "customers": CUSTOMER_FIELDS,
    "orders": ORDER_FIELDS,
    "suppressions": SUPPRESSION_FIELDS,
}

_HEADER_JUNK = re.compile(r"[\s_\-]+")


def header_key(header: str) -> str:
    """``' Customer_E-mail '`` -> ``'customer e mail'``: how headers are compared."""
    return _HEADER_JUNK.sub(" ", header.replace("\ufeff", "").strip().lower()).strip()


@dataclass(frozen=True)
class Layout:
    """One export layout.

    ``columns`` maps a field to the headers (any one of them) it may appear under;
    ``signature`` are headers that must all be present for the layout to be detected and
    ``excludes`` headers that must not be. ``required`` fields must be found (or mapped);
    ``one_of`` lists groups of which at least one field must be found.
    """

    name: str
    kind: Kind
    platform: str
    label: str
    columns: Mapping[str, tuple[str, ...]]
    signature: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()
    utc_fields: frozenset[str] = field(default_factory=frozenset)
    #: values of the ``event`` field (lower case) that make a row a refund of the payment
    #: it names (Square): its amounts are negative, and it raises that order's refunded
    #: amount instead of being an order
    refund_events: frozenset[str] = field(default_factory=frozenset)
    #: the ``amount`` column is net of tax: an order's total is amount + tax (Square's Net
    #: Sales + Tax; tips are left out)
    amount_plus_tax: bool = False
    #: line-item rows carry their own share of the order's amounts, summed per order (Square
    #: item details), instead of the order's totals on its first row (Shopify); their
    #: ``item_price`` is the line's total, divided by its quantity for the unit price
    item_amounts: bool = False

    @property
    def fields(self) -> tuple[str, ...]:
        return FIELDS_BY_KIND[self.kind]

    def matches(self, keys: Iterable[str]) -> bool:
        present = set(keys)
        return (
            bool(self.signature)
            and all(h in present for h in self.signature)
            and not any(h in present for h in self.excludes)
        )


def _cols(**columns: str | tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for name, headers in columns.items():
        if isinstance(headers, str):
            headers = (headers,)
        out[name] = tuple(header_key(h) for h in headers)
    return out


_GENERIC_EMAIL = (
    "email",
    "e-mail",
    "email address",
    "e-mail address",
    "customer email",
    "mail",
    "emailaddress",
    "billing email",
)
_GENERIC_NAMES = {
    "first_name": ("first name", "firstname", "given name", "forename"),
    "last_name": ("last name", "lastname", "surname", "family name"),
    "name": ("name", "customer name", "full name", "billing name", "customer"),
}
_GENERIC_CONSENT = (
    "accepts marketing",
    "accepts email marketing",
    "marketing consent",
    "consent",
    "email consent",
    "newsletter",
    "subscribed",
    "email marketing",
    "opt in",
    "marketing opt in",
    "email subscription status",
)

SHOPIFY_CUSTOMERS = Layout(
    name="shopify_customers",
    kind="customers",
    platform="shopify",
    label="Shopify customers",
    signature=("customer id", "email", "accepts email marketing"),
    columns=_cols(
        customer_id="Customer ID",
        first_name="First Name",
        last_name="Last Name",
        email="Email",
        accepts_marketing="Accepts Email Marketing",
        company=("Default Address Company", "Company"),
        address1=("Default Address Address1", "Address1"),
        address2=("Default Address Address2", "Address2"),
        city=("Default Address City", "City"),
        province=("Default Address Province Code", "Province Code", "Province"),
        country=("Default Address Country Code", "Country Code", "Country"),
        zip=("Default Address Zip", "Zip"),
        phone=("Phone", "Default Address Phone"),
        note="Note",
        tags="Tags",
        created_at=("Created At",),
    ),
    one_of=(("customer_id", "email"),),
)

SHOPIFY_CUSTOMERS_LEGACY = Layout(
    name="shopify_customers_legacy",
    kind="customers",
    platform="shopify",
    label="Shopify customers (legacy layout)",
    signature=("first name", "email", "accepts marketing"),
    excludes=("customer id", "lineitem name", "name"),
    columns=_cols(
        first_name="First Name",
        last_name="Last Name",
        email="Email",
        accepts_marketing="Accepts Marketing",
        company="Company",
        address1="Address1",
        address2="Address2",
        city="City",
        province=("Province Code", "Province"),
        country=("Country Code", "Country"),
        zip="Zip",
        phone="Phone",
        note="Note",
        tags="Tags",
    ),
    required=("email",),
)

SQUARE_CUSTOMERS = Layout(
    name="square_customers",
    kind="customers",
    platform="square",
    label="Square customers",
    signature=("square customer id",),
    columns=_cols(
        customer_id="Square Customer ID",
        first_name="First Name",
        last_name="Last Name",
        email=("Email Address", "Email"),
        phone="Phone Number",
        company="Company Name",
        address1="Street Address 1",
        address2="Street Address 2",
        city="City",
        province="State",
        zip="Postal Code",
        birthday="Birthday",
        note="Memo",
        created_at=("Creation Date", "First Visit"),
        accepts_marketing="Email Subscription Status",
    ),
    one_of=(("customer_id", "email"),),
)

WOOCOMMERCE_CUSTOMERS = Layout(
    name="woocommerce_customers",
    kind="customers",
    platform="woocommerce",
    label="WooCommerce customers",
    signature=("username", "date registered", "email"),
    columns=_cols(
        name="Name",
        email="Email",
        created_at="Date registered",
        country=("Country / Region", "Country"),
        city="City",
        province=("Region", "State"),
        zip=("Postal code", "Postcode"),
    ),
    required=("email",),
)

GENERIC_CUSTOMERS = Layout(
    name="generic_customers",
    kind="customers",
    platform="generic",
    label="generic customers",
    columns=_cols(
        customer_id=("customer id", "customer number", "client id", "id"),
        email=_GENERIC_EMAIL,
        phone=("phone", "phone number", "mobile", "telephone", "tel"),
        company=("company", "company name", "organisation", "organization"),
        address1=("address1", "address 1", "address", "street", "street address"),
        address2=("address2", "address 2"),
        city=("city", "town"),
        province=("province", "province code", "state", "state code", "region"),
        country=("country", "country code"),
        zip=("zip", "zip code", "postal code", "postcode", "post code"),
        birthday=("birthday", "birth date", "date of birth", "dob"),
        tags=("tags", "tag"),
        note=("note", "notes", "memo", "comment"),
        accepts_marketing=_GENERIC_CONSENT,
        created_at=("created at", "created", "signup date", "signed up", "date registered"),
        **_GENERIC_NAMES,
    ),
    required=("email",),
)

SHOPIFY_ORDERS = Layout(
    name="shopify_orders",
    kind="orders",
    platform="shopify",
    label="Shopify orders",
    signature=("name", "lineitem name", "created at", "total"),
    columns=_cols(
        order_id="Name",
        email="Email",
        status="Financial Status",
        accepts_marketing="Accepts Marketing",
        currency="Currency",
        subtotal="Subtotal",
        shipping="Shipping",
        tax="Taxes",
        amount="Total",
        discount="Discount Amount",
        discount_code="Discount Code",
        date="Created at",
        item_quantity="Lineitem quantity",
        item_name="Lineitem name",
        item_price="Lineitem price",
        item_sku="Lineitem sku",
        name="Billing Name",
        cancelled="Cancelled at",
        refunded="Refunded Amount",
    ),
    required=("order_id", "date", "amount", "email"),
)

STRIPE_PAYMENTS = Layout(
    name="stripe_payments",
    kind="orders",
    platform="stripe",
    label="Stripe payments",
    signature=("id", "amount", "amount refunded", "captured"),
    columns=_cols(
        order_id="id",
        date=("Created date (UTC)", "Created (UTC)", "Created"),
        amount="Amount",
        refunded="Amount Refunded",
        currency="Currency",
        status="Status",
        captured="Captured",
        mode="Mode",
        customer_id="Customer ID",
        email=("Customer Email", "Email"),
        name="Customer Description",
    ),
    required=("order_id", "date", "amount"),
    one_of=(("customer_id", "email"),),
    utc_fields=frozenset({"date"}),
)

_SQUARE_SALE: dict[str, str | tuple[str, ...]] = {
    "order_id": ("Payment ID", "Transaction ID"),
    "date": "Date",
    "time": "Time",
    "time_zone": "Time Zone",
    "amount": "Net Sales",
    "tax": "Tax",
    "discount": "Discounts",
    "customer_id": "Customer ID",
    "name": "Customer Name",
    "event": "Event Type",
}

#: what Square's two sales exports share (see retain_cli.imports.payments)
_square_sales = partial(
    Layout,
    kind="orders",
    platform="square",
    required=("order_id", "date", "amount"),
    refund_events=frozenset({"refund"}),
    amount_plus_tax=True,
)

SQUARE_TRANSACTIONS = _square_sales(
    name="square_transactions",
    label="Square transactions",
    signature=("payment id", "net sales", "total collected", "event type"),
    columns=_cols(**_SQUARE_SALE),
)

SQUARE_ITEMS = _square_sales(
    name="square_items",
    label="Square item details",
    signature=("payment id", "net sales", "item", "qty", "event type"),
    excludes=("total collected",),
    columns=_cols(
        **_SQUARE_SALE,
        item_name="Item",
        item_sku="SKU",
        item_quantity="Qty",
        item_price="Gross Sales",
    ),
    item_amounts=True,
)

GENERIC_ORDERS = Layout(
    name="generic_orders",
    kind="orders",
    platform="generic",
    label="generic orders",
    columns=_cols(
        order_id=(
            "order id",
            "order",
            "order number",
            "order no",
            "order #",
            "order nr",
            "invoice",
            "invoice number",
            "invoice id",
            "transaction id",
            "id",
        ),
        customer_id=("customer id", "customer number", "client id"),
        email=_GENERIC_EMAIL,
        date=(
            "date",
            "order date",
            "ordered at",
            "created at",
            "created",
            "purchase date",
            "transaction date",
            "timestamp",
            "datetime",
            "paid at",
            "time",
        ),
        amount=(
            "amount",
            "total",
            "order total",
            "total amount",
            "grand total",
            "order amount",
            "total price",
            "revenue",
            "sales",
            "value",
            "price",
        ),
        currency=("currency", "currency code"),
        subtotal=("subtotal", "sub total"),
        shipping=("shipping", "shipping amount"),
        tax=("tax", "taxes", "vat"),
        discount=("discount", "discount amount", "discounts"),
        discount_code=("discount code", "coupon", "coupon code", "promo code", "voucher code"),
        refunded=("refunded", "refunded amount", "amount refunded", "refund", "refunds"),
        status=("status", "order status", "financial status", "payment status"),
        cancelled=("cancelled at", "canceled at", "cancelled", "canceled", "cancelled date"),
        accepts_marketing=_GENERIC_CONSENT,
        **_GENERIC_NAMES,
    ),
    required=("date", "amount"),
    one_of=(("email", "customer_id"),),
)

SUPPRESSIONS = Layout(
    name="suppressions",
    kind="suppressions",
    platform="import",
    label="opt-out list",
    columns=_cols(
        email=(*_GENERIC_EMAIL, "address", "unsubscribed", "suppressed"),
        reason=("reason", "note", "notes", "comment", "why"),
    ),
    required=("email",),
)

LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        SHOPIFY_CUSTOMERS,
        SHOPIFY_CUSTOMERS_LEGACY,
        SQUARE_CUSTOMERS,
        WOOCOMMERCE_CUSTOMERS,
        GENERIC_CUSTOMERS,
        SHOPIFY_ORDERS,
        STRIPE_PAYMENTS,
        SQUARE_TRANSACTIONS,
        SQUARE_ITEMS,
        GENERIC_ORDERS,
        SUPPRESSIONS,
    )
}
GENERIC_BY_KIND: dict[str, Layout] = {
    "customers": GENERIC_CUSTOMERS,
    "orders": GENERIC_ORDERS,
    "suppressions": SUPPRESSIONS,
}


def detect(keys: Iterable[str], kind: Kind) -> tuple[Layout, Layout | None]:
    """The layout for a header (as :func:`header_key` values) and an import kind.

    Returns ``(layout, other)``: ``other`` is a specific layout of a *different* kind that
    the header matches better (so the caller can say "this looks like Shopify orders").
    """
    keys = list(keys)
    other: Layout | None = None
    for layout in LAYOUTS.values():
        if layout.matches(keys):
            if layout.kind == kind:
                return layout, None
            other = other or layout
    return GENERIC_BY_KIND[kind], other


def layout_names(kind: Kind | None = None) -> list[str]:
    return [name for name, layout in LAYOUTS.items() if kind is None or layout.kind == kind]
