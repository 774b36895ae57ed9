"""Route names for requests Django has not resolved yet (admission, cached answers)."""

import pytest
from django.test import RequestFactory
from django.urls import path

from toolkit import routes

urlpatterns = [path("only/", lambda request: None, name="only-view")]


@pytest.fixture
def resolves(monkeypatch):
    """Count the real URL resolutions behind route_name."""
    calls: list[str] = []
    real = routes.resolve

    def counting(path_info, urlconf=None):
        calls.append(path_info)
        return real(path_info, urlconf)

    monkeypatch.setattr(routes, "resolve", counting)
    routes._match_of_path.cache_clear()
    return calls


def test_a_path_is_named_after_its_view_and_resolved_once(resolves):
    request = RequestFactory().get("/robots.txt")

    assert routes.route_name(request) == "pages:robots"
    assert routes.route_name(RequestFactory().get("/robots.txt")) == "pages:robots"
    assert resolves == ["/robots.txt"]


def test_static_files_and_unknown_paths_have_their_own_names(resolves):
    assert routes.route_name(RequestFactory().get("/static/app.css")) == routes.STATIC_ROUTE
    assert routes.route_name(RequestFactory().get("/no/such/page/")) == routes.UNMATCHED_ROUTE
    assert resolves == ["/no/such/page/"]


def test_a_resolved_request_is_not_resolved_again(resolves):
    request = RequestFactory().get("/anything/")
    request.resolver_match = type("Match", (), {"view_name": "pages:product"})()

    assert routes.route_name(request) == "pages:product"
    assert resolves == []


def test_swapping_the_urlconf_forgets_cached_names(settings, resolves):
    assert routes.route_name(RequestFactory().get("/only/")) == routes.UNMATCHED_ROUTE

    settings.ROOT_URLCONF = __name__

    assert routes.route_name(RequestFactory().get("/only/")) == "only-view"


def test_a_request_asks_the_path_cache_once(monkeypatch):
    asked: list[str] = []
    real = routes._match_of_path
    monkeypatch.setattr(
        routes, "_match_of_path", lambda urlconf, path: asked.append(path) or real(urlconf, path)
    )
    request = RequestFactory().get("/robots.txt")

    names = [routes.route_name(request) for _ in range(4)]  # admission, metrics, cache, trace
    assert names == ["pages:robots"] * 4
    assert routes.route_match(request).view_name == "pages:robots"
    assert asked == ["/robots.txt"]
    assert routes.route_name(RequestFactory().get("/robots.txt")) == "pages:robots"
    assert asked == ["/robots.txt"] * 2  # the next request asks again


def test_a_request_with_its_own_urlconf_is_resolved_with_it(resolves):
    request = RequestFactory().get("/only/")
    request.urlconf = __name__  # as a middleware may set it

    assert routes.route_name(request) == "only-view"
