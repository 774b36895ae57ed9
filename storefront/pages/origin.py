"""Same-origin checking for the one form that sits on cached pages: add to cart.

A cached page is shared by every visitor, so it cannot carry a visitor's CSRF token,
and the add-to-cart form on the product page therefore has none. What protects it:
- the cart cookie is SameSite=Lax, so a cross-site POST never carries the visitor's
  cart: at worst it starts an empty one in that request;
- and this check refuses the POST before that can happen: the browser's `Origin`
  header (sent with every form POST by current browsers) must name this site, or, when
  a browser leaves it out, the `Referer` must. A request with neither is refused.
Every other form (cart lines, coupon, checkout) is on a personal, never-cached page and
keeps Django's CSRF token.
"""

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

View = Callable[..., HttpResponseBase]


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def request_is_same_origin(request: HttpRequest) -> bool:
    """Whether the request's Origin (or, failing that, Referer) is this site."""
    allowed = {f"{request.scheme}://{request.get_host()}".lower()}
    allowed.update(origin.lower() for origin in settings.CSRF_TRUSTED_ORIGINS)
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin.lower() in allowed  # "null" (a sandboxed or privacy-stripped page) too
    referer = request.headers.get("Referer")
    return referer is not None and _origin_of(referer) in allowed


def same_origin_post(view: View) -> View:
    """Exempt a view from the CSRF token and require a same-origin request instead."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        # The test client marks its requests as Django's CSRF middleware expects;
        # honour the same switch, so tests opt into the check as they do for tokens.
        enforce = not getattr(request, "_dont_enforce_csrf_checks", False)
        if enforce and not request_is_same_origin(request):
            raise PermissionDenied("Cross-site form submission refused.")
        return view(request, *args, **kwargs)

    return csrf_exempt(guarded)
