"""The failure-mode lab as the store shows it: the banner, `peakstore_lab_mode`, the
decision log on /ops/, the lab state in every page-cache key, and the damage each of the
modes `n-plus-one` and `click-id-busting` does (and that switching it off removes it)."""

import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import stocked_product
from toolkit import lab as the_lab
from toolkit.cache import registry
from toolkit.cache.metrics import TAGGED_PAGE_LOOKUPS, CacheEvent, cache_event_count

MANY = 30
RELATIONS = ("brand", "images", "variants")


def lab_gauge(client) -> dict[str, float]:
    body = client.get("/metrics").content.decode()
    return {
        sample.labels["mode"]: sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == "peakstore_lab_mode"
    }


def test_every_page_shows_the_banner_while_a_mode_is_on_and_not_after(client, product, lab):
    assert b"lab-banner" not in client.get("/c/outdoor/").content

    lab("click-id-busting")
    on = client.get("/c/outdoor/")
    the_lab.switch("click-id-busting", on=False, actor="test")
    off = client.get("/c/outdoor/")

    # the page rendered under the mode was cached under the mode's key: never served after
    assert b"lab-banner" in on.content
    assert b"click-id-busting" in on.content
    assert b"lab-banner" not in off.content


def test_a_page_cached_before_a_mode_is_not_served_while_it_is_on(client, product, lab):
    client.get("/p/trail-runner/")  # cached with the lab idle
    misses = cache_event_count("storefront.page", CacheEvent.MISS)

    lab("n-plus-one")
    page = client.get("/p/trail-runner/")

    assert cache_event_count("storefront.page", CacheEvent.MISS) == misses + 1
    assert b"lab-banner" in page.content


def test_metrics_say_which_modes_are_on(client, lab):
    assert set(lab_gauge(client).values()) == {0.0}

    lab("n-plus-one")
    gauge = lab_gauge(client)

    assert gauge["n-plus-one"] == 1.0
    assert set(gauge) == set(the_lab.MODES)
    assert sum(gauge.values()) == 1.0


def test_ops_shows_the_banner_and_the_lab_decision_log(client, admin_user, lab):
    client.force_login(admin_user)
    lab("cold-release")
    the_lab.switch("cold-release", on=False, actor="instructor")
    lab("n-plus-one")

    page = client.get("/ops/").content.decode()

    assert "lab-banner" in page
    assert "Failure-mode lab" in page
    assert "<strong>cold-release</strong> off by instructor" in page
    assert "<strong>n-plus-one</strong> on by test" in page


def test_no_banner_nor_lab_panel_while_the_lab_is_disabled(client, admin_user, product):
    client.force_login(admin_user)

    assert b"lab-banner" not in client.get("/ops/").content
    assert b"Failure-mode lab" not in client.get("/ops/").content


# --- n-plus-one -----------------------------------------------------------------------


@pytest.fixture
def full_listing(settings, category):
    """A category page showing MANY products, each with a brand, image and variant."""
    settings.CATALOG_PAGE_SIZE = MANY + 10
    for n in range(MANY):
        stocked_product(category=category, name=f"Boot {n}", slug=f"boot-{n}")


def cold_queries(client, url: str) -> int:
    registry.retire_all()
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("url", ["/c/outdoor/", "/api/v1/products/"])
def test_n_plus_one_loads_each_card_lazily_and_nplusone_flags_it(
    client, full_listing, lab, settings, caplog, url
):
    # nplusone logs (rather than raises) so that the API's error handler cannot hide it
    settings.NPLUSONE_RAISE = False
    caplog.set_level(logging.DEBUG, logger="nplusone")
    good = cold_queries(client, url)
    assert not caplog.records

    lab("n-plus-one")
    naive = cold_queries(client, url)

    flagged = {record.getMessage() for record in caplog.records if record.name == "nplusone"}
    assert {f"Potential n+1 query detected on `Product.{field}`" for field in RELATIONS} <= flagged
    # three queries per card (brand, images, variants) in place of one variants prefetch
    assert naive == good - 1 + 3 * MANY


@pytest.mark.parametrize("url", ["/c/outdoor/", "/api/v1/products/"])
def test_switching_n_plus_one_off_restores_the_fixed_query_count(client, full_listing, lab, url):
    good = cold_queries(client, url)
    lab("n-plus-one")
    the_lab.switch("n-plus-one", on=False, actor="test")

    assert cold_queries(client, url) == good


def test_n_plus_one_shows_the_same_cards(client, full_listing, lab, settings):
    settings.NPLUSONE_RAISE = False
    good = client.get("/api/v1/products/").json()["results"]

    lab("n-plus-one")
    registry.retire_all()
    naive = client.get("/api/v1/products/").json()["results"]

    assert naive == good


# --- click-id-busting -----------------------------------------------------------------


def tagged(event: str) -> float:
    return TAGGED_PAGE_LOOKUPS.labels(event=event)._value.get()


def campaign_clicks(client, count: int) -> tuple[int, float]:
    """Page-cache misses while `count` campaign visitors land on one page, and the tagged
    landings counted as hits (what the lab's gate reads from /metrics)."""
    client.get("/c/outdoor/?sort=price_asc")  # the plain page, cached
    misses, hits = cache_event_count("storefront.page", CacheEvent.MISS), tagged("hit")
    for n in range(count):
        response = client.get(f"/c/outdoor/?utm_source=mail&gclid=click{n}&sort=price_asc")
        assert response.status_code == 200
        assert b"gclid" not in response.content
    return cache_event_count("storefront.page", CacheEvent.MISS) - misses, tagged("hit") - hits


def test_click_id_busting_makes_every_click_a_page_miss(client, product, lab):
    lab("click-id-busting")

    assert campaign_clicks(client, 5) == (5, 0)


def test_switching_click_id_busting_off_shares_the_plain_entry_again(client, product, lab):
    lab("click-id-busting")
    the_lab.switch("click-id-busting", on=False, actor="test")

    assert campaign_clicks(client, 5) == (0, 5)
