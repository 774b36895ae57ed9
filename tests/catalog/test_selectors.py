import pytest

from catalog.interface import (
    brand_facets_for_category,
    category_ancestors,
    category_by_slug,
    product_cards_for_category,
    product_change_slug,
    product_detail_by_slug,
    slug_redirect_target,
    variants_by_skus,
)
from tests.factories import (
    BrandFactory,
    CategoryFactory,
    ProductFactory,
    ProductImageFactory,
    VariantFactory,
)
from toolkit.pagination import InvalidPage


@pytest.fixture
def tree(db):
    root = CategoryFactory(slug="outdoor")
    child = CategoryFactory(slug="tents", parent=root)
    sibling = CategoryFactory(slug="stoves", parent=root)
    return root, child, sibling


def products_in(category, count, **fields):
    products = []
    for _ in range(count):
        product = ProductFactory(category=category, **fields)
        VariantFactory.create_batch(2, product=product)
        products.append(product)
    return products


def test_category_listing_covers_the_subtree(tree):
    _, child, sibling = tree
    products_in(child, 2)
    products_in(sibling, 1)
    products_in(CategoryFactory(slug="elsewhere"), 1)

    page = product_cards_for_category(category=category_by_slug(slug="outdoor"))

    assert page.count == 3
    assert all(len(card.variant_ids) == 2 for card in page.items)


def test_category_listing_filters_by_brand_and_counts_facets(tree):
    _, child, _ = tree
    acme, zeta = BrandFactory(slug="acme"), BrandFactory(slug="zeta")
    products_in(child, 2, brand=acme)
    products_in(child, 1, brand=zeta)
    category = category_by_slug(slug="tents")

    page = product_cards_for_category(category=category, brand_slugs=["zeta"])
    facets = brand_facets_for_category(category=category)

    assert [card.brand.slug for card in page.items] == ["zeta"]
    assert [(f.brand.slug, f.count) for f in facets] == [("acme", 2), ("zeta", 1)]


def test_category_listing_sorts_by_name(tree):
    _, child, _ = tree
    for name in ["Bravo", "Alpha", "Charlie"]:
        ProductFactory(category=child, name=name)

    page = product_cards_for_category(category=category_by_slug(slug="tents"), sort="name")

    assert [card.name for card in page.items] == ["Alpha", "Bravo", "Charlie"]


def test_page_past_the_end_is_invalid(tree):
    _, child, _ = tree
    products_in(child, 3)

    with pytest.raises(InvalidPage):
        product_cards_for_category(category=category_by_slug(slug="tents"), page=2, per_page=3)


@pytest.mark.parametrize("size", [1, 50])
def test_category_listing_query_count_does_not_grow(tree, size, django_assert_num_queries):
    _, child, _ = tree
    products_in(child, size)
    category = category_by_slug(slug="tents")

    # count, page (with brand joined), variants
    with django_assert_num_queries(3):
        page = product_cards_for_category(category=category, per_page=50)
    assert len(page.items) == size


def test_product_detail_has_breadcrumbs_images_and_variants(tree, django_assert_num_queries):
    _, child, _ = tree
    product = ProductFactory(category=child, slug="dome-tent")
    ProductImageFactory.create_batch(2, product=product)
    VariantFactory.create_batch(3, product=product)

    # product (brand, category joined), images, variants, ancestors
    with django_assert_num_queries(4):
        detail = product_detail_by_slug(slug="dome-tent")

    assert [c.slug for c in detail.breadcrumbs] == ["outdoor", "tents"]
    assert len(detail.images) == 2
    assert len(detail.variants) == 3
    assert category_ancestors(category=detail.category)[-1].slug == "tents"


def test_unpublished_product_is_not_found(db):
    ProductFactory(slug="hidden", is_published=False)

    assert product_detail_by_slug(slug="hidden") is None


def test_changed_slug_keeps_the_old_one_redirecting(db):
    product = ProductFactory(slug="old-name")

    product_change_slug(product_id=product.pk, new_slug="new-name")
    product_change_slug(product_id=product.pk, new_slug="newest-name")

    assert slug_redirect_target(entity="product", slug="old-name") == "newest-name"
    assert slug_redirect_target(entity="product", slug="new-name") == "newest-name"
    assert slug_redirect_target(entity="product", slug="never-existed") is None


def test_variants_by_skus_carries_what_pricing_rules_need(tree):
    _, child, _ = tree
    variant = VariantFactory(product=ProductFactory(category=child), sku="ABC-1")

    summary = variants_by_skus(skus=["ABC-1", "missing"])["ABC-1"]

    assert summary.id == variant.pk
    assert summary.category_path == child.path
    assert summary.brand_id == variant.product.brand_id
