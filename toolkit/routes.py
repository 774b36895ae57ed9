"""A request's route (its view), also for middleware that runs before Django's URL
resolution: admission control classifies every request by its name, the request metrics
label by it answers that never reached a view (a cached page, a redirect), and the page
cache's fast path finds the view's cache policy through it.

Resolving walks the URL patterns (tens to hundreds of microseconds), so the answer is
cached per path: the hot paths are few, as popularity is skewed, and the cache is
bounded, so a crawler's endless distinct URLs cost a resolve each, never memory. Four
middlewares ask before Django resolves, and even a cached answer cost about 5 µs a
question (finding the thread's URLconf goes through asgiref's `Local`), so the first
answer is also kept on the request: a warm page-cache hit asks the path cache once.
"""

from functools import lru_cache

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest
from django.urls import Resolver404, ResolverMatch, resolve

from toolkit.settings_cache import setting

# Routes outside the URLconf: files WhiteNoise serves, and paths nothing matches.
STATIC_ROUTE = "static"
UNMATCHED_ROUTE = "unmatched"
# Where the request keeps its first answer (an attribute no Django code uses).
_KEPT = "_toolkit_route_match"
_UNSET = object()


def route_name(request: HttpRequest) -> str:
    """The view name the request's path resolves to, `static` or `unmatched`."""
    if (match := request.resolver_match) is not None:
        return match.view_name
    if request.path_info.startswith(setting("STATIC_URL") or "/static/"):
        return STATIC_ROUTE
    match = route_match(request)
    return match.view_name if match is not None else UNMATCHED_ROUTE


def route_match(request: HttpRequest) -> ResolverMatch | None:
    """What the request's path resolves to (view, arguments), or None; cached per path."""
    if request.resolver_match is not None:
        return request.resolver_match
    kept = request.__dict__.get(_KEPT, _UNSET)
    if kept is not _UNSET:
        return kept
    # The URLconf Django resolves this request with: the request's own if a middleware
    # set one, else ROOT_URLCONF (what the handler made current for this request). Kept
    # only until Django resolves: a middleware that sets `request.urlconf` later gets
    # its own answer from `resolver_match`.
    match = _match_of_path(
        request.__dict__.get("urlconf") or setting("ROOT_URLCONF"), request.path_info
    )
    request.__dict__[_KEPT] = match
    return match


@lru_cache(maxsize=4096)
def _match_of_path(urlconf: str | None, path: str) -> ResolverMatch | None:
    try:
        return resolve(path, urlconf)
    except Resolver404:
        return None


@receiver(setting_changed)
def _forget_routes(*, setting: str, **_: object) -> None:
    # Tests swap URLconfs (override_settings(ROOT_URLCONF=...)); a path may then name
    # another view.
    if setting == "ROOT_URLCONF":
        _match_of_path.cache_clear()
