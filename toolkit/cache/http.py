"""Full-response caching for pages that read no visitor state.

`cache_response(PAGES)` wraps a view: GET and HEAD are answered from the namespace,
keyed by a digest of the absolute URL (host included: pages embed canonical URLs). The namespace's
`depends_on` makes every entry die with a bump of the data it shows. The response
carries a strong ETag and answers 304 to a matching `If-None-Match`; `Cache-Control`
lets browsers and a CDN store it but makes them revalidate, so a price change reaches
them on their next request, at the cost of a 304.

Only a plain 200 is stored: a response that sets a cookie, varies on Cookie or is
private is personal, and is returned to its own visitor only.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import get_conditional_response, patch_vary_headers

from toolkit.cache.owned import DoNotCache, OwnedCache
from toolkit.releases.cohorts import release_variant

View = Callable[..., HttpResponseBase]

PUBLIC_CACHE_CONTROL = "public, max-age=0, must-revalidate"
# Nothing but the URL selects the representation; proxies that compress vary on this.
PUBLIC_VARY = ("Accept-Encoding",)


@dataclass(frozen=True)
class CachedResponse:
    content: bytes
    content_type: str
    etag: str


def etag_for(content: bytes) -> str:
    return '"' + hashlib.blake2b(content, digest_size=16).hexdigest() + '"'


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
    if not _storable(response):
        return DoNotCache(response)
    assert isinstance(response, HttpResponse)
    return CachedResponse(
        content=response.content,
        content_type=response["Content-Type"],
        etag=etag_for(response.content),
    )


def _response(request: HttpRequest, cached: CachedResponse) -> HttpResponseBase:
    response = HttpResponse(cached.content, content_type=cached.content_type)
    response["ETag"] = cached.etag
    response["Cache-Control"] = PUBLIC_CACHE_CONTROL
    patch_vary_headers(response, PUBLIC_VARY)
    return get_conditional_response(request, etag=cached.etag, response=response)


def cache_response(namespace: OwnedCache) -> Callable[[View], View]:
    """Serve a public view's GET/HEAD responses from `namespace` (owner only)."""
    pages = namespace.bound_for_owner()

    def decorator(view: View) -> View:
        @wraps(view)
        def cached_view(request: HttpRequest, *args: object, **kwargs: object):
            if request.method not in ("GET", "HEAD"):
                return view(request, *args, **kwargs)
            # Release cohorts see different pages: each variant has its own entry.
            variant = release_variant(request)
            url = (request.build_absolute_uri() + (f" {variant}" if variant else "")).encode()
            result = pages.fetch(
                hashlib.blake2b(url, digest_size=16).hexdigest(),
                lambda: _snapshot(view(request, *args, **kwargs)),
            )
            if isinstance(result, CachedResponse):
                return _response(request, result)
            return result

        return cached_view

    return decorator
