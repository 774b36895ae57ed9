"""The cohort cookie: signed, so a visitor cannot choose their cohort, and never kept by
a shared cache, so no visitor is handed another's cookie or another cohort's page."""

import pytest
from django.http import HttpResponse

from releases.cohorts import (
    SUBJECT_COOKIE,
    RequestReleases,
    releases_response_finish,
)
from tests.releases.test_request_path import (  # noqa: F401
    decide,
    signed,
    unsigned,
    visitor_id_in,
    visitor_in,
)


@pytest.fixture
def rollout(decide, settings):  # noqa: F811
    """recommendations-v2 partly exposed (5%): product pages differ by cohort."""
    settings.STOREFRONT_RECOMMENDATIONS_V2_DELAY = 0
    decide("recommendations-v2", "start")


def subject(response) -> str:
    return response.wsgi_request.releases.new_subject or ""


def cohort(response) -> str:
    return response.wsgi_request.releases.cohorts["recommendations-v2"]


def took_fast_path(response) -> bool:
    return not hasattr(response.wsgi_request, "session")


@pytest.mark.usefixtures("rollout")
def test_the_cookie_set_is_signed_and_read_back_as_the_same_visitor(client, product):
    first = client.get(f"/p/{product.slug}/")
    cookie = first.cookies[SUBJECT_COOKIE]

    again = client.get(f"/p/{product.slug}/")

    assert cookie.value != subject(first)  # not the bare id, but signed
    assert unsigned(cookie.value) == subject(first)
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    # recognised: no new id (an unknown visitor on this page would be given one)
    assert again.status_code == 200
    assert SUBJECT_COOKIE not in again.cookies


@pytest.mark.parametrize(
    "forged",
    [
        visitor_id_in("canary"),  # the bare id of a canary visitor, unsigned
        visitor_id_in("canary") + ":forged-signature",
        # a real signature of another id with the canary id put in its place
        signed("v-someone-else").replace("v-someone-else", visitor_id_in("canary"), 1),
    ],
    ids=["unsigned", "bad-signature", "swapped-value"],
)
@pytest.mark.usefixtures("rollout")
def test_a_forged_cookie_is_ignored_and_a_new_visitor_decided(client, product, forged):
    client.cookies[SUBJECT_COOKIE] = forged

    response = client.get(f"/p/{product.slug}/")

    assert subject(response)  # decided afresh ...
    assert subject(response) != visitor_id_in("canary")
    assert SUBJECT_COOKIE in response.cookies  # ... and given a signed cookie


@pytest.mark.usefixtures("rollout")
def test_a_signed_cookie_chooses_the_cohort_it_was_decided_for(client, product):
    for expected in ("canary", "control"):
        client.cookies[SUBJECT_COOKIE] = visitor_in(expected)
        assert cohort(client.get(f"/p/{product.slug}/")) == expected


@pytest.mark.usefixtures("rollout")
def test_a_page_that_differs_by_cohort_is_private_on_both_paths(client, product):
    # given a visitor with their cookie, and the page rendered once (full path)
    client.cookies[SUBJECT_COOKIE] = visitor_in("canary")
    full = client.get(f"/p/{product.slug}/")
    # when it is answered from the page cache (fast path)
    fast = client.get(f"/p/{product.slug}/")

    # then neither answer may be kept by a shared cache, and both vary on the cookie
    assert took_fast_path(fast)
    assert not took_fast_path(full)
    for response in (full, fast):
        assert response.status_code == 200
        assert "private" in response["Cache-Control"]
        assert "public" not in response["Cache-Control"]
        assert "Cookie" in response["Vary"]


@pytest.mark.usefixtures("rollout")
def test_a_new_visitor_gets_the_cookie_only_with_a_private_response(client, product):
    # the product page differs by cohort: private, and the cookie comes with it
    product_page = client.get(f"/p/{product.slug}/")
    assert SUBJECT_COOKIE in product_page.cookies
    assert "private" in product_page["Cache-Control"]


@pytest.mark.parametrize("url", ["/", "/c/outdoor/", "/robots.txt", "/sitemap.xml"])
@pytest.mark.usefixtures("rollout")
def test_a_public_page_never_carries_the_cookie(client, product, url):
    # given public pages the rollout does not change, cold (full path) then warm
    cold = client.get(url)
    warm = client.get(url)

    # then both stay public, for every visitor alike, and neither sets the cookie
    assert took_fast_path(warm)
    for response in (cold, warm):
        assert response.status_code == 200
        assert "public" in response["Cache-Control"]
        assert SUBJECT_COOKIE not in response.cookies
        assert "Set-Cookie" not in response


def releases_of(*, new_subject: str | None, scoped: bool) -> RequestReleases:
    flags = frozenset({"recommendations-v2"}) if scoped else frozenset()
    return RequestReleases(
        route="pages:product" if scoped else "pages:cart",
        enabled=frozenset(),
        cohorts={"recommendations-v2": "control"},
        scoped=flags,
        new_subject=new_subject,
    )


@pytest.mark.parametrize(
    ("cache_control", "scoped", "cookie_set", "cache_control_after"),
    [
        # a public page no partly exposed flag changes: shared as is, without the cookie
        ("public, max-age=0, must-revalidate", False, False, "public"),
        # a public page that differs by cohort: made private, then the cookie can go
        ("public, max-age=0, must-revalidate", True, True, "private"),
        # a response that says nothing: made private, so the cookie stays with its visitor
        (None, False, True, "private"),
        ("max-age=0, no-cache, no-store, must-revalidate, private", False, True, "private"),
    ],
)
def test_the_cookie_goes_only_on_responses_no_shared_cache_may_keep(
    rf, cache_control, scoped, cookie_set, cache_control_after
):
    response = HttpResponse("page")
    if cache_control:
        response["Cache-Control"] = cache_control

    releases_response_finish(rf.get("/"), response, releases_of(new_subject="v1", scoped=scoped))

    assert (SUBJECT_COOKIE in response.cookies) == cookie_set
    assert cache_control_after in response["Cache-Control"]
    if cache_control_after == "private":
        assert "public" not in response["Cache-Control"]
