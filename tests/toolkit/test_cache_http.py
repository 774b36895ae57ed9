"""Full-response caching stores only a plain 200 that is the same for everyone."""

from django.http import HttpResponse
from django.test import RequestFactory

from tests.toolkit.caches import HOT
from toolkit.cache.http import cache_response

factory = RequestFactory()


def test_a_response_that_sets_a_cookie_is_never_stored():
    calls = []

    @cache_response(HOT)
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

    @cache_response(HOT)
    def missing(request):
        calls.append(request)
        return HttpResponse("gone", status=404)

    for _ in range(2):
        assert missing(factory.get("/missing/")).status_code == 404
    assert len(calls) == 2
