from tests.factories import stocked_product


def test_stocked_product_has_price_and_stock(db):
    from inventory.interface import availability_for_variants
    from pricing.interface import prices_for_variants

    product = stocked_product(price="12.50", stock=3, variants=2)
    ids = list(product.variants.values_list("id", flat=True))

    assert {str(v) for v in prices_for_variants(variant_ids=ids).values()} == {"12.50"}
    assert set(availability_for_variants(variant_ids=ids).values()) == {3}
