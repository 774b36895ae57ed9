"""Which requests may read from a replica: the read-only routes of catalog, search and API.

Everything else reads the primary: carts, checkout and orders read their own writes, the
back office and `/ops/` act on what they read, and a POST on any route may write. The
router (`toolkit.replicas`) still keeps these routes on the primary inside a
transaction, while a replica lags past its limit, and until a replica has replayed the
last invalidating write. Costs a cached route lookup and a context variable per request;
nothing at all without replicas.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from toolkit.cache.http import SAFE_METHODS
from toolkit.replicas import replica_aliases, replica_reads
from toolkit.routes import route_name

REPLICA_ROUTES = frozenset(
    {
        "pages:home",
        "pages:category",
        "pages:product",
        "pages:search",
        "pages:sitemap-index",
        "pages:sitemap-section",
        "api:product-list",
        "api:product-detail",
        "api:category-list",
        "api:search",
        "api:search-suggest",
    }
)


class ReplicaReadsMiddleware:
    """Let a GET or HEAD on a read-only route read from a replica."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.enabled = bool(replica_aliases())

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if (
            self.enabled
            and request.method in SAFE_METHODS
            and route_name(request) in REPLICA_ROUTES
        ):
            with replica_reads():
                return self.get_response(request)
        return self.get_response(request)
