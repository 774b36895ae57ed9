"""Public pages from the page cache, and the fast path that answers a hit early.

`cached_page(QUERY)` caches a view's pages in `PAGES`, keyed by its declared query
parameters and the visitor's release variant (cohorts never see each other's pages).

`PageCacheMiddleware` answers a warm hit before sessions, CSRF, authentication, message
storage and URL dispatch run: a hit needs none of them. It sits after the security and
clickjacking middleware, so both paths carry the same security headers, and after the
request id, admission control and the metrics, so a hit is still identified, admitted
and counted. It steps aside, and the full path runs, whenever the answer could be
personal or is not ready:
- the request carries a session cookie (a signed-in user's cohort comes from it);
- a partly exposed rollout of a flag on this route must give this visitor a cohort
  cookie first (on a route no such flag changes, the page is the same for every cohort:
  it is served, and its public response never carries the cookie);
- the query is invalid (the view answers with its documented 4xx);
- the entry is missing, stale or due for an early refresh (single flight recomputes it).
"""

from collections.abc import Callable
from time import perf_counter

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from releases.interface import (
    release_variant,
    releases_decide,
    releases_observe,
    releases_response_finish,
    snapshot_as_of,
    snapshot_refresh,
)
from storefront.caches import PAGES
from toolkit.cache import OwnedCache
from toolkit.cache.http import (
    SAFE_METHODS,
    View,
    cache_response,
    cached_response,
    page_cache_policy,
)
from toolkit.query import InvalidParameter, QuerySpec, query_apply
from toolkit.routes import route_match


def cached_page(query: QuerySpec, *, pages: OwnedCache = PAGES) -> Callable[[View], View]:
    """Cache a public view's pages in `pages`, keyed by `query` and the release variant."""
    return cache_response(pages, query=query, variant=release_variant)


class PageCacheMiddleware:
    """Answer page-cache hits for anonymous visitors before the rest of the stack."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.session_cookie = settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method in SAFE_METHODS and self.session_cookie not in request.COOKIES:
            response = self._hit(request)
            if response is not None:
                return response
        return self.get_response(request)

    def _hit(self, request: HttpRequest) -> HttpResponseBase | None:
        """The cached answer, or None. Cleans the request's query either way."""
        match = route_match(request)
        if match is None:
            return None
        policy = page_cache_policy(match.func)
        if policy is None:
            return None
        started = perf_counter()
        try:
            query_apply(request, policy.query.clean_request(request))
        except InvalidParameter:
            return None
        # The flags as this process last read them, valid while the cache epoch has not
        # moved (a publish moves it): the entry's read says whether it has.
        epoch, snapshot = snapshot_as_of()
        for attempt in range(2):
            releases = releases_decide(request, match.view_name, snapshot)
            # A page this visitor's cohort changes, and they have no cookie yet.
            if not (releases.new_subject and releases.scoped):
                peeked = policy.peek(request, variant=releases.variant)
                if peeked.epoch == epoch:
                    break
            elif attempt:
                return None  # current flags give this visitor a cohort: the full path does
            epoch, snapshot = snapshot_refresh()
        else:
            return None  # still moving: let the full path read everything afresh
        if peeked.value is None:
            return None
        if releases.scoped:
            releases_observe(releases, seconds=perf_counter() - started, status=200)
        response = cached_response(request, peeked.value)
        releases_response_finish(request, response, releases)
        return response
