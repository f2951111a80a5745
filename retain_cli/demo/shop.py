"""The demo shop's simulation: a Berlin bakery and coffee bar. ``generate_shop`` makes its
customers and orders (:mod:`retain_cli.demo.exports` writes them as Shopify would export them).

How the shop behaves (so that every analysis has something to find):

- Customers arrive over two years, more of them lately (the shop grows), and a few in the
  last three weeks (so welcome and thank-you campaigns have someone to write to). About 8% sign
  up for the newsletter and never order.
- Each buyer orders at their own rate, drawn from a gamma distribution (a few regulars, many
  occasional buyers), and after every order may drop out for good with their own probability
  (beta distributed). That is the BG/NBD story: one-time buyers, loyal regulars and lapsed
  customers all come out of it.
- Demand is seasonal: a December peak (stollen and gingerbread appear), a summer dip, busy
  Saturdays. Orders have one to six lines; some first orders use a WELCOME10 code.
- About 1% of orders are cancelled and 2.5% (partly) refunded; about 30% of customers do not
  accept marketing. Shopify's customers export has no birthday column, so about one in eight
  customers is in a "birthday club" sign-up sheet (``birthday_club.csv``: Email, Birthday,
  some without the year), imported after the customers; two of them have their birthday on
  "today", so the birthday campaign has someone to greet. About 3% of the customers who
  accept marketing have since unsubscribed: they are in ``unsubscribes.csv``, the mailing
  tool's opt-out list, imported as suppressions (no campaign may write to them).
- About 2% more people signed up to the newsletter on the website in the last week and have
  not ordered yet (``newsletter_signups.csv``, with their signup time, imported last): the
  welcome series has someone to write to.

Everything comes from one ``numpy`` generator and one seeded Faker per locale, so the same
seed, customer count and "today" give byte-identical files (with the same Faker version).
Only the e-mail domains reserved for examples are used (example.com, .net, .org, .example).
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from retain_cli.demo.regulars import coffee_regulars, companions, refill_amounts, refill_order
from retain_cli.errors import UsageError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    IntArray = npt.NDArray[np.int64]
    FloatArray = npt.NDArray[np.float64]

HISTORY_DAYS = 730
CURRENCY = "EUR"
VENDOR = "Rosie's Bakery"
EXPORTS_DIR = "exports"
CUSTOMERS_FILE = "customers_export.csv"
ORDERS_FILE = "orders_export_1.csv"
BIRTHDAYS_FILE = "birthday_club.csv"
UNSUBSCRIBES_FILE = "unsubscribes.csv"
SIGNUPS_FILE = "newsletter_signups.csv"
COUPONS_FILE = "winback_codes.csv"  # the win-back campaign's coupon pool
COUPON_POOL = "WINBACK"

CUSTOMER_HEADER = [
    "Customer ID",
    "First Name",
    "Last Name",
    "Email",
    "Accepts Email Marketing",
    "Default Address Company",
    "Default Address Address1",
    "Default Address Address2",
    "Default Address City",
    "Default Address Province Code",
    "Default Address Country Code",
    "Default Address Zip",
    "Default Address Phone",
    "Phone",
    "Accepts SMS Marketing",
    "Total Spent",
    "Total Orders",
    "Note",
    "Tax Exempt",
    "Tags",
]
ORDER_HEADER = [
    "Name",
    "Email",
    "Financial Status",
    "Paid at",
    "Fulfillment Status",
    "Fulfilled at",
    "Accepts Marketing",
    "Currency",
    "Subtotal",
    "Shipping",
    "Taxes",
    "Total",
    "Discount Code",
    "Discount Amount",
    "Shipping Method",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem compare at price",
    "Lineitem sku",
    "Lineitem requires shipping",
    "Lineitem taxable",
    "Lineitem fulfillment status",
    "Billing Name",
    "Billing Street",
    "Billing Address1",
    "Billing Address2",
    "Billing Company",
    "Billing City",
    "Billing Zip",
    "Billing Province",
    "Billing Country",
    "Billing Phone",
    "Shipping Name",
    "Shipping Street",
    "Shipping Address1",
    "Shipping Address2",
    "Shipping Company",
    "Shipping City",
    "Shipping Zip",
    "Shipping Province",
    "Shipping Country",
    "Shipping Phone",
    "Notes",
    "Note Attributes",
    "Cancelled at",
    "Payment Method",
    "Payment Reference",
    "Refunded Amount",
    "Vendor",
    "Outstanding Balance",
    "Employee",
    "Location",
    "Device ID",
    "Id",
    "Tags",
    "Risk Level",
    "Source",
    "Lineitem discount",
    "Tax 1 Name",
    "Tax 1 Value",
    "Tax 2 Name",
    "Tax 2 Value",
    "Tax 3 Name",
    "Tax 3 Value",
    "Tax 4 Name",
    "Tax 4 Value",
    "Tax 5 Name",
    "Tax 5 Value",
    "Phone",
    "Receipt Number",
    "Duties",
    "Billing Province Name",
    "Shipping Province Name",
    "Payment ID",
    "Payment Terms Name",
    "Next Payment Due At",
    "Payment References",
]
ORDER_COLUMN = {name: i for i, name in enumerate(ORDER_HEADER)}

# sku, name, price in cents, weight most of the year, weight from 20 November to 31 December
CATALOGUE: tuple[tuple[str, str, int, float, float], ...] = (
    ("SOUR-01", "Country Sourdough Loaf", 650, 10, 8),
    ("RYE-01", "Rye Sourdough Loaf", 595, 6, 5),
    ("BAG-01", "Baguette", 320, 8, 6),
    ("CRO-01", "Butter Croissant", 280, 10, 8),
    ("PAC-01", "Pain au Chocolat", 310, 8, 6),
    ("CIN-04", "Cinnamon Buns (box of 4)", 1200, 5, 6),
    ("BRW-01", "Chocolate Brownie", 320, 5, 4),
    ("FOC-01", "Rosemary Focaccia", 550, 4, 3),
    ("COF-ESP", "House Espresso Beans - 250g", 1150, 5, 6),
    ("COF-FIL", "Ethiopia Filter Beans 250g", 1350, 3, 4),
    ("GRA-01", "Honey Granola 500g", 890, 3, 3),
    ("CAK-BD", "Birthday Cake (8 inch)", 3200, 1, 1),
    ("MUG-01", "Rosie's Bakery Mug", 1400, 1, 3),
    ("STO-01", "Christmas Stollen", 1800, 0, 12),
    ("GIN-12", "Gingerbread Cookies (12)", 950, 0, 9),
)
WELCOME_CODE = "WELCOME10"
SHIPPING_MINOR = 490
FREE_SHIPPING_FROM_MINOR = 4000
VAT_PERCENT = 7
DOMAINS = ("example.com", "example.net", "example.org", "mail.example", "post.example")
NOTES = (
    "Prefers oat milk",
    "Allergic to nuts",
    "Collects on Saturdays",
    "Ask about the sourdough class",
)
UNSUBSCRIBE_REASONS = ("unsubscribe link", "asked in the shop", "too many e-mails")
# (Faker locale, share of customers)
LOCALES = (("de_DE", 0.6), ("en_GB", 0.25), ("fr_FR", 0.15))


@dataclass(frozen=True)
class Customer:
    customer_id: str
    first_name: str
    last_name: str
    email: str
    accepts_marketing: bool
    company: str
    address1: str
    city: str
    zip: str
    phone: str
    note: str
    birthday: str  # YYYY-MM-DD, --MM-DD when the year was not given, or ""
    unsubscribed: str  # why they left the mailing list since the last Shopify sync, or ""


@dataclass(frozen=True)
class Line:
    sku: str
    name: str
    quantity: int
    price_minor: int


@dataclass(frozen=True)
class Order:
    name: str  # "#1001"
    order_id: str  # Shopify's numeric Id
    customer: int  # index into Shop.customers
    email: str  # as written in the export (a few in another case)
    created_at: datetime  # shop-local wall time, with its UTC offset
    lines: tuple[Line, ...]
    subtotal_minor: int
    discount_code: str
    discount_minor: int
    shipping_minor: int
    tax_minor: int
    total_minor: int
    refunded_minor: int
    financial_status: str
    cancelled_at: datetime | None
    fulfilled_at: datetime | None
    source: str  # web | pos


@dataclass(frozen=True)
class Shop:
    today: date
    customers: list[Customer]
    orders: list[Order]
    tags: list[str]
    signups: list[tuple[Customer, datetime]] = field(default_factory=list)

    @property
    def line_items(self) -> int:
        return sum(len(o.lines) for o in self.orders)


# -- time --------------------------------------------------------------------------------


@functools.cache
def _last_sunday(year: int, month: int) -> date:
    day = date(year, month + 1, 1) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def _berlin_offset(day: date) -> int:
    """Hours ahead of UTC in Berlin on ``day`` (CEST from the last Sunday of March)."""
    summer = _last_sunday(day.year, 3) <= day < _last_sunday(day.year, 10)
    return 2 if summer else 1


def _local(day: date, seconds: int) -> datetime:
    offset = timezone(timedelta(hours=_berlin_offset(day)))
    return datetime(day.year, day.month, day.day, tzinfo=offset) + timedelta(seconds=seconds)


def shopify_time(moment: datetime) -> str:
    """``2025-10-07 09:50:26 +0200``, the way Shopify's exports write times."""
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds()) // 60 if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    m = moment
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d} {m.hour:02d}:{m.minute:02d}:{m.second:02d} "
        f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
    )


def money_text(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


# -- people ------------------------------------------------------------------------------


def _ascii(text: str) -> str:
    text = text.replace("ß", "ss")
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if c.isascii() and (c.isalnum() or c in ".-"))
    return kept.lower()


def _people(n: int, seed: int, today: date, rng: np.random.Generator) -> list[Customer]:
    """``n`` customers with seeded Faker names and addresses (pools, then numpy sampling)."""
    import numpy as np
    from faker import Faker

    locale_of = rng.choice(len(LOCALES), size=n, p=[share for _, share in LOCALES])
    pools: list[tuple[list[str], list[str]]] = []
    for i, (locale, _) in enumerate(LOCALES):
        fake = Faker(locale)
        fake.seed_instance(seed * 1000 + i)
        firsts = sorted({fake.first_name() for _ in range(300)})
        lasts = sorted({fake.last_name() for _ in range(400)})
        pools.append((firsts, lasts))
    place = Faker("de_DE")
    place.seed_instance(seed * 1000 + 99)
    streets = [place.street_address() for _ in range(400)]
    towns = [(place.postcode(), place.city()) for _ in range(150)]
    # most customers live in town: a few Berlin post codes, the rest spread over Germany
    berlin = [(f"{10115 + 2 * k:05d}", "Berlin") for k in range(60)]
    companies = [place.company() for _ in range(40)]

    first_pick = rng.random(n)
    last_pick = rng.random(n)
    street_pick = rng.integers(0, len(streets), n)
    in_berlin = rng.random(n) < 0.7
    berlin_pick = rng.integers(0, len(berlin), n)
    town_pick = rng.integers(0, len(towns), n)
    with_company = rng.random(n) < 0.03
    company_pick = rng.integers(0, len(companies), n)
    domain_pick = rng.integers(0, len(DOMAINS), n)
    email_style = rng.integers(0, 3, n)
    consent = rng.random(n) < 0.7
    with_phone = rng.random(n) < 0.55
    phone_digits = rng.integers(1_000_000, 9_999_999, n)
    with_birthday = rng.random(n) < 0.12
    birth_day = rng.integers(0, 365, n)
    birth_year = rng.integers(1950, 2005, n)
    no_year = rng.random(n) < 0.3
    with_note = rng.random(n) < 0.05
    leaving = rng.random(n) < 0.03
    leave_pick = rng.integers(0, len(UNSUBSCRIBE_REASONS), n)
    note_pick = rng.integers(0, len(NOTES), n)
    # two club members have their birthday today (at most; a tiny shop may have fewer)
    born_today = set(np.flatnonzero(with_birthday)[:2].tolist())
    id_steps = rng.integers(1_000, 90_000, n)

    customers: list[Customer] = []
    used: set[str] = set()
    customer_id = 7283748000000
    for i in range(n):
        firsts, lasts = pools[int(locale_of[i])]
        first = firsts[int(first_pick[i] * len(firsts))]
        last = lasts[int(last_pick[i] * len(lasts))]
        local = [f"{first}.{last}", f"{first[0]}{last}", f"{first}{last[:1]}"][int(email_style[i])]
        local = _ascii(local).strip(".-") or "customer"
        email = f"{local}@{DOMAINS[int(domain_pick[i])]}"
        k = 1
        while email in used:
            k += 1
            email = f"{local}{k}@{DOMAINS[int(domain_pick[i])]}"
        used.add(email)
        postcode, city = berlin[int(berlin_pick[i])] if in_berlin[i] else towns[int(town_pick[i])]
        birthday = ""
        if with_birthday[i]:
            born = date(int(birth_year[i]), 1, 1) + timedelta(days=int(birth_day[i]))
            if i in born_today:
                day = 28 if (today.month, today.day) == (2, 29) else today.day
                born = date(int(birth_year[i]), today.month, day)
            birthday = f"--{born:%m-%d}" if no_year[i] else born.isoformat()
        note = NOTES[int(note_pick[i])] if with_note[i] else ""
        customer_id += int(id_steps[i])
        customers.append(
            Customer(
                customer_id=str(customer_id),
                first_name=first,
                last_name=last,
                email=email,
                accepts_marketing=bool(consent[i]),
                company=companies[int(company_pick[i])] if with_company[i] else "",
                address1=streets[int(street_pick[i])],
                city=city,
                zip=postcode,
                phone=f"+49 30 {int(phone_digits[i])}" if with_phone[i] else "",
                note=note,
                birthday=birthday,
                unsubscribed=(
                    UNSUBSCRIBE_REASONS[int(leave_pick[i])] if consent[i] and leaving[i] else ""
                ),
            )
        )
    return customers


# -- buying ------------------------------------------------------------------------------


def _season(start: date, days: int) -> FloatArray:
    """Relative demand per day: weekday pattern, December peak, summer dip."""
    import numpy as np

    weekday = np.array([0.8, 0.9, 0.9, 1.0, 1.2, 1.5, 0.7])
    day_numbers = np.arange(days)
    weekdays = (start.weekday() + day_numbers) % 7
    doy = np.array([(start + timedelta(days=int(d))).timetuple().tm_yday for d in day_numbers])
    to_christmas = np.minimum(np.abs(doy - 352), 365 - np.abs(doy - 352))
    yearly = 1.0 + 1.1 * np.exp(-((to_christmas / 10.0) ** 2))
    yearly -= 0.25 * np.exp(-(((doy - 215) / 20.0) ** 2))
    result: FloatArray = weekday[weekdays] * yearly
    return result


def _purchases(n: int, rng: np.random.Generator, season: FloatArray) -> tuple[IntArray, FloatArray]:
    """(customer index, time in days) of every purchase: BG/NBD-style, thinned by season."""
    import numpy as np

    horizon = float(len(season))
    peak = float(season.max())
    # arrivals: spread over the history, more lately (growth), some in the last three weeks
    kind = rng.random(n)
    first = np.where(
        kind < 0.04,
        horizon - rng.uniform(0.0, 21.0, n),
        np.where(kind < 0.4, rng.uniform(0.0, horizon, n), horizon * rng.beta(1.6, 1.0, n)),
    )
    first = np.minimum(first, horizon - 1e-6)
    rate = np.clip(rng.gamma(0.75, 1.0 / 22.0, n), 1e-6, 0.35)  # purchases per day
    dropout = rng.beta(1.1, 3.5, n)  # chance of leaving for good after each purchase
    max_orders = 150

    owners = [np.arange(n)]
    times = [first]
    count = np.ones(n, dtype=np.int64)
    t = first.copy()
    active = np.flatnonzero(rng.random(n) >= dropout)
    while active.size:
        t[active] += rng.exponential(1.0, active.size) / (rate[active] * peak)
        active = active[t[active] < horizon]
        accept = rng.random(active.size) < season[t[active].astype(np.int64)] / peak
        buyers = active[accept]
        owners.append(buyers)
        times.append(t[buyers].copy())
        count[buyers] += 1
        leaving = np.zeros(n, dtype=bool)
        leaving[buyers[rng.random(buyers.size) < dropout[buyers]]] = True
        leaving[count >= max_orders] = True
        active = active[~leaving[active]]
    return np.concatenate(owners).astype(np.int64), np.concatenate(times)


def generate_shop(customers: int, seed: int, today: date) -> Shop:
    """Simulate ``customers`` customers and their orders up to the day before ``today``."""
    import numpy as np

    if customers < 1:
        raise UsageError("--customers must be at least 1")
    rng = np.random.default_rng(seed)
    n_signups = max(2, round(customers * 0.02))
    everyone = _people(customers + n_signups, seed, today, rng)
    people = everyone[:customers]
    # newsletter sign-ups of the last week who have not ordered yet (welcome campaign)
    signup_days = rng.integers(1, 8, n_signups)
    signup_seconds = rng.integers(8 * 3600, 22 * 3600, n_signups)
    signups = [
        (
            replace(person, accepts_marketing=True, unsubscribed=""),
            _local(today - timedelta(days=int(signup_days[k])), int(signup_seconds[k])),
        )
        for k, person in enumerate(everyone[customers:])
    ]
    start = today - timedelta(days=HISTORY_DAYS)
    season = _season(start, HISTORY_DAYS)

    buyers = np.flatnonzero(rng.random(customers) >= 0.08)
    owner_pos, when = _purchases(buyers.size, rng, season)
    owner = buyers[owner_pos]
    day = when.astype(np.int64)
    # opening hours 07:00-19:00, busier in the morning
    seconds = (7 * 3600 + rng.beta(1.4, 2.0, when.size) * 12 * 3600).astype(np.int64)
    order = np.lexsort((owner, seconds, day))
    owner, day, seconds = owner[order], day[order], seconds[order]
    n_orders = owner.size

    is_first = np.zeros(n_orders, dtype=bool)
    is_first[np.unique(owner, return_index=True)[1]] = True  # each customer's first order

    n_lines = 1 + np.minimum(rng.poisson(0.9, n_orders), 5)
    total_lines = int(n_lines.sum())
    normal = np.array([p[3] for p in CATALOGUE], dtype=float)
    festive = np.array([p[4] for p in CATALOGUE], dtype=float)
    pick_normal = rng.choice(len(CATALOGUE), total_lines, p=normal / normal.sum())
    pick_festive = rng.choice(len(CATALOGUE), total_lines, p=festive / festive.sum())
    extra_qty = np.where(rng.random(total_lines) < 0.25, rng.integers(1, 4, total_lines), 0)
    welcome = rng.random(n_orders) < 0.35
    shipped = rng.random(n_orders) < 0.15
    from_web = rng.random(n_orders) < 0.6
    cancel = rng.random(n_orders) < 0.012
    refund = rng.random(n_orders) < 0.025
    refund_full = rng.random(n_orders) < 0.4
    hours_later = rng.uniform(0.5, 30.0, n_orders)
    odd_case = rng.random(n_orders) < 0.02
    order_id_steps = rng.integers(10_000, 5_000_000, n_orders)

    # the products bought together and the coffee regulars (retain_cli/demo/regulars.py)
    extra = np.random.default_rng([seed, 15])
    reachable = {i: p.accepts_marketing and not p.unsubscribed for i, p in enumerate(people)}
    beans = next(p[:3] for p in CATALOGUE if p[0] == "COF-ESP")
    refills = coffee_regulars(owner, day, reachable, beans, HISTORY_DAYS, extra)
    sequence = sorted(
        [(int(day[k]), int(seconds[k]), 0, k) for k in range(n_orders)]
        + [(d, s, 1, i) for i, (d, s, _, _) in enumerate(refills)]
    )

    orders: list[Order] = []
    line_at = 0
    order_id = 5829384756123
    yesterday_end = _local(today, 0)
    for position, (_, _, kind, k) in enumerate(sequence):
        if kind:
            order_id += int(extra.integers(10_000, 5_000_000))
            at, sku, name, price = refill_order(refills[k], start, _local)
            fulfilled = at + timedelta(hours=2)
            orders.append(
                Order(
                    **{
                        "name": f"#{1001 + position}",
                        "order_id": str(order_id),
                        "customer": refills[k][2],
                        "email": people[refills[k][2]].email,
                        "created_at": at,
                        "lines": (Line(sku, name, 1, price),),
                        **refill_amounts(price, VAT_PERCENT),
                        "fulfilled_at": fulfilled if fulfilled < yesterday_end else None,
                    }
                )
            )
            continue
        c = int(owner[k])
        d = start + timedelta(days=int(day[k]))
        created = _local(d, int(seconds[k]))
        festive_day = (d.month == 11 and d.day >= 20) or d.month == 12
        picks = pick_festive if festive_day else pick_normal
        merged: dict[int, int] = {}
        for j in range(line_at, line_at + int(n_lines[k])):
            product = int(picks[j])
            merged[product] = merged.get(product, 0) + 1 + int(extra_qty[j])
        line_at += int(n_lines[k])
        lines = tuple(
            Line(CATALOGUE[p][0], CATALOGUE[p][1], q, CATALOGUE[p][2]) for p, q in merged.items()
        ) + tuple(Line(*line) for line in companions([CATALOGUE[p][0] for p in merged], extra))
        subtotal = sum(line.quantity * line.price_minor for line in lines)
        code = WELCOME_CODE if is_first[k] and welcome[k] else ""
        discount = round(subtotal / 10) if code else 0
        shipping = SHIPPING_MINOR if shipped[k] and subtotal < FREE_SHIPPING_FROM_MINOR else 0
        total = subtotal - discount + shipping
        tax = round(total * VAT_PERCENT / (100 + VAT_PERCENT))
        later = created + timedelta(hours=float(hours_later[k]))
        cancelled_at = None
        refunded = 0
        status = "paid"
        if cancel[k]:
            cancelled_at = min(later, yesterday_end - timedelta(seconds=1))
            status = "voided"
        elif refund[k]:
            if refund_full[k]:
                refunded, status = total, "refunded"
            else:
                refunded = min(lines[0].price_minor, total)
                status = "partially_refunded"
        fulfilled_at = None
        if cancelled_at is None and later < yesterday_end:
            fulfilled_at = created + timedelta(hours=float(hours_later[k]) / 10)
        email = people[c].email
        if odd_case[k]:
            email = email.capitalize() if k % 2 else f" {email.upper()}"
        order_id += int(order_id_steps[k])
        orders.append(
            Order(
                name=f"#{1001 + position}",
                order_id=str(order_id),
                customer=c,
                email=email,
                created_at=created,
                lines=lines,
                subtotal_minor=subtotal,
                discount_code=code,
                discount_minor=discount,
                shipping_minor=shipping,
                tax_minor=tax,
                total_minor=total,
                refunded_minor=refunded,
                financial_status=status,
                cancelled_at=cancelled_at,
                fulfilled_at=fulfilled_at,
                source="web" if from_web[k] or shipping else "pos",
            )
        )

    spent = np.zeros(customers, dtype=np.int64)
    for o in orders:
        if o.cancelled_at is None:
            spent[o.customer] += max(o.total_minor - o.refunded_minor, 0)
    vip_from = float(np.quantile(spent[spent > 0], 0.95)) if (spent > 0).any() else 0.0
    tags = []
    for i, person in enumerate(people):
        labels = []
        if spent[i] > 0 and spent[i] >= vip_from:
            labels.append("vip")
        if person.accepts_marketing:
            labels.append("newsletter")
        if person.company:
            labels.append("wholesale")
        tags.append(", ".join(labels))
    return Shop(today=today, customers=people, orders=orders, tags=tags, signups=signups)


# -- writing the exports -----------------------------------------------------------------


def utc_text(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
