"""The catalog snapshot a load run picks from, and its Zipf-skewed picks."""

import random
from collections import Counter

import pytest

from loadtests.catalog import snapshot_from_dict


def _snapshot_data(products: int = 1000) -> dict:
    return {
        "categories": [
            {"slug": "tents", "products": 90, "pages": 4, "brands": ["alpor"]},
            {"slug": "socks", "products": 10, "pages": 1, "brands": []},
        ],
        "products": [
            # Popularity as seeded: 1,000,000 / rank, a Zipf law.
            {"slug": f"p{rank}", "weight": 1_000_000 // rank, "skus": [f"S{rank}"] * (rank % 3)}
            for rank in range(1, products + 1)
        ],
        "search_terms": ["tent", "sock", "lamp"],
    }


def test_picks_follow_popularity():
    # given a Zipf-popular catalog of 1,000 products
    snapshot = snapshot_from_dict(_snapshot_data())
    rng = random.Random(1)

    # when users pick 20,000 times
    picks = Counter(snapshot.products.pick(rng).slug for _ in range(20_000))

    # then the hottest product is picked about 1/H(1000) ~ 13% of the time, far above the tail
    assert 0.11 < picks["p1"] / 20_000 < 0.16
    assert picks["p1"] > 1.5 * picks["p2"] > 0
    assert picks["p1"] > 50 * max(picks["p900"], 1)


def test_only_products_with_stock_are_buyable():
    snapshot = snapshot_from_dict(_snapshot_data(products=9))

    assert {product.slug for product in snapshot.buyable.items} == {
        "p1", "p2", "p4", "p5", "p7", "p8"
    }  # fmt: skip


def test_categories_are_weighted_by_their_product_count():
    snapshot = snapshot_from_dict(_snapshot_data())
    rng = random.Random(2)

    picks = Counter(snapshot.categories.pick(rng).slug for _ in range(5_000))

    assert 0.85 < picks["tents"] / 5_000 < 0.95


def test_an_empty_snapshot_is_refused():
    with pytest.raises(ValueError, match="seed the store first"):
        snapshot_from_dict({"categories": [], "products": [], "search_terms": []})
