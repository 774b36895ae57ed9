from collections import Counter
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Brand, Category, Product, Variant
from inventory.models import Stock, StockMovement
from pricing.models import Coupon, Price, Promotion


def seed(products=200, seed=7, *extra):
    out = StringIO()
    call_command("seed_store", "--products", str(products), "--seed", str(seed), *extra, stdout=out)
    return out.getvalue()


def snapshot():
    return (
        list(Product.objects.order_by("slug").values_list("slug", "popularity", "brand__slug")),
        list(Variant.objects.order_by("sku").values_list("sku", "attributes")),
        sorted(Price.objects.values_list("variant__sku", "price_list__code", "amount")),
        sorted(Stock.objects.values_list("variant__sku", "on_hand")),
    )


def test_seed_builds_a_realistic_store(db):
    output = seed(products=300)

    assert "Seeded 300 products" in output
    assert 45 <= Category.objects.count() <= 60
    assert Category.objects.filter(depth=2).exists()
    assert Product.objects.count() == 300
    variants_per_product = Counter(
        Product.objects.values_list("variants__product_id", flat=True)
    ).values()
    assert min(variants_per_product) >= 1
    assert max(variants_per_product) <= 5
    assert Price.objects.filter(price_list__code="base").count() == Variant.objects.count()
    assert Promotion.objects.exists()
    assert Coupon.objects.filter(code="WELCOME10").exists()
    # Every unit in stock came in through the ledger.
    assert sum(Stock.objects.values_list("on_hand", flat=True)) == sum(
        StockMovement.objects.values_list("on_hand_delta", flat=True)
    )


def test_popularity_is_zipf_skewed(db):
    seed(products=500)

    popularity = sorted(Product.objects.values_list("popularity", flat=True), reverse=True)
    top_share = sum(popularity[:25]) / sum(popularity)

    # The top 5% of a Zipf(1) catalog of 500 draw about 55% of demand.
    assert top_share > 0.5


def empty_the_store():
    for model in (StockMovement, Stock, Price, Promotion, Coupon, Product, Brand):
        model.objects.all().delete()
    for depth in (2, 1, 0):
        Category.objects.filter(depth=depth).delete()


def test_same_seed_gives_the_same_store(db):
    seed(products=120, seed=3)
    first = snapshot()
    empty_the_store()

    seed(products=120, seed=3)

    assert snapshot() == first


def test_seeding_a_seeded_store_is_refused_unless_if_empty(db):
    seed(products=10)

    with pytest.raises(CommandError):
        seed(products=10)
    assert "already seeded" in seed(10, 7, "--if-empty")
    assert Product.objects.count() == 10


def test_promotions_seeds_a_storm_of_sku_markdowns_on_seeded_skus(db):
    seed(100, 7)
    ordinary = Promotion.objects.count()
    empty_the_store()

    output = seed(100, 7, "--promotions", "1500")

    storm = Promotion.objects.filter(name__startswith="Storm markdown")
    assert storm.count() == 1500
    assert Promotion.objects.count() == ordinary + 1500
    assert set(storm.values_list("target", flat=True)) == {"sku"}
    assert set(storm.values_list("target_ref", flat=True)) <= set(
        Variant.objects.values_list("sku", flat=True)
    )
    assert "1,500 storm promotions" in output


def test_a_negative_promotion_count_is_refused(db):
    with pytest.raises(CommandError, match="--promotions"):
        seed(10, 7, "--promotions", "-1")


def test_seed_promotions_tops_a_seeded_store_up_to_the_count_once(db):
    seed(100, 7)
    storm = Promotion.objects.filter(name__startswith="Storm markdown")

    call_command("seed_promotions", "--count", "300", stdout=StringIO())
    call_command("seed_promotions", "--count", "300", stdout=StringIO())
    assert storm.count() == 300
    call_command("seed_promotions", "--count", "450", stdout=StringIO())

    assert storm.count() == 450
    assert storm.values("name").distinct().count() == 450


def test_seed_promotions_needs_a_seeded_store(db):
    with pytest.raises(CommandError, match="no SKUs"):
        call_command("seed_promotions", "--count", "10", stdout=StringIO())


def test_grow_adds_products_after_the_existing_ones_and_indexes_them(db):
    from search.models import SearchDocument

    seed(products=120)
    before = set(Product.objects.values_list("slug", flat=True))

    out = StringIO()
    call_command("seed_store", "--grow-to", "200", stdout=out)

    assert "Grew the store from 120 to 200 products" in out.getvalue()
    assert Product.objects.count() == 200
    assert before <= set(Product.objects.values_list("slug", flat=True))
    assert Variant.objects.values("sku").distinct().count() == Variant.objects.count()
    assert Price.objects.filter(price_list__code="base").count() == Variant.objects.count()
    assert SearchDocument.objects.count() == 200
    # Every new unit came in through the ledger too.
    assert sum(Stock.objects.values_list("on_hand", flat=True)) == sum(
        StockMovement.objects.values_list("on_hand_delta", flat=True)
    )


def test_grow_to_a_size_the_store_has_adds_nothing_and_needs_a_seeded_store(db):
    with pytest.raises(CommandError, match="seed it first"):
        call_command("seed_store", "--grow-to", "50", stdout=StringIO())
    seed(products=60)

    out = StringIO()
    call_command("seed_store", "--grow-to", "50", stdout=out)

    assert "nothing to add" in out.getvalue()
    assert Product.objects.count() == 60
