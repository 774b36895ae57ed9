"""Ops access: who may read `/metrics`, `/healthz` and `/readyz`.

Metrics and readiness say how the store is doing (traffic, errors, which services are
down): a scraper's and a load balancer's business, nobody else's. Two settings, each
from the environment; a request that satisfies either is let in:

- `STOREFRONT_OPS_TOKEN` (`PEAKSTORE_OPS_TOKEN`): the request carries
  `Authorization: Bearer <token>` (Prometheus: `authorization: {credentials_file: …}`);
- `STOREFRONT_OPS_ALLOWED_NETWORKS` (`PEAKSTORE_OPS_ALLOWED_NETWORKS`, comma-separated
  addresses or networks, `10.0.0.0/8,192.0.2.7`): the TCP peer (`REMOTE_ADDR`) is in one.

The address is the TCP peer's, never a forwarded header, which any client can write. So
list the addresses the scraper and the load balancer reach gunicorn from directly, never
a reverse proxy's: through it every visitor would share its address.

With neither set everyone is let in: the local profiles (devstack and the load tests
scrape `/metrics`). Production refuses to start with neither (`settings/production.py`).
Refusals are 401 with `WWW-Authenticate: Bearer` when a token would be accepted, else
403, in the error shape.
"""

import functools
import ipaddress
import secrets
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from storefront.api.errors import error_body

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
View = TypeVar("View", bound=Callable[..., HttpResponseBase])


@functools.cache
def _networks(configured: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(network, strict=False) for network in configured)


def _peer_allowed(request: HttpRequest, configured: tuple[str, ...]) -> bool:
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped:
        peer = peer.ipv4_mapped  # ::ffff:10.0.0.5 on a dual-stack socket is 10.0.0.5
    return any(peer in network for network in _networks(configured))


def _token_presented(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(
        given.strip().encode(), token.encode()
    )


def ops_access_denied(request: HttpRequest) -> JsonResponse | None:
    """The refusal for a request ops access does not let in; None to let it in."""
    token: str = settings.STOREFRONT_OPS_TOKEN
    networks: tuple[str, ...] = tuple(settings.STOREFRONT_OPS_ALLOWED_NETWORKS)
    if not token and not networks:
        return None
    if (token and _token_presented(request, token)) or (
        networks and _peer_allowed(request, networks)
    ):
        return None
    if token:
        response = JsonResponse(
            error_body("unauthorized", "This path needs the ops bearer token."), status=401
        )
        response["WWW-Authenticate"] = 'Bearer realm="ops"'
        return response
    return JsonResponse(
        error_body("forbidden", "This path is not served to this address."), status=403
    )


def ops_access_required(view: View) -> View:
    """Serve `view` only to requests ops access lets in."""

    @functools.wraps(view)
    def restricted(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        return ops_access_denied(request) or view(request, *args, **kwargs)

    return restricted  # type: ignore[return-value]  # same signature as `view`
