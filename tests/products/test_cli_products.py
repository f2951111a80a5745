"""``retain products`` and ``retain recommend CUSTOMER`` through the CLI, on the hand-made
baskets (tests/products/product_shop.py), and the shop's own pairs in products.yaml."""

from __future__ import annotations

import json

from product_shop import make_product_shop

from retain_cli.store import Store

AS_OF = "2026-09-10"


def shop(db_path, *, repeats: bool = False) -> None:
    with Store.open(db_path) as store:
        make_product_shop(store, repeats=repeats)


def test_products_lists_best_sellers_with_repeat_rate_and_gap(cli, db_path, monkeypatch):
    shop(db_path, repeats=True)
    result = cli("products", "-f", "json")
    assert result.exit_code == 0, result.output
    rows = {row["product"]: row for row in json.loads(result.stdout)}
    assert list(rows) == ["Coffee beans", "Sourdough loaf", "Plum jam", "Butter"]
    beans = rows["Coffee beans"]
    assert beans == {
        "product": "Coffee beans",
        "sku": "CB-250, CB-1K",
        "orders": 11,
        "units": 11,
        "customers": 6,
        "repeat_rate": "50%",
        "gap_days": 30,
        "gap_spread": "25-40",
        "repeat_customers": 3,
        "last_sold": "2026-12-12",
    }
    assert rows["Butter"]["units"] == 6 and rows["Butter"]["gap_days"] is None
    monkeypatch.setenv("COLUMNS", "80")
    table = cli("products")
    assert table.exit_code == 0
    assert table.stdout.splitlines()[0] == "4 best sellers of 18 orders with products"
    assert "Coffee beans" in table.stdout and "25-40" in table.stdout
    assert max(len(line) for line in table.stdout.splitlines()) <= 80


def test_products_without_lines_says_how_to_get_them(cli, db_path):
    Store.open(db_path).close()
    result = cli("products")
    assert result.exit_code == 0
    assert result.stdout == (
        "No order lines yet: import orders with their line items (retain import orders).\n"
    )


def test_recommend_says_what_and_why(cli, db_path):
    shop(db_path)
    result = cli("recommend", "fay@example.com", "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "fay@example.com bought Plum jam (2026-09-02)\n"
        "Recommend:\n"
        "  1. Sourdough loaf: bought Plum jam; 75% of the orders with Plum jam also had "
        "Sourdough loaf, lift 1.2\n"
    )
    data = json.loads(cli("recommend", "fay@example.com", "--as-of", AS_OF, "-f", "json").stdout)
    assert data["recommendations"][0]["confidence"] == 0.75
    assert data["recommendations"][0]["together"] == 3
    # by the end of the year nothing has sold for 90 days: nothing to recommend
    nothing = cli("recommend", "fay@example.com", "--as-of", "2026-12-31")
    assert "Nothing to recommend" in nothing.stdout


def test_recommend_shows_the_product_due_again(cli, db_path):
    shop(db_path, repeats=True)
    result = cli("recommend", "ada@example.com", "--as-of", "2026-11-20")
    assert result.exit_code == 0, result.output
    assert (
        "Due again: Coffee beans on 2026-12-02 (bought 2026-11-02, every 30 days: their own "
        "interval)" in " ".join(result.stdout.split())
    )


def test_the_shops_own_pairs_come_first(cli, db_path, tmp_path):
    shop(db_path)
    (tmp_path / "products.yaml").write_text(
        "pairs:\n  - bought: SD-1\n    recommend: [Butter]\n    note: for the weekend\n"
    )
    result = cli("recommend", "eve@example.com", "--as-of", AS_OF, "-f", "json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)["recommendations"]
    assert [(r["name"], r["curated"]) for r in found] == [("Butter", True), ("Plum jam", False)]
    assert found[0]["reason"] == (
        "bought Sourdough loaf; the shop pairs Butter with it (for the weekend)"
    )
    assert found[1]["reason"] == (
        "bought Sourdough loaf; 38% of the orders with Sourdough loaf also had Plum jam, lift 1.2"
    )


def test_a_typo_in_products_yaml_names_file_line_and_key(cli, db_path, tmp_path):
    shop(db_path)
    (tmp_path / "products.yaml").write_text(
        "pairs:\n  - bought: Sourdough loaf\n    recommend: [Buter]\n"
    )
    result = cli("recommend", "eve@example.com", "--as-of", AS_OF)
    assert result.exit_code == 1
    path = tmp_path / "products.yaml"
    assert result.stderr == (
        f"Error: {path} line 3: key 'pairs[1].recommend': no product 'Buter' in the "
        "orders; did you mean 'Butter'? see 'retain products' for the names\n"
    )
    (tmp_path / "products.yaml").write_text("pairs:\n  - bought: Butter\n    recomend: Jam\n")
    result = cli("recommend", "eve@example.com", "--as-of", AS_OF)
    assert result.stderr == (
        f"Error: {path} line 3: key 'pairs[1].recomend': unknown key; did you mean "
        "'recommend'? allowed: bought, recommend, note\n"
    )
    (tmp_path / "products.yaml").write_text("pairs:\n  - bought: [Butter\n")
    result = cli("recommend", "eve@example.com", "--as-of", AS_OF)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {path} line ")
    assert "not valid YAML" in result.stderr


def test_recommend_for_an_unknown_customer_is_an_error(cli, db_path):
    shop(db_path)
    result = cli("recommend", "zed@example.com")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no customer with e-mail or id 'zed@example.com'")
