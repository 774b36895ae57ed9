"""Per-client throttles on the writes a script repeats for free: creating carts, adding
or changing cart lines, trying coupon codes.

One counter per scope and client (`toolkit.clients.client_key`) in fixed windows on the
default cache, kept by django-ratelimit (an atomic add-then-increment, so concurrent
requests cannot slip past the limit). The rates are `STOREFRONT_THROTTLE_RATES`; the API
and the HTML pages count against the same counters, so switching between them buys
nothing. A client over a rate gets 429 with `Retry-After`: the API's `throttled` error,
a plain page on the HTML side. The default cache alias swallows errors, and
`RATELIMIT_FAIL_OPEN` lets requests through when it cannot count: a cache outage never
stops a checkout.
"""

import functools
import logging
from collections.abc import Callable
from typing import Any, ClassVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django_ratelimit.core import get_usage
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from storefront.pages.views.errors import too_many_requests
from toolkit.clients import client_key

logger = logging.getLogger(__name__)

CART_CREATE = "cart_create"
CART_LINES = "cart_lines"
COUPON_ATTEMPT = "coupon_attempt"

PageView = Callable[..., HttpResponse]


class Throttled(Exception):
    """The client is over a scope's rate; `wait` is the whole seconds until it may retry."""

    def __init__(self, scope: str, wait: int) -> None:
        super().__init__(f"{scope}: retry in {wait}s")
        self.scope = scope
        self.wait = wait


def _client(group: str, request: HttpRequest) -> str:
    return client_key(request)


def throttle_wait(request: HttpRequest | Request, scope: str) -> int | None:
    """Count this request against `scope`; None when allowed, else seconds to wait."""
    try:
        usage = get_usage(
            request,
            group=scope,
            key=_client,
            rate=settings.STOREFRONT_THROTTLE_RATES[scope],
            increment=True,
        )
    except Exception:  # a cache backend that raises rather than missing: fail open too
        logger.warning("throttle %s could not count; request let through", scope, exc_info=True)
        return None
    if usage is None or not usage["should_limit"]:
        return None
    return max(int(usage["time_left"]), 1)


def throttle(request: HttpRequest, scope: str) -> None:
    """Count this request against `scope`, or raise Throttled."""
    if (wait := throttle_wait(request, scope)) is not None:
        raise Throttled(scope, wait)


def throttled_page(scope: str) -> Callable[[PageView], PageView]:
    """Throttle an HTML view by `scope`; Throttled raised anywhere inside it is a 429 page."""

    def decorate(view: PageView) -> PageView:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                throttle(request, scope)
                return view(request, *args, **kwargs)
            except Throttled as over:
                return too_many_requests(request, wait=over.wait)

        return wrapped

    return decorate


class ClientThrottle(BaseThrottle):
    """A DRF throttle on one scope, for the `methods` it names (the rest pass)."""

    scope: ClassVar[str]
    methods: ClassVar[frozenset[str]] = frozenset({"POST"})

    def allow_request(self, request: Request, view: APIView) -> bool:
        self._wait = throttle_wait(request, self.scope) if request.method in self.methods else None
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


class CartCreateThrottle(ClientThrottle):
    scope = CART_CREATE


class CartLinesThrottle(ClientThrottle):
    scope = CART_LINES
    methods = frozenset({"POST", "PATCH"})


class CouponAttemptThrottle(ClientThrottle):
    scope = COUPON_ATTEMPT
