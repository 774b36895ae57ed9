"""Every list endpoint and the cart answer in a fixed number of queries: the same for one
item as for fifty. The counts are exact, so an added query anywhere fails here first."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test import override_settings

from checkout.interface import cart_add_line, cart_create, cart_view
from pricing.interface import PromotionInput, promotions_create
from tests.factories import BrandFactory, CategoryFactory, CouponFactory, stocked_product

SIZES = [1, 50]
# Savepoint, SET LOCAL statement_timeout, reset, release: PostgreSQL's facet deadline.
FACET_DEADLINE_QUERIES = 4 if connection.vendor == "postgresql" else 0


@pytest.fixture
def shelf(db):
    """Return a function that stocks `n` products in one category."""
    category = CategoryFactory(slug="shelf")
    brand = BrandFactory(slug="shelf-brand")

    def stock(n):
        return [
            stocked_product(category=category, brand=brand, name=f"Shelf item {i}", variants=2)
            for i in range(n)
        ]

    return stock


@pytest.mark.parametrize("size", SIZES)
@override_settings(CATALOG_PAGE_SIZE=50)
def test_product_list_queries(api, shelf, size, django_assert_num_queries):
    shelf(size)

    # count, page, variants, prices, stock
    with django_assert_num_queries(5):
        response = api.get("/api/v1/products/")

    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", SIZES)
@override_settings(CATALOG_PAGE_SIZE=50)
def test_product_list_in_category_queries(api, shelf, size, django_assert_num_queries):
    shelf(size)

    # category, count, page, variants, prices, stock
    with django_assert_num_queries(6):
        response = api.get("/api/v1/products/?category=shelf&brand=shelf-brand&sort=name")

    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", SIZES)
@override_settings(CATALOG_PAGE_SIZE=50)
def test_search_queries(api, shelf, size, django_assert_num_queries):
    shelf(size)

    # pool (the most popular matches with their rank and facet columns: the count),
    # the page's cards, attribute facets (on PostgreSQL inside a savepoint with a
    # statement timeout), prices, stock. Variants are in the read model: no catalog query.
    with django_assert_num_queries(5 + FACET_DEADLINE_QUERIES):
        response = api.get("/api/v1/search/?q=shelf item")

    assert len(response.json()["results"]) == size
    # warm: facets, listing prices and availability come from their owners' caches
    with django_assert_num_queries(2):
        api.get("/api/v1/search/?q=shelf item")


@pytest.mark.parametrize("size", SIZES)
def test_product_detail_queries(api, db, size, django_assert_num_queries):
    stocked_product(slug="many", variants=size)

    # product, images, variants, breadcrumbs, prices, stock
    with django_assert_num_queries(6):
        response = api.get("/api/v1/products/many/")

    assert len(response.json()["variants"]) == size


@pytest.mark.parametrize("size", SIZES)
def test_category_list_queries(api, db, size, django_assert_num_queries):
    root = CategoryFactory()
    for _ in range(size - 1):
        CategoryFactory(parent=root)

    with django_assert_num_queries(1):
        response = api.get("/api/v1/categories/")

    assert len(response.json()["results"]) == size


@pytest.mark.parametrize("size", SIZES)
def test_cart_queries(api, db, size, django_assert_num_queries):
    token = cart_create()
    for variant in stocked_product(variants=size).variants.all():
        cart_add_line(token=token, sku=variant.sku, quantity=1)
    cart_view(token=token)  # compiles the promotion index, kept until a promotion write

    # cart, lines, variants, prices, stock
    with django_assert_num_queries(5):
        response = api.get(f"/api/v1/carts/{token}/")

    assert len(response.json()["lines"]) == size


def test_cart_recompiles_promotions_once_after_a_promotion_write(
    api, db, django_assert_num_queries, django_capture_on_commit_callbacks
):
    token = cart_create()
    cart_add_line(token=token, sku=stocked_product().variants.get().sku, quantity=1)
    with django_capture_on_commit_callbacks(execute=True):
        promotions_create(
            promotions=[PromotionInput(name="Spring", kind="percent", value=Decimal("10"))]
        )

    # the five, plus the active promotions once
    with django_assert_num_queries(6):
        first = api.get(f"/api/v1/carts/{token}/").json()
    with django_assert_num_queries(5):
        api.get(f"/api/v1/carts/{token}/")

    assert first["lines"][0]["promotion"] == "Spring"


def test_cart_with_coupon_costs_one_more_query(api, db, django_assert_num_queries):
    token = cart_create()
    cart_add_line(token=token, sku=stocked_product().variants.get().sku, quantity=1)
    api.post(f"/api/v1/carts/{token}/coupon/", {"code": CouponFactory().code}, format="json")

    with django_assert_num_queries(6):
        response = api.get(f"/api/v1/carts/{token}/")

    assert response.json()["coupon"]["applied"] is True


def test_cart_line_add_queries(api, db, django_assert_num_queries):
    token = cart_create()
    first, second = (stocked_product().variants.get().sku for _ in range(2))
    cart_add_line(token=token, sku=first, quantity=1)
    cart_view(token=token)  # compiles the promotion index

    # Two savepoints (the add's transaction and the stock's inside it), each released.
    # The add: the cart locked, the SKU's variant, the cart's lines, the stock row
    # locked, other carts' holds, the holder's and client's holds, the cart's other
    # holds renewed, the hold written (an update, then an insert for a new SKU), the
    # line, the cart touched. The answer: cart, lines, variants, prices, stock.
    with django_assert_num_queries(4 + 11 + 5):
        added = api.post(
            f"/api/v1/carts/{token}/lines/", {"sku": second, "quantity": 1}, format="json"
        )
    # A SKU already in the cart: its hold and line updated, nothing inserted.
    with django_assert_num_queries(4 + 10 + 5):
        merged = api.post(
            f"/api/v1/carts/{token}/lines/", {"sku": first, "quantity": 2}, format="json"
        )

    assert added.status_code == merged.status_code == 201
    assert {line["sku"]: line["quantity"] for line in merged.json()["lines"]} == {
        first: 3,
        second: 1,
    }
