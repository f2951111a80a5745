"""The product model on the hand-made baskets (tests/products/product_shop.py): identity,
support, confidence and lift worked out by hand, minimum support, repurchase gaps."""

from __future__ import annotations

from datetime import date

import pytest
from product_shop import make_product_shop

from retain_cli.products.identity import build_catalogue, family, normalise
from retain_cli.products.model import ProductModel, build_model, load_model, median_gap
from retain_cli.products.recommend import day_number, purchases, recommend
from retain_cli.products.replenish import due_items


def names(model: ProductModel) -> dict[str, int]:
    return {name: i for i, name in enumerate(model.catalogue.names)}


def test_family_and_normalised_names():
    assert family("Coffee beans - 1kg") == "Coffee beans"
    assert family("Coffee beans") == "Coffee beans"
    assert family(" - 1kg") == "- 1kg"  # no product before the dash: the name as it is
    assert normalise("  Sourdough   LOAF ") == "sourdough loaf"


def test_one_product_per_sku_or_name_and_per_variant_family():
    catalogue, index = build_catalogue(
        [
            ("CB-250", "Coffee beans - 250g", 5),
            ("CB-1K", "Coffee beans - 1kg", 2),
            ("SD-1", "Sourdough loaf", 4),
            ("", "sourdough  LOAF", 1),
            ("SD-1", "Sourdough loaf (organic)", 1),  # renamed, same SKU
            ("", "", 3),
        ]
    )
    assert catalogue.names == ["Coffee beans", "Sourdough loaf"]
    assert index == [0, 0, 1, 1, 1, -1]
    assert catalogue.skus == [["CB-250", "CB-1K"], ["SD-1"]]
    assert catalogue.keys == ["coffee beans", "sourdough loaf"]
    assert catalogue.find("cb-1k") is None and catalogue.find("CB-1K") == 0
    assert catalogue.find("SOURDOUGH LOAF (organic)") == 1


def test_support_confidence_and_lift_as_worked_out_by_hand(store):
    make_product_shop(store)
    model = load_model(store)
    p = names(model)
    loaf, jam, beans, butter = (
        p[n] for n in ("Sourdough loaf", "Plum jam", "Coffee beans", "Butter")
    )
    assert model.baskets == 13  # the cancelled order does not count
    assert [model.orders[i] for i in (loaf, jam, beans, butter)] == [8, 4, 6, 3]
    assert model.units[butter] == 2 * 3  # two per line
    pairs = {(a, b): together for a, items in model.pairs.items() for b, together in items}
    assert pairs == {(loaf, jam): 3, (jam, loaf): 3}  # beans: lift <= 1; butter: one basket
    figures = model.pair(loaf, jam, 3)
    assert figures["support"] == pytest.approx(3 / 13)
    assert figures["confidence"] == pytest.approx(0.375)
    assert figures["lift"] == pytest.approx(0.375 / (4 / 13)) == pytest.approx(1.21875)
    back = model.pair(jam, loaf, 3)
    assert back["confidence"] == pytest.approx(0.75)
    assert back["lift"] == pytest.approx(1.21875)


def test_the_packed_model_is_reused_until_the_orders_change(store):
    make_product_shop(store)
    first = load_model(store)
    assert store.cached_blob("products")[0].startswith("v1:")
    again = load_model(store)
    assert again.pairs == first.pairs and again.catalogue.names == first.catalogue.names
    from product_shop import add_orders

    add_orders(store, [("fay", "2026-09-06", ["Sourdough loaf", "Plum jam"])])
    assert load_model(store).orders[names(first)["Plum jam"]] == 5


def test_repurchase_gaps_from_customers_who_bought_twice(store):
    make_product_shop(store, repeats=True)
    model = load_model(store)
    beans = names(model)["Coffee beans"]
    assert model.customers[beans] == 6  # ada, bob, cem, gus, hal, ida
    assert model.repeat_customers[beans] == 3
    assert model.repeat_rate(beans) == pytest.approx(0.5)
    assert model.gap_days[beans] == 30  # median of ada 30, bob 20, cem 50
    assert (model.gap_low[beans], model.gap_high[beans]) == (25, 40)
    assert model.gap_days[names(model)["Sourdough loaf"]] is None  # nobody bought it twice


def test_median_gap_counts_distinct_days():
    assert median_gap([10, 10, 40, 100]) == 45.0  # gaps 30 and 60
    assert median_gap([5]) is None


def test_recommend_skips_recent_and_discontinued_products(store):
    make_product_shop(store)
    model = load_model(store)
    p = names(model)
    bought = {p["Plum jam"]: day_number("2026-09-02")}
    today = day_number("2026-09-10")
    found = recommend(model, {}, bought, today)
    assert [r.name for r in found] == ["Sourdough loaf"]
    assert found[0].reason == (
        "bought Plum jam; 75% of the orders with Plum jam also had Sourdough loaf, lift 1.2"
    )
    assert (found[0].together, found[0].confidence, found[0].lift) == (3, 0.75, 1.22)
    # bought the loaf lately: never recommended
    assert recommend(model, {}, {**bought, p["Sourdough loaf"]: today - 10}, today) == []
    # no sale of the loaf in the last 90 days: discontinued
    assert recommend(model, {}, bought, day_number("2026-12-31")) == []


def test_a_customers_due_products(store):
    make_product_shop(store, repeats=True)
    model = load_model(store)
    lines = store.customers_product_lines([1], "2026-12-31T00:00:00Z")  # ada
    assert purchases(model, lines) == {
        names(model)["Sourdough loaf"]: day_number("2026-09-01"),
        names(model)["Plum jam"]: day_number("2026-09-01"),
        names(model)["Coffee beans"]: day_number("2026-11-02"),
    }
    due = due_items(model, lines, lambda stamp: date.fromisoformat(stamp[:10]))
    assert [(d.name, d.due, d.interval_days, d.own_interval) for d in due] == [
        ("Coffee beans", date(2026, 12, 2), 30, True)
    ]
    assert due[0].occurrence == "2026-11-02 coffee beans"


def test_one_odd_basket_recommends_nothing(store):
    from product_shop import add_orders

    add_orders(store, [("ada", "2026-09-01", ["Sourdough loaf", "Plum jam"])])
    model = load_model(store)
    assert model.baskets == 1 and model.pairs == {}
    assert recommend(model, {}, {0: day_number("2026-09-01")}, day_number("2026-09-02")) == []


def test_an_empty_database_has_no_products(store):
    model = load_model(store)
    assert len(model) == 0 and model.baskets == 0


def test_build_model_without_lines():
    import numpy as np

    model = build_model(np.zeros((0, 2), dtype=np.int64), [], np.zeros((0, 3), dtype=np.int64))
    assert len(model) == 0
