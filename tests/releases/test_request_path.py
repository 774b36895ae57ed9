"""Flags on the request path: cohorts, route scope, kill switches, cached pages, queries."""

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test.utils import CaptureQueriesContext

from releases import metrics
from releases.cohorts import SUBJECT_COOKIE, SUBJECT_COOKIE_SALT
from releases.hashing import subject_bucket
from releases.services import release_decide
from toolkit.cache import registry


@pytest.fixture
def decide(db, django_capture_on_commit_callbacks):
    user = User.objects.create_user("rel", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__endswith="_releaseflag"))
    user = User.objects.get(pk=user.pk)

    def run(name, action):
        with django_capture_on_commit_callbacks(execute=True):
            release_decide(name=name, action=action, actor=user)

    return run


def signed(visitor: str) -> str:
    """The cookie value the store sets for a visitor id (`set_signed_cookie`)."""
    response = HttpResponse()
    response.set_signed_cookie(SUBJECT_COOKIE, visitor, salt=SUBJECT_COOKIE_SALT)
    return response.cookies[SUBJECT_COOKIE].value


def unsigned(value: str) -> str:
    """The visitor id a cookie value holds; raises BadSignature for a forged one."""
    request = HttpRequest()
    request.COOKIES[SUBJECT_COOKIE] = value
    return request.get_signed_cookie(SUBJECT_COOKIE, salt=SUBJECT_COOKIE_SALT)


def visitor_id_in(cohort: str) -> str:
    """A visitor id whose bucket puts it in `cohort` of recommendations-v2 at 5%."""
    for i in range(10_000):
        bucket = subject_bucket(
            salt="recommendations-v2", flag="recommendations-v2", subject=f"visitor:v{i}"
        )
        if (bucket < 500) == (cohort == "canary"):
            return f"v{i}"
    raise AssertionError("no such visitor")


def visitor_in(cohort: str) -> str:
    """The signed cookie of a visitor in `cohort` of recommendations-v2 at 5%."""
    return signed(visitor_id_in(cohort))


def cold_queries(client, url) -> int:
    registry.retire_all()
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def count(flag, cohort):
    totals = metrics.cohort_totals_read().get((flag, cohort))
    return totals.requests if totals else 0


def test_a_partly_exposed_flag_labels_each_cohort_and_sets_the_subject_cookie(
    client, product, decide, settings
):
    settings.STOREFRONT_RECOMMENDATIONS_V2_DELAY = 0
    decide("recommendations-v2", "start")
    before = count("recommendations-v2", "canary"), count("recommendations-v2", "control")

    first = client.get(f"/p/{product.slug}/")
    client.cookies[SUBJECT_COOKIE] = visitor_in("canary")
    client.get(f"/p/{product.slug}/")
    client.cookies[SUBJECT_COOKIE] = visitor_in("control")
    client.get(f"/p/{product.slug}/")
    client.get("/")  # outside the flag's routes: not labelled

    assert SUBJECT_COOKIE in first.cookies
    assert count("recommendations-v2", "canary") == before[0] + 1 + (
        first.wsgi_request.releases.cohorts["recommendations-v2"] == "canary"
    )
    assert (
        count("recommendations-v2", "canary") + count("recommendations-v2", "control")
        == sum(before) + 3
    )


def test_canary_and_control_get_their_own_cached_page(client, product, decide, settings):
    settings.STOREFRONT_RECOMMENDATIONS_V2_DELAY = 0
    decide("recommendations-v2", "start")

    client.cookies[SUBJECT_COOKIE] = visitor_in("canary")
    canary = client.get(f"/p/{product.slug}/")
    client.cookies[SUBJECT_COOKIE] = visitor_in("control")
    control = client.get(f"/p/{product.slug}/")

    assert canary.wsgi_request.releases.variant == "recommendations-v2"
    assert control.wsgi_request.releases.variant == ""
    assert "recommendations-v2" in canary.wsgi_request.releases.enabled
    assert "recommendations-v2" not in control.wsgi_request.releases.enabled


def test_a_stopped_kill_switch_leaves_the_widget_out(client, product, decide):
    decide("recommendations", "stop")

    html = client.get(f"/p/{product.slug}/").content.decode()

    assert '<section id="recommendations"' not in html
    assert '<section id="reviews"' in html
    decide("recommendations", "resume")
    assert '<section id="recommendations"' in client.get(f"/p/{product.slug}/").content.decode()


def test_flags_cost_the_product_page_no_query(client, product, decide, settings):
    settings.STOREFRONT_RECOMMENDATIONS_V2_DELAY = 0
    url = f"/p/{product.slug}/"
    without_flags = cold_queries(client, url)
    decide("recommendations-v2", "start")
    decide("reviews", "stop")

    with_flags = cold_queries(client, url)
    with CaptureQueriesContext(connection) as warm:
        client.get(url)

    assert with_flags == without_flags
    assert len(warm) == 0
