"""Full-response caching of public pages: correct headers, 0 queries when warm, fresh on
the very next request after an owner's write commits, untouched by a rollback, never
shared for personal pages, and no outage when the cache server is down.

These run on the profile the environment selects: diskcache files (embedded) or Redis
(services, as in CI).
"""

from decimal import Decimal

import pytest
from django.db import transaction
from django.test import Client

from inventory.interface import StockReceipt, stock_adjust, stock_receive
from pricing.interface import PriceInput, prices_import
from tests.factories import CategoryFactory, stocked_product
from tests.storefront.conftest import add_to_cart, checkout_post
from toolkit.cache import owned, reader, store
from toolkit.cache.metrics import CacheEvent, cache_event_count

PUBLIC_PAGES = ["/", "/c/outdoor/", "/p/trail-runner/", "/search/?q=trail"]
PRICE_PAGES = ["/c/outdoor/", "/p/trail-runner/", "/search/?q=trail"]


def page_keys() -> list[str]:
    return [
        key
        for key in store.iter_keys()
        if key.startswith(("storefront.page:v", "storefront.search_page:v"))
    ]


def price_change(product, amount: str, capture) -> None:
    """Commit a new base price for the product's variant, as a PIM feed would."""
    with capture(execute=True):
        prices_import(
            price_list_code="base",
            prices=[PriceInput(variant_id=product.variants.get().pk, amount=Decimal(amount))],
        )


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_a_warm_public_page_issues_no_queries(client, product, url, django_assert_num_queries):
    cold = client.get(url)

    with django_assert_num_queries(0):
        warm = client.get(url)

    assert warm.status_code == cold.status_code == 200
    assert warm.content == cold.content


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_public_pages_are_cacheable_by_anyone_and_revalidated(client, product, url):
    response = client.get(url)

    assert response["Cache-Control"] == "public, max-age=0, must-revalidate"
    assert response["ETag"].startswith('"')
    assert response["Vary"] == "Accept-Encoding"
    assert not response.cookies


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_a_conditional_request_for_an_unchanged_page_is_a_304(
    client, product, url, django_assert_num_queries
):
    etag = client.get(url)["ETag"]

    with django_assert_num_queries(0):
        response = client.get(url, headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response["ETag"] == etag
    assert response.content == b""


def test_a_page_is_the_same_for_every_visitor(product):
    # given a visitor with a cart and a session, and one without
    shopper = Client()
    add_to_cart(shopper, product.variants.get().sku)

    # when both open the product page
    theirs = shopper.get("/p/trail-runner/")
    mine = Client().get("/p/trail-runner/")

    # then they get the same bytes, and the page sets nothing on either
    assert theirs.content == mine.content
    assert theirs["ETag"] == mine["ETag"]
    assert not theirs.cookies
    assert not mine.cookies


@pytest.mark.parametrize("url", PRICE_PAGES)
def test_a_price_change_shows_on_the_next_request_from_any_worker(
    client, product, url, django_capture_on_commit_callbacks
):
    # given the page cached, with the old price
    assert "€19.90" in client.get(url).content.decode()

    # when a new price commits
    price_change(product, "24.50", django_capture_on_commit_callbacks)

    # then the next request shows it: from this browser, and from another one (a second
    # worker has no state of its own: everything it knows comes from the shared cache)
    for visitor in (client, Client()):
        page = visitor.get(url).content.decode()
        assert "€24.50" in page
        assert "€19.90" not in page


def test_a_changed_page_gets_a_new_etag(client, product, django_capture_on_commit_callbacks):
    etag = client.get("/c/outdoor/")["ETag"]

    price_change(product, "24.50", django_capture_on_commit_callbacks)
    response = client.get("/c/outdoor/", headers={"If-None-Match": etag})

    assert response.status_code == 200
    assert response["ETag"] != etag


def test_a_rolled_back_price_change_invalidates_nothing(
    client, product, django_capture_on_commit_callbacks, django_assert_num_queries
):
    # given cached pages
    for url in PRICE_PAGES:
        client.get(url)
    generations = reader("storefront.page").generations()

    # when a price import rolls back
    def import_cut_off() -> None:
        with transaction.atomic():
            prices_import(
                price_list_code="base",
                prices=[PriceInput(variant_id=product.variants.get().pk, amount=Decimal("1"))],
            )
            raise RuntimeError("the feed was cut off")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        import_cut_off()

    # then nothing was bumped, and the pages are still served from the cache
    assert callbacks == []
    assert reader("storefront.page").generations() == generations
    for url in PRICE_PAGES:
        with django_assert_num_queries(0):
            page = client.get(url).content.decode()
        assert "€19.90" in page


def test_a_restock_shows_at_once(client, category, django_capture_on_commit_callbacks):
    sold_out = stocked_product(category=category, name="Rare Boot", slug="rare-boot", stock=0)
    assert "Out of stock" in client.get("/p/rare-boot/").content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        stock_receive(
            receipts=[StockReceipt(variant_id=sold_out.variants.get().pk, quantity=3)],
            reference="delivery",
        )

    assert "Only 3 left" in client.get("/p/rare-boot/").content.decode()


def test_bulk_writes_invalidate_in_one_step(db, category, django_capture_on_commit_callbacks):
    products = [stocked_product(category=category) for _ in range(20)]
    variant_ids = [product.variants.get().pk for product in products]
    prices_before = cache_event_count("pricing.price", CacheEvent.INVALIDATION)
    stock_before = cache_event_count("inventory.availability", CacheEvent.INVALIDATION)

    with django_capture_on_commit_callbacks(execute=True):
        prices_import(
            price_list_code="base",
            prices=[PriceInput(variant_id=v, amount=Decimal("9.99")) for v in variant_ids],
        )
        stock_receive(
            receipts=[StockReceipt(variant_id=v, quantity=1) for v in variant_ids],
            reference="delivery",
        )

    assert cache_event_count("pricing.price", CacheEvent.INVALIDATION) - prices_before == 1
    assert cache_event_count("inventory.availability", CacheEvent.INVALIDATION) - stock_before == 1


# Key by key: a write retires the pages that show what it changed, and no others


@pytest.fixture
def elsewhere(db):
    """A product in another category: no page of the trail runner's shows it."""
    camping = CategoryFactory(name="Camping", slug="camping")
    return stocked_product(category=camping, name="Dome Tent", slug="dome-tent", price="89.00")


OTHER_PAGES = ["/c/camping/", "/p/dome-tent/"]


def warm(client, urls) -> None:
    for url in urls:
        assert client.get(url).status_code == 200


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda product: price_change_now(product, "24.50"), id="price import"),
        pytest.param(
            lambda product: stock_adjust(
                variant_id=product.variants.get().pk, add=5, reason="count corrected"
            ),
            id="stock adjustment",
        ),
    ],
)
def test_a_write_retires_only_the_pages_that_show_what_it_changed(
    client, product, elsewhere, write, django_capture_on_commit_callbacks, django_assert_num_queries
):
    # given the pages of both products cached
    warm(client, PRICE_PAGES + OTHER_PAGES)

    # when one product's price or stock changes
    with django_capture_on_commit_callbacks(execute=True):
        write(product)

    # then the other product's pages are still served from the cache, without a query
    for url in OTHER_PAGES:
        with django_assert_num_queries(0):
            assert client.get(url).status_code == 200
    # and every page showing the changed product is recomputed
    for url in ["/c/outdoor/", "/p/trail-runner/"]:
        before = cache_event_count("storefront.page", CacheEvent.RECOMPUTE)
        client.get(url)
        assert cache_event_count("storefront.page", CacheEvent.RECOMPUTE) - before == 1, url


def price_change_now(product, amount: str) -> None:
    prices_import(
        price_list_code="base",
        prices=[PriceInput(variant_id=product.variants.get().pk, amount=Decimal(amount))],
    )


def test_a_bulk_import_past_the_scoped_limit_retires_every_page(
    client, product, elsewhere, monkeypatch, django_capture_on_commit_callbacks
):
    warm(client, OTHER_PAGES)
    monkeypatch.setattr(owned, "SCOPED_INVALIDATION_MAX", 0)

    price_change(product, "24.50", django_capture_on_commit_callbacks)

    for url in OTHER_PAGES:
        before = cache_event_count("storefront.page", CacheEvent.RECOMPUTE)
        client.get(url)
        assert cache_event_count("storefront.page", CacheEvent.RECOMPUTE) - before == 1, url


# Personal pages


def test_carts_are_never_shared_between_visitors(db, category):
    # given two visitors, each with a different product in their cart
    alpha = stocked_product(category=category, name="Alpha Boot", slug="alpha-boot")
    beta = stocked_product(category=category, name="Beta Tent", slug="beta-tent")
    alice, bob = Client(), Client()
    add_to_cart(alice, alpha.variants.get().sku)
    add_to_cart(bob, beta.variants.get().sku)

    # when each opens their cart, twice, one after the other
    for _ in range(2):
        alices = alice.get("/cart/")
        bobs = bob.get("/cart/")

    # then each sees only their own, and nothing allows a shared cache to keep it
    assert "Alpha Boot" in alices.content.decode()
    assert "Beta Tent" not in alices.content.decode()
    assert "Beta Tent" in bobs.content.decode()
    assert "Alpha Boot" not in bobs.content.decode()
    for response in (alices, bobs):
        assert "private" in response["Cache-Control"]
        assert "no-store" in response["Cache-Control"]
        assert "ETag" not in response
    assert page_keys() == []


def test_checkout_and_order_pages_are_never_cached(shopper):
    checkout = shopper.get("/checkout/")
    order = shopper.get(checkout_post(shopper)["Location"])

    for response in (checkout, order):
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
    assert page_keys() == []


def test_a_post_is_never_answered_from_the_cache(client, product):
    client.get("/p/trail-runner/")

    assert client.post("/p/trail-runner/").status_code == 405


# The cache server is down


def cache_down(settings, backend: dict) -> None:
    settings.CACHES = {**settings.CACHES, settings.TOOLKIT_CACHE_ALIAS: backend}


@pytest.fixture(params=["failing-backend", "closed-redis-port"])
def cache_server_down(request, settings):
    """The owned caches' server refuses every call: a failing backend, or a real Redis
    client pointed at a port where nothing listens."""
    if request.param == "failing-backend":
        backend = {"BACKEND": "tests.toolkit.failing_cache.FailingCache"}
    else:
        from devstack.processes import free_port

        backend = {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.25, "SOCKET_TIMEOUT": 0.25},
        }
    cache_down(settings, backend)


@pytest.mark.usefixtures("cache_server_down")
@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_with_the_cache_down_pages_are_served_from_the_database(client, product, url):
    namespace = "storefront.search_page" if url.startswith("/search/") else "storefront.page"
    errors_before = cache_event_count(namespace, CacheEvent.ERROR)

    responses = [client.get(url) for _ in range(2)]

    for response in responses:
        assert response.status_code == 200
        assert "Trail Runner" in response.content.decode()
    assert cache_event_count(namespace, CacheEvent.ERROR) > errors_before


@pytest.mark.usefixtures("cache_server_down")
def test_with_the_cache_down_a_price_change_still_shows(
    client, product, django_capture_on_commit_callbacks
):
    client.get("/p/trail-runner/")

    price_change(product, "24.50", django_capture_on_commit_callbacks)

    assert "€24.50" in client.get("/p/trail-runner/").content.decode()
