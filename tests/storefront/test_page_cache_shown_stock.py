"""Pages live longer than cached availability, so holds and orders retire the pages that
show their variant when what those pages show changes ("In stock", "Only 3 left",
"Out of stock"), and leave them alone when it does not: a busy product's cart adds must
not empty the page cache under campaign traffic."""

from decimal import Decimal

import pytest
from django.test import Client

from inventory.interface import AVAILABILITY_SHOWN_BELOW, stock_adjust, stock_reserve
from pricing.interface import PriceInput, prices_import
from tests.factories import CategoryFactory, stocked_product
from tests.storefront.conftest import add_to_cart, checkout_post
from toolkit.cache.metrics import CacheEvent, cache_event_count


def recomputes() -> int:
    return cache_event_count("storefront.page", CacheEvent.RECOMPUTE)


@pytest.fixture
def plenty(category):
    return stocked_product(category=category, name="Busy Boot", slug="busy-boot", stock=50)


@pytest.fixture
def few(category):
    return stocked_product(category=category, name="Rare Boot", slug="rare-boot", stock=6)


def test_a_hold_that_leaves_plenty_in_stock_keeps_the_pages(
    client, plenty, django_capture_on_commit_callbacks, django_assert_num_queries
):
    for url in ("/p/busy-boot/", "/c/outdoor/"):
        assert "In stock" in client.get(url).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        assert add_to_cart(Client(), plenty.variants.get().sku, 3).status_code == 303

    for url in ("/p/busy-boot/", "/c/outdoor/"):
        with django_assert_num_queries(0):
            assert "In stock" in client.get(url).content.decode()


def test_a_hold_that_leaves_few_shows_how_many_at_once(
    client, few, django_capture_on_commit_callbacks
):
    assert "In stock" in client.get("/p/rare-boot/").content.decode()
    before = recomputes()

    with django_capture_on_commit_callbacks(execute=True):
        add_to_cart(Client(), few.variants.get().sku, 2)

    assert "Only 4 left" in client.get("/p/rare-boot/").content.decode()
    assert recomputes() - before == 1


def test_an_order_for_the_last_units_shows_out_of_stock_at_once(
    client, category, django_capture_on_commit_callbacks
):
    last = stocked_product(category=category, name="Last Boot", slug="last-boot", stock=2)
    assert "Only 2 left" in client.get("/p/last-boot/").content.decode()
    buyer = Client()

    with django_capture_on_commit_callbacks(execute=True):
        add_to_cart(buyer, last.variants.get().sku, 2)
        assert checkout_post(buyer).status_code == 303

    assert "Out of stock" in client.get("/p/last-boot/").content.decode()


def test_letting_a_hold_go_shows_the_units_again(
    client, category, django_capture_on_commit_callbacks
):
    last = stocked_product(category=category, name="Last Boot", slug="last-boot", stock=4)
    variant = last.variants.get()
    with django_capture_on_commit_callbacks(execute=True):
        stock_reserve(holder="cart-a", variant_id=variant.pk, quantity=4)
    assert "Out of stock" in client.get("/p/last-boot/").content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        stock_reserve(holder="cart-a", variant_id=variant.pk, quantity=0)

    assert "Only 4 left" in client.get("/p/last-boot/").content.decode()


def test_the_shown_threshold_is_the_pages_low_stock_threshold():
    from storefront.offers import LOW_STOCK

    assert LOW_STOCK == AVAILABILITY_SHOWN_BELOW


def grid_recomputes() -> int:
    return cache_event_count("storefront.fragment", CacheEvent.RECOMPUTE)


def test_a_listing_grid_outlives_writes_to_cards_it_does_not_show(
    client, product, category, django_capture_on_commit_callbacks
):
    elsewhere = stocked_product(category=CategoryFactory(slug="camping"), slug="dome-tent")
    client.get("/c/outdoor/")
    before = grid_recomputes()

    # a price and a stock write to a product the grid does not show
    with django_capture_on_commit_callbacks(execute=True):
        prices_import(
            price_list_code="base",
            prices=[PriceInput(variant_id=elsewhere.variants.get().pk, amount=Decimal("5.00"))],
        )
        stock_adjust(variant_id=elsewhere.variants.get().pk, add=1, reason="count corrected")
    # then another URL showing the same cards renders from the cached grid
    assert client.get("/c/outdoor/?page=1").status_code == 200
    assert grid_recomputes() == before

    # and a price of a card it shows retires it
    with django_capture_on_commit_callbacks(execute=True):
        prices_import(
            price_list_code="base",
            prices=[PriceInput(variant_id=product.variants.get().pk, amount=Decimal("7.00"))],
        )
    assert "7.00" in client.get("/c/outdoor/?sort=name").content.decode()
    assert grid_recomputes() == before + 1
