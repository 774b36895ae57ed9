"""Full-response caching for pages that read no visitor state.

`cache_response(PAGES, query=SPEC)` wraps a view: GET and HEAD are answered from the
namespace, keyed by the scheme, host (pages embed canonical URLs), path, the view's
declared query parameters in canonical order (`toolkit.query`) and the caller's variant.
Undeclared parameters (a campaign's click ids among them) are removed before the view
runs, so they neither create entries nor leak into a cached page's links. The
namespace's `depends_on` makes every entry die with a bump of the data it shows. The
failure-mode lab's state is part of every key (`toolkit.lab.state_token`), and its mode
`click-id-busting` selects the naive key over the query as sent.

The response carries a strong ETag and answers 304 to a matching `If-None-Match`;
`Cache-Control` lets browsers and a CDN store it but makes them revalidate, so a price
change reaches them on their next request, at the cost of a 304.

Only a plain 200 is stored: a response that sets a cookie, varies on Cookie or is
private is personal, and is returned to its own visitor only.

The wrapped view carries its `PageCachePolicy`, so a middleware can answer a hit before
the rest of the stack runs (`storefront.page_cache`); both paths build the response here.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.template.response import SimpleTemplateResponse
from django.utils.cache import get_conditional_response, patch_vary_headers

from toolkit.accesslog import PAGE_CACHE_META
from toolkit.cache.metrics import tagged_page_lookup
from toolkit.cache.owned import DoNotCache, OwnedCache, Peeked
from toolkit.lab import mode_on, state_token
from toolkit.query import RAW_QUERY_STRING, InvalidParameter, QuerySpec, query_apply

View = Callable[..., HttpResponseBase]
Variant = Callable[[HttpRequest], str]

PUBLIC_CACHE_CONTROL = "public, max-age=0, must-revalidate"
# Nothing but the URL selects the representation; proxies that compress vary on this.
PUBLIC_VARY = ("Accept-Encoding",)
SAFE_METHODS = frozenset({"GET", "HEAD"})
_CONDITIONAL_HEADERS = frozenset(
    {"HTTP_IF_NONE_MATCH", "HTTP_IF_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE"}
)


# Set by `cached_response` itself, or by the middleware around the cache on every answer.
_NOT_STORED = frozenset({"content-type", "content-length", "etag", "cache-control", "vary"})


@dataclass(frozen=True)
class CachedResponse:
    content: bytes
    content_type: str
    etag: str
    # What the view set besides (a sitemap's X-Robots-Tag and Last-Modified). A default,
    # so an entry stored before the field existed still reads as a valid entry.
    headers: tuple[tuple[str, str], ...] = ()


def etag_for(content: bytes) -> str:
    return '"' + hashlib.blake2b(content, digest_size=16).hexdigest() + '"'


def _no_variant(request: HttpRequest) -> str:
    return ""


@dataclass(frozen=True)
class PageCachePolicy:
    """How one view's pages are cached: where, and what selects an entry."""

    pages: OwnedCache
    query: QuerySpec
    variant: Variant = _no_variant

    def clean_request(self, request: HttpRequest) -> None:
        """Leave only the declared parameters on the request; raise the view's 4xx."""
        try:
            query_apply(request, self.query.clean_request(request))
        except InvalidParameter as error:
            if error.status == 404:
                raise Http404(error.message) from None
            raise BadRequest(f"{error.name}: {error.message}") from None

    def key(self, request: HttpRequest, *, variant: str) -> str:
        """The entry's key, for a request whose query `clean_request` already cleaned.

        The Host header is taken as sent, unvalidated: only the view (which validates
        it) ever stores an entry, so a forged host finds nothing and gets its 400 there.
        """
        meta = request.META
        query = meta.get("QUERY_STRING", "")
        if mode_on("click-id-busting"):
            # The naive key (lab mode `click-id-busting`): the query as sent, so every
            # click id, `utm_*` tag and parameter order makes an entry of its own.
            query = meta.get(RAW_QUERY_STRING, query)
        url = (
            f"{request.scheme}://{meta.get('HTTP_HOST') or meta.get('SERVER_NAME', '')}"
            f"{request.path}?{query} {variant}"
        )
        # The lab's modes on ("" when none, and always under production settings): a page
        # rendered under a mode is never served once the mode is off, nor the reverse.
        if lab := state_token():
            url = f"{url} lab:{lab}"
        return hashlib.blake2b(url.encode(), digest_size=16).hexdigest()

    def peek(self, request: HttpRequest, *, variant: str) -> Peeked:
        """The cached page for a cleaned request (None where the view must run), and the
        cache epoch it holds for."""
        return self.pages.peek(self.key(request, variant=variant))


def _storable(response: HttpResponseBase) -> bool:
    cache_control = response.get("Cache-Control", "")
    return (
        response.status_code == 200
        and isinstance(response, HttpResponse)
        and not response.cookies
        and "cookie" not in response.get("Vary", "").lower()
        and "private" not in cache_control
        and "no-store" not in cache_control
    )


def _snapshot(response: HttpResponseBase) -> CachedResponse | DoNotCache[HttpResponseBase]:
    if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
        response.render()  # a TemplateResponse (Django's sitemaps) has no content before
    if not _storable(response):
        return DoNotCache(response)
    assert isinstance(response, HttpResponse)
    return CachedResponse(
        content=response.content,
        content_type=response["Content-Type"],
        etag=etag_for(response.content),
        headers=tuple(
            (name, value) for name, value in response.items() if name.lower() not in _NOT_STORED
        ),
    )


def cached_response(request: HttpRequest, cached: CachedResponse) -> HttpResponseBase:
    """The response for a cached page: 200 with its validators, or 304."""
    # For the access log: served from the cache, unless the view just computed it.
    event = request.META.setdefault(PAGE_CACHE_META, "hit")
    if request.META.get(RAW_QUERY_STRING, "") != request.META.get("QUERY_STRING", ""):
        # A campaign landing (or any URL with parameters the page ignores): do they share
        # the plain page's entry? The lab's `click-id-busting` gate reads this.
        tagged_page_lookup(event)
    response = HttpResponse(cached.content, content_type=cached.content_type)
    for name, value in cached.headers:
        response[name] = value
    response["ETag"] = cached.etag
    response["Cache-Control"] = PUBLIC_CACHE_CONTROL
    response["Content-Length"] = str(len(cached.content))
    patch_vary_headers(response, PUBLIC_VARY)
    if not _CONDITIONAL_HEADERS.intersection(request.META):
        return response  # nothing to compare: most requests
    # None only when no response is given.
    return get_conditional_response(request, etag=cached.etag, response=response) or response


def cache_response(
    namespace: OwnedCache, *, query: QuerySpec, variant: Variant = _no_variant
) -> Callable[[View], View]:
    """Serve a public view's GET/HEAD responses from `namespace` (owner only)."""
    policy = PageCachePolicy(pages=namespace.bound_for_owner(), query=query, variant=variant)

    def decorator(view: View) -> View:
        @wraps(view)
        def cached_view(request: HttpRequest, *args: object, **kwargs: object):
            if request.method not in SAFE_METHODS:
                return view(request, *args, **kwargs)
            policy.clean_request(request)

            # Names what fetch returns, a snapshot or the response itself: mypy does not
            # infer that from the DoNotCache alone.
            def snapshot() -> CachedResponse | HttpResponseBase | DoNotCache[HttpResponseBase]:
                request.META[PAGE_CACHE_META] = "miss"
                return _snapshot(view(request, *args, **kwargs))

            result = policy.pages.fetch(
                policy.key(request, variant=policy.variant(request)), snapshot
            )
            if isinstance(result, CachedResponse):
                return cached_response(request, result)
            return result

        cached_view.page_cache = policy  # type: ignore[attr-defined]  # a function attribute
        return cached_view

    return decorator


def page_cache_policy(view: object) -> PageCachePolicy | None:
    """The policy a view was wrapped with, looking through decorators that wrap it."""
    while view is not None:
        if (policy := getattr(view, "page_cache", None)) is not None:
            return policy
        view = getattr(view, "__wrapped__", None)
    return None
