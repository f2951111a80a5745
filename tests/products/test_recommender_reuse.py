"""One ``Recommender`` serves a whole send: its per-run caches (each product's selling
partners, each suggestion made once) give every customer what ``recommend`` alone gives,
and a packed model's pairs, unpacked per product on first read, equal the built ones."""

from __future__ import annotations

import random

from product_shop import make_product_shop

from retain_cli.products.model import ProductModel, build_model, load_model
from retain_cli.products.recommend import Recommender, day_number, recommend


def test_a_shared_recommender_answers_as_recommend_does(store):
    make_product_shop(store)
    built = build_model(*store.product_line_arrays())
    load_model(store)  # packs it
    packed = load_model(store)
    assert dict(packed.pairs) == built.pairs and packed.pairs.get(-1) is None
    assert ProductModel.unpack(packed.pack()).pairs == built.pairs
    today = day_number("2026-09-10")
    shared = Recommender(packed, {}, today)
    rng = random.Random(3)
    suggested = 0
    products = range(len(built))
    for _ in range(60):
        bought = {p: today - rng.randint(0, 400) for p in rng.sample(products, 2)}
        n = rng.randint(0, 4)
        alone = recommend(built, {}, bought, today, n)
        assert shared(bought, n) == alone
        assert shared(bought, n) == alone  # the made suggestions, reused
        suggested += bool(alone)
    assert shared({}, 3) == [] and suggested > 5
