"""The page cache's fast path: a warm public page is answered before sessions, CSRF,
authentication and the view run, with the same headers and the same bytes as the full
path, and it steps aside wherever the answer could be personal.

A fast-path answer is recognisable: SessionMiddleware never saw its request, so the
request has no `session`.
"""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from catalog.models import SlugHistory
from releases import state as release_state
from releases.cohorts import SUBJECT_COOKIE
from releases.interface import snapshot_as_of, snapshot_refresh
from tests.factories import stocked_product
from tests.releases.test_request_path import count, decide, visitor_in  # noqa: F401
from tests.storefront.conftest import add_to_cart
from toolkit.cache.metrics import CacheEvent, cache_event_count

PUBLIC_PAGES = ["/", "/c/outdoor/", "/p/trail-runner/", "/search/?q=trail"]
# Headers that differ between any two responses, whatever path answered them.
PER_RESPONSE = {"X-Request-ID", "Date"}


def took_fast_path(response) -> bool:
    return not hasattr(response.wsgi_request, "session")


def headers(response) -> dict[str, str]:
    return {name: value for name, value in response.items() if name not in PER_RESPONSE}


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_a_warm_page_is_answered_before_the_session_and_the_view(client, product, url):
    cold = client.get(url)
    warm = client.get(url)

    assert not took_fast_path(cold)
    assert took_fast_path(warm)
    assert warm.status_code == cold.status_code == 200
    assert warm.content == cold.content


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_the_fast_path_sends_exactly_the_headers_of_the_full_path(client, product, url, settings):
    # given the security headers a production deployment sets, over HTTPS
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
    settings.SECURE_REFERRER_POLICY = "same-origin"

    # when the page is rendered (full path), then answered from the cache (fast path)
    full = client.get(url, secure=True)
    fast = client.get(url, secure=True)

    # then both carry the same headers, security headers included
    assert took_fast_path(fast)
    assert not took_fast_path(full)
    assert headers(fast) == headers(full)
    for name in (
        "Strict-Transport-Security",
        "X-Frame-Options",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "Cross-Origin-Opener-Policy",
    ):
        assert name in fast, name


def test_a_conditional_request_is_a_304_on_the_fast_path(client, product):
    etag = client.get("/c/outdoor/")["ETag"]

    response = client.get("/c/outdoor/", headers={"If-None-Match": etag})

    assert took_fast_path(response)
    assert response.status_code == 304
    assert response["ETag"] == etag


def test_click_ids_and_campaign_tags_share_the_plain_page_entry(client, product):
    # given the plain category page cached
    plain = client.get("/c/outdoor/?sort=price_asc")
    misses = cache_event_count("storefront.page", CacheEvent.MISS)

    # when campaign visitors arrive, each with their own click id, parameters in any order
    answers = [
        client.get(f"/c/outdoor/?utm_source=mail&gclid=click{n}&sort=price_asc&utm_medium=email")
        for n in range(5)
    ]

    # then every one is the cached plain page, answered early, with no click id in it
    assert cache_event_count("storefront.page", CacheEvent.MISS) == misses
    assert all(took_fast_path(answer) for answer in answers)
    assert {answer.content for answer in answers} == {plain.content}
    assert b"gclid" not in plain.content
    assert b"utm_" not in plain.content


def test_links_of_a_page_first_rendered_for_a_campaign_carry_no_click_id(client, category):
    for n in range(30):
        stocked_product(category=category, name=f"Tent {n}", slug=f"tent-{n}")

    page = client.get("/c/outdoor/?gclid=visitor-one&utm_campaign=spring&sort=newest")

    html = page.content.decode()
    assert "?page=2" in html or "page=2" in html
    assert "visitor-one" not in html
    assert "utm_campaign" not in html


def test_a_renamed_product_redirect_keeps_the_campaign_parameters(client, product):
    # given the slug the product had before it was renamed
    SlugHistory.objects.create(entity="product", slug="old-runner", entity_id=product.pk)

    # when a campaign's landing URL names the old slug
    response = client.get("/p/old-runner/?utm_source=mail&gclid=abc")

    # then the redirect passes its tags on: the campaign lands where it was going
    assert response.status_code == 301
    assert response["Location"] == "/p/trail-runner/?utm_source=mail&gclid=abc"


def test_a_visitor_with_a_session_takes_the_full_path_and_keeps_it(client, product):
    # given a shopper whose cart lives in a session, and the page already cached
    Client().get("/p/trail-runner/")
    add_to_cart(client, product.variants.get().sku)
    session_key = client.session.session_key

    # when they open the product page
    response = client.get("/p/trail-runner/")

    # then the full path answered (cohorts and cart come from the session) and kept it
    assert not took_fast_path(response)
    assert response.wsgi_request.session.session_key == session_key
    assert not response.cookies


def test_a_signed_in_staff_user_takes_the_full_path(client, product):
    client.force_login(User.objects.create_user("staff", is_staff=True))
    Client().get("/c/outdoor/")

    response = client.get("/c/outdoor/")

    assert not took_fast_path(response)
    assert response.wsgi_request.user.is_authenticated


def test_forms_on_personal_pages_keep_their_csrf_token(client, product):
    # the cart page is never cached: its forms carry a CSRF token for their visitor
    add_to_cart(client, product.variants.get().sku)

    response = client.get("/cart/")

    assert not took_fast_path(response)
    assert b"csrfmiddlewaretoken" in response.content


def test_a_new_visitor_during_a_rollout_gets_a_cohort_cookie_from_the_full_path(
    client,
    product,
    decide,  # noqa: F811
    settings,
):
    settings.STOREFRONT_RECOMMENDATIONS_V2_DELAY = 0
    decide("recommendations-v2", "start")

    response = client.get(f"/p/{product.slug}/")

    assert not took_fast_path(response)
    assert SUBJECT_COOKIE in response.cookies


def test_cohorts_get_their_own_page_on_the_fast_path_and_are_still_timed(
    client,
    product,
    decide,  # noqa: F811
    settings,
):
    # given a partly exposed rollout and a visitor in each cohort, each page cached once
    settings.STOREFRONT_RECOMMENDATIONS_V2_DELAY = 0
    decide("recommendations-v2", "start")
    url = f"/p/{product.slug}/"
    pages = {}
    for cohort in ("canary", "control"):
        client.cookies[SUBJECT_COOKIE] = visitor_in(cohort)
        pages[cohort] = client.get(url).content
    timed = count("recommendations-v2", "canary") + count("recommendations-v2", "control")

    # when each visitor comes back
    again = {}
    for cohort in ("canary", "control"):
        client.cookies[SUBJECT_COOKIE] = visitor_in(cohort)
        response = client.get(url)
        assert took_fast_path(response)
        again[cohort] = response.content

    # then each gets their own cohort's page, and both visits fed the release gate
    assert again == pages
    assert count("recommendations-v2", "canary") + count("recommendations-v2", "control") == (
        timed + 2
    )


def test_a_flag_published_since_this_process_read_the_flags_is_seen_on_the_next_hit(
    client,
    product,
    decide,  # noqa: F811
):
    # given the product page cached and the flags as this process last read them
    url = f"/p/{product.slug}/"
    client.get(url)
    assert took_fast_path(client.get(url))
    remembered = snapshot_as_of()

    # when a kill switch is stopped (published elsewhere: this process's flags are stale)
    decide("recommendations", "stop")
    release_state._as_of = remembered

    # then the next request reads the flags again and shows the page without the widget
    html = client.get(url).content.decode()
    assert '<section id="recommendations"' not in html
    assert snapshot_as_of() != remembered


def test_flags_remembered_from_a_finished_rollout_do_not_keep_visitors_off_the_fast_path(
    client,
    product,
    decide,  # noqa: F811
    settings,
):
    # given flags remembered while a rollout was partly exposed, then the rollout stopped
    settings.STOREFRONT_RECOMMENDATIONS_V2_DELAY = 0
    decide("recommendations-v2", "start")
    during_rollout = snapshot_refresh()
    decide("recommendations-v2", "stop")
    release_state._as_of = during_rollout
    url = f"/p/{product.slug}/"
    client.get(url)

    # when a visitor without a cohort cookie comes back
    response = client.get(url)

    # then the fast path answers: it checked the flags before sending them to the full path
    assert took_fast_path(response)
    assert SUBJECT_COOKIE not in response.cookies
