"""Every page's exact query count, and proof that it does not grow with the page.

The scaling tests follow Zulip's pattern: count the queries with one item, count them
again with fifty, and require the same number. nplusone also raises on any lazy load.

These measure cold pages: every owned cache entry is retired first (`cold()`), so a
count is what a page costs when nothing is cached. Warm pages cost 0 queries
(tests/storefront/test_page_cache.py).
"""

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import CartFactory, CartLineFactory, CouponFactory, stocked_product
from tests.storefront.conftest import add_to_cart, checkout_post
from toolkit.cache import registry

MANY = 50


def cold() -> None:
    """Retire every owned cache entry (sessions stay), so the next request is cold."""
    registry.retire_all()


def query_count(client, url: str) -> int:
    cold()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


@pytest.fixture
def big_pages(settings):
    """Pages large enough to show every product the scaling tests create."""
    settings.CATALOG_PAGE_SIZE = MANY + 10


# Exact counts. A change here is a change in the cost of a page: explain it in the commit.


def test_home_queries(client, product, django_assert_num_queries):
    # nav tree, popular cards (page + variants), prices, stock
    cold()
    with django_assert_num_queries(5):
        assert client.get("/").status_code == 200


def test_category_queries(client, product, django_assert_num_queries):
    # category, cards (count + page + variants), nav tree, brand facets, prices, stock
    url = f"/c/outdoor/?brand={product.brand.slug}&sort=name"
    cold()
    with django_assert_num_queries(8):
        assert len(client.get(url).context["offers"]) == 1


def test_product_queries(client, product, django_assert_num_queries):
    # product + brand + category, images, variants, ancestors, prices, stock, nav tree
    cold()
    with django_assert_num_queries(7):
        assert client.get("/p/trail-runner/").status_code == 200


def test_a_product_page_after_a_listing_reads_no_price(client, product, django_assert_num_queries):
    # the category page cached the nav tree, the product's stock and its prices
    # (pricing's listing cache); the product page, rendered afresh, reads only the
    # product: product + brand + category, images, variants, ancestors; no price query
    cold()
    client.get("/c/outdoor/")
    for namespace in ("storefront.page", "catalog.product"):
        registry.retire(namespace)
    with django_assert_num_queries(4):
        assert "€19.90" in client.get("/p/trail-runner/").content.decode()


def test_search_queries(client, product, django_assert_num_queries):
    # nav tree, read model (the pool, with facet columns; the page), attribute facets (on
    # PostgreSQL inside a savepoint with a statement timeout), prices, stock
    facet_deadline = 4 if connection.vendor == "postgresql" else 0
    cold()
    with django_assert_num_queries(6 + facet_deadline):
        assert client.get("/search/?q=trail&in_stock=1&sort=price_asc").status_code == 200
    cold()
    with django_assert_num_queries(6 + facet_deadline):
        assert client.get("/search/?q=trail").status_code == 200


def test_empty_search_queries(client, db, django_assert_num_queries):
    cold()
    with django_assert_num_queries(1):
        assert client.get("/search/?q=").status_code == 200


def test_cart_queries(shopper, django_assert_num_queries):
    # cart, lines, variants, prices, promotions, coupon, stock, nav tree
    CouponFactory(code="SAVE10")
    shopper.post("/cart/coupon/", {"code": "SAVE10"}, follow=True)
    cold()
    with django_assert_num_queries(8):
        assert shopper.get("/cart/").status_code == 200


def test_empty_cart_queries(client, db, django_assert_num_queries):
    cold()
    with django_assert_num_queries(1):
        assert client.get("/cart/").status_code == 200


def test_checkout_page_queries(shopper, django_assert_num_queries):
    # the cart view without a coupon (6), nav tree
    cold()
    with django_assert_num_queries(7):
        assert shopper.get("/checkout/").status_code == 200


def test_order_page_queries(shopper, django_assert_num_queries):
    # order, lines, nav tree; the session comes from the cache
    location = checkout_post(shopper)["Location"]
    cold()
    with django_assert_num_queries(3):
        assert shopper.get(location).status_code == 200


def test_not_found_queries(client, db, django_assert_num_queries):
    # product lookup, slug history, nav tree for the 404 layout
    cold()
    with django_assert_num_queries(3):
        assert client.get("/p/no-such-product/").status_code == 404


def test_seo_file_queries(client, product, django_assert_num_queries):
    cold()
    with django_assert_num_queries(0):
        client.get("/robots.txt")
    cold()
    with django_assert_num_queries(2):
        client.get("/sitemap.xml")
    cold()
    with django_assert_num_queries(1):
        client.get("/sitemap-products.xml")


# Scaling: the same count for one item and for fifty.


@pytest.mark.usefixtures("big_pages")
@pytest.mark.parametrize("url", ["/", "/c/outdoor/", "/search/?q=product"])
def test_listing_queries_do_not_grow_with_products(client, category, url):
    # given one product
    stocked_product(category=category, variants=2)
    with_one = query_count(client, url)

    # when there are fifty, all on the page
    for _ in range(MANY - 1):
        stocked_product(category=category, variants=2)
    cold()
    response = client.get(url)
    with_many = query_count(client, url)

    # then
    assert len(response.context["offers"]) == MANY
    assert with_many == with_one


def test_product_queries_do_not_grow_with_variants(client, category):
    few = stocked_product(category=category, variants=1)
    many = stocked_product(category=category, variants=5)

    assert query_count(client, f"/p/{few.slug}/") == query_count(client, f"/p/{many.slug}/")


@pytest.mark.parametrize("url", ["/cart/", "/checkout/"])
def test_cart_queries_do_not_grow_with_lines(client, category, url):
    # given a cart with one line
    cart = CartFactory()
    client.cookies[settings.CHECKOUT_CART_COOKIE] = cart.token
    CartLineFactory(cart=cart, variant=stocked_product(category=category).variants.get())
    with_one = query_count(client, url)

    # when it has fifty
    for _ in range(MANY - 1):
        CartLineFactory(cart=cart, variant=stocked_product(category=category).variants.get())
    cold()
    response = client.get(url)
    with_many = query_count(client, url)

    # then
    assert len(response.context["cart"].lines) == MANY
    assert with_many == with_one


def test_adding_to_cart_costs_the_same_for_a_full_cart(client, category):
    # given a cart with one line, then one with forty-nine
    skus = [stocked_product(category=category).variants.get().sku for _ in range(MANY)]
    add_to_cart(client, skus[0])
    with CaptureQueriesContext(connection) as small:
        add_to_cart(client, skus[1])
    for sku in skus[2:-1]:
        add_to_cart(client, sku)

    # when
    with CaptureQueriesContext(connection) as large:
        response = add_to_cart(client, skus[-1])

    # then
    assert response.status_code == 303
    assert len(large) == len(small)
