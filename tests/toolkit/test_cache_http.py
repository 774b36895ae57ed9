"""Full-response caching stores only a plain 200 that is the same for everyone, keyed by
the view's declared query parameters alone."""

import pytest
from django.core.exceptions import BadRequest
from django.http import Http404, HttpResponse
from django.test import RequestFactory

from tests.toolkit.caches import HOT
from toolkit.cache.http import cache_response, page_cache_policy
from toolkit.query import Param, QuerySpec, choice, whole_number

factory = RequestFactory()
NO_QUERY = QuerySpec()
LISTING = QuerySpec(
    Param("page", whole_number(minimum=1), strict=True, invalid_status=404),
    Param("sort", choice(["popular", "newest"])),
    Param("tag", choice(["a", "b", "c"]), many=True),
)


def counting_view(calls: list):
    @cache_response(HOT, query=LISTING)
    def listing(request):
        calls.append(request.GET.urlencode())
        return HttpResponse(f"links: ?{request.GET.urlencode()}")

    return listing


def test_a_response_that_sets_a_cookie_is_never_stored():
    calls = []

    @cache_response(HOT, query=NO_QUERY)
    def personal(request):
        calls.append(request)
        response = HttpResponse("yours")
        response.set_cookie("cart", "secret")
        return response

    first = personal(factory.get("/personal/"))
    second = personal(factory.get("/personal/"))

    assert len(calls) == 2
    assert first.cookies["cart"].value == second.cookies["cart"].value == "secret"
    assert "ETag" not in second


def test_only_a_plain_200_is_stored():
    calls = []

    @cache_response(HOT, query=NO_QUERY)
    def missing(request):
        calls.append(request)
        return HttpResponse("gone", status=404)

    for _ in range(2):
        assert missing(factory.get("/missing/")).status_code == 404
    assert len(calls) == 2


@pytest.mark.parametrize(
    "url",
    [
        "/list/?sort=newest&page=2",
        "/list/?page=2&sort=newest",
        "/list/?page=2&sort=newest&utm_source=mail&utm_campaign=spring&gclid=Cj0KCQ123",
        "/list/?fbclid=IwAR0xyz&page=2&sort=newest&unknown=1",
    ],
)
def test_tracking_and_undeclared_parameters_share_one_entry(url):
    # given the canonical page cached
    calls = []
    listing = counting_view(calls)
    listing(factory.get("/list/?page=2&sort=newest"))

    # when the same page is asked for in another order or with a campaign's parameters
    response = listing(factory.get(url))

    # then it is the cached entry, and its links carry no visitor's click id
    assert calls == ["page=2&sort=newest"]
    assert response.content == b"links: ?page=2&sort=newest"


def test_repeated_values_in_any_order_are_one_entry():
    calls = []
    listing = counting_view(calls)

    listing(factory.get("/list/?tag=b&tag=a"))
    listing(factory.get("/list/?tag=a&tag=b&tag=a"))

    assert calls == ["tag=a&tag=b"]


def test_declared_parameters_still_select_their_own_entries():
    calls = []
    listing = counting_view(calls)

    for url in ("/list/", "/list/?page=2", "/list/?sort=newest"):
        listing(factory.get(url))

    assert calls == ["", "page=2", "sort=newest"]


@pytest.mark.parametrize("page", ["\u00b2", "abc", "0", "-1", "1e3", "9" * 30, "\x00"])
def test_a_strict_parameter_answers_its_documented_status(page):
    listing = counting_view([])

    with pytest.raises(Http404):
        listing(factory.get("/list/", {"page": page}))


def test_a_forgiving_parameter_drops_what_it_cannot_read():
    calls = []
    listing = counting_view(calls)

    listing(factory.get("/list/?sort=cheapest-first&tag=z"))

    assert calls == [""]


def test_a_strict_400_parameter_is_a_bad_request():
    @cache_response(HOT, query=QuerySpec(Param("n", whole_number(), strict=True)))
    def view(request):
        return HttpResponse("ok")

    with pytest.raises(BadRequest):
        view(factory.get("/n/", {"n": "x"}))


def test_the_policy_is_found_through_other_decorators():
    listing = counting_view([])

    def outer(request):
        return listing(request)

    outer.__wrapped__ = listing

    assert page_cache_policy(outer).query is LISTING
    assert page_cache_policy(lambda request: None) is None


def test_headers_the_view_set_are_kept_with_the_entry():
    @cache_response(HOT, query=NO_QUERY)
    def sitemap(request):
        response = HttpResponse("<urlset/>", content_type="application/xml")
        response["X-Robots-Tag"] = "noindex, noodp, noarchive"
        return response

    sitemap(factory.get("/sitemap.xml"))
    cached = sitemap(factory.get("/sitemap.xml"))

    assert cached["X-Robots-Tag"] == "noindex, noodp, noarchive"
    assert cached["Content-Type"] == "application/xml"


def test_an_escaped_parameter_name_is_still_read():
    calls = []
    listing = counting_view(calls)

    listing(factory.get("/list/?p%61ge=2&gclid=abc"))

    assert calls == ["page=2"]


def test_a_landing_with_only_tracking_parameters_reads_an_empty_query_no_view_can_change():
    seen = []

    @cache_response(HOT, query=QuerySpec())
    def page(request):
        seen.append(dict(request.GET))
        with pytest.raises(AttributeError, match="immutable"):
            request.GET["sort"] = "cheapest"  # as on any request: change a copy()
        mine = request.GET.copy()
        mine["sort"] = "cheapest"
        return HttpResponse(mine.urlencode())

    first = factory.get("/page/one/?utm_source=mail&gclid=one")
    page(first)
    second = factory.get("/page/two/?utm_source=mail&gclid=two")  # another entry: computed
    page(second)

    assert seen == [{}, {}]
    assert first.META["QUERY_STRING"] == second.META["QUERY_STRING"] == ""
