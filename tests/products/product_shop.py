"""A hand-made shop for the products tests: baskets whose support, confidence and lift are
worked out by hand in the tests.

Thirteen countable baskets (plus one cancelled order that must not count):

    1-3   Sourdough loaf + Plum jam            (ada, bob, cem)
    4     Sourdough loaf + Butter              (dan)  one odd basket: recommends nothing
    5     Sourdough loaf                       (eve)
    6     Plum jam                             (fay)
    7     Coffee beans - 250g                  (ada)
    8     Coffee beans - 1kg + Butter          (bob)
    9     Coffee beans - 250g                  (cem)
    10    Butter                               (dan)
    11-13 Sourdough loaf (no SKU, odd spelling) + Coffee beans - 250g   (gus, hal, ida)
    14    cancelled: Sourdough loaf + Butter   (dan)

orders: Sourdough loaf 8, Plum jam 4, Coffee beans 6, Butter 3 (of 13 baskets).

    loaf -> jam:    together 3, support 3/13, confidence 3/8 = 0.375, lift 0.375 / (4/13)
                    = 1.21875
    jam -> loaf:    confidence 3/4 = 0.75, lift 0.75 / (8/13) = 1.21875
    loaf -> beans:  together 3 but lift (3/8) / (6/13) = 0.8125 <= 1: not a pair
    loaf -> butter: together 1 (< 3): not a pair

Coffee beans are bought again (``REPEATS``): ada every 30 days (gaps 30, 30), bob once after 20
days, cem after 40 then 60 days (median 50): the product's gap is the median of 30, 20 and 50
= 30, its middle half 25 to 40.
"""

from __future__ import annotations

from typing import Any

SKUS = {
    "Sourdough loaf": "SD-1",
    "Plum jam": "PJ-1",
    "Butter": "BU-1",
    "Coffee beans - 250g": "CB-250",
    "Coffee beans - 1kg": "CB-1K",
}
LOAF, JAM, BEANS, BEANS_1KG, BUTTER = (
    "Sourdough loaf",
    "Plum jam",
    "Coffee beans - 250g",
    "Coffee beans - 1kg",
    "Butter",
)
BASKETS: list[tuple[str, str, list[str]]] = [
    ("ada", "2026-09-01", [LOAF, JAM]),
    ("bob", "2026-09-01", [LOAF, JAM]),
    ("cem", "2026-09-01", [LOAF, JAM]),
    ("dan", "2026-09-02", [LOAF, BUTTER]),
    ("eve", "2026-09-02", [LOAF]),
    ("fay", "2026-09-02", [JAM]),
    ("ada", "2026-09-03", [BEANS]),
    ("bob", "2026-09-03", [BEANS_1KG, BUTTER]),
    ("cem", "2026-09-03", [BEANS]),
    ("dan", "2026-09-04", [BUTTER]),
    ("gus", "2026-09-04", ["sourdough  LOAF", BEANS]),
    ("hal", "2026-09-04", ["sourdough  LOAF", BEANS]),
    ("ida", "2026-09-04", ["sourdough  LOAF", BEANS]),
]
# repeat purchases of coffee beans after the baskets above (each a basket of its own)
REPEATS: list[tuple[str, str, list[str]]] = [
    ("ada", "2026-10-03", [BEANS]),
    ("ada", "2026-11-02", [BEANS]),
    ("bob", "2026-09-23", [BEANS_1KG]),
    ("cem", "2026-10-13", [BEANS]),
    ("cem", "2026-12-12", [BEANS]),
]


def add_orders(store: Any, baskets: list[tuple[str, str, list[str]]], *, cancelled: bool = False):
    """Customers (``NAME@example.com``, consenting) and their orders with line items."""
    conn = store.conn
    with store.transaction():
        for name, day, items in baskets:
            email = f"{name}@example.com"
            conn.execute(
                "INSERT OR IGNORE INTO customers (customer_id, email, first_name, "
                "accepts_marketing, source, created_at, updated_at) "
                "VALUES (?, ?, ?, 1, 'test', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
                (email, email, name.title()),
            )
            (ref,) = conn.execute("SELECT id FROM customers WHERE email = ?", (email,)).fetchone()
            (count,) = conn.execute("SELECT count(*) FROM orders").fetchone()
            at = f"{day}T10:00:00Z"
            cursor = conn.execute(
                "INSERT INTO orders (order_key, source, order_id, customer_ref, ordered_at, "
                "currency, total_minor, cancelled_at) VALUES (?, 'test', ?, ?, ?, 'EUR', 1000, ?)",
                (f"test:{count + 1}", f"#{count + 1001}", ref, at, at if cancelled else None),
            )
            for line_no, item in enumerate(items, start=1):
                conn.execute(
                    "INSERT INTO order_items (order_ref, line_no, sku, name, quantity, "
                    "price_minor) VALUES (?, ?, ?, ?, ?, 500)",
                    (cursor.lastrowid, line_no, SKUS.get(item), item, 2 if item == BUTTER else 1),
                )


def make_product_shop(store: Any, *, repeats: bool = False) -> None:
    add_orders(store, BASKETS)
    add_orders(store, [("dan", "2026-09-05", [LOAF, BUTTER])], cancelled=True)
    if repeats:
        add_orders(store, REPEATS)
