"""Admission control: past saturation, shed what matters least, early and cheaply.

A campaign spike sends more requests than the web workers can answer. Left alone, every
request waits in the same queue, so browse, cart and checkout all slow down together
until clients time out. Instead each request is put in a class before anything else
runs (no session, no query), and while the queue is longer than that class tolerates it
is refused at once with 503 and `Retry-After`. Bots go first, then deep browse pages
(page 4 and beyond of a listing), then, only if the queue keeps growing, ordinary browse.
Checkout, carts and orders are never shed, and neither are probes and /metrics. A
route's class follows its criticality in the ownership manifest (`storefront/ownership.py`):
critical routes are never shed, core routes are browse, internal routes are exempt.

Saturation is read from the kernel: the number of connections waiting in gunicorn's
accept queue (Linux `TCP_INFO` on the listening socket: one system call), per worker.
Gunicorn's sync workers take one request at a time, so that queue *is* the backlog.
Elsewhere (the test client, runserver) no listener is adopted and nothing is shed.

Shed responses are counted in `peakstore_requests_shed_total{route_class}` and carry
`X-Peakstore-Shed: <class>`, so load tests count them apart from errors. This middleware
sits before the request metrics, so a shed request is never a 5xx in the route metrics.
"""

from __future__ import annotations

import functools
import re
import socket
import struct
import sys
from collections.abc import Callable, Iterable
from enum import StrEnum

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import Counter

from toolkit.manifest import Criticality, ownership_manifest
from toolkit.routes import STATIC_ROUTE, route_name

SHED_HEADER = "X-Peakstore-Shed"
_BOT_AGENT = re.compile(r"bot|crawl|spider|slurp|scrap", re.IGNORECASE)
# struct tcp_info: 8 one-byte fields, then u32s; for a listening socket the kernel puts
# the accept-queue length in tcpi_unacked, the 5th u32.
_TCPI_UNACKED_OFFSET = 8 + 4 * 4
_TCP_INFO_SIZE = 104


class RouteClass(StrEnum):
    EXEMPT = "exempt"  # probes, metrics, ops, admin, static files: never shed
    CRITICAL = "critical"  # carts, checkout, orders: never shed
    BROWSE = "browse"  # home, category, product, search: shed last
    DEEP_BROWSE = "deep_browse"  # deep listing pages: shed early
    BOT = "bot"  # self-declared robots: shed first


requests_shed = Counter(
    "peakstore_requests_shed",
    "Requests refused by admission control (503 + Retry-After) before any work, by class.",
    ["route_class"],
)

_CLASS_BY_CRITICALITY = {
    Criticality.CRITICAL: RouteClass.CRITICAL,
    Criticality.CORE: RouteClass.BROWSE,
    Criticality.INTERNAL: RouteClass.EXEMPT,
}


@functools.cache
def _view_class(view_name: str) -> RouteClass:
    """The class of a view, from its criticality in the ownership manifest."""
    entry = ownership_manifest().route(view_name)
    return _CLASS_BY_CRITICALITY[entry.criticality] if entry else RouteClass.BROWSE


def route_class(request: HttpRequest, *, deep_page: int) -> RouteClass:
    """Classify a request from its path, query string and User-Agent; no I/O."""
    view_name = route_name(request)
    if view_name == STATIC_ROUTE:
        return RouteClass.EXEMPT
    view_class = _view_class(view_name)
    if view_class is RouteClass.EXEMPT:
        return view_class
    if _BOT_AGENT.search(request.headers.get("User-Agent", "")):
        return RouteClass.BOT
    if view_class is RouteClass.BROWSE and _page_number(request) >= deep_page:
        return RouteClass.DEEP_BROWSE
    return view_class


def _page_number(request: HttpRequest) -> int:
    page = request.GET.get("page", "")
    return int(page) if page.isdigit() and len(page) < 7 else 1


def accept_queue_length(listener: socket.socket) -> int:
    """Connections accepted by the kernel and waiting for a worker (Linux only)."""
    info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
    return int(struct.unpack_from("I", info, _TCPI_UNACKED_OFFSET)[0])


class ListenQueue:
    """The server's listening sockets, adopted once per worker process."""

    def __init__(self) -> None:
        self._listeners: tuple[socket.socket, ...] = ()
        self._workers = 1

    def adopt(self, listeners: Iterable[socket.socket], *, workers: int) -> None:
        if sys.platform != "linux":
            return
        inet = (socket.AF_INET, socket.AF_INET6)
        self._listeners = tuple(s for s in listeners if s.family in inet)
        self._workers = max(1, workers)

    def depth_per_worker(self) -> float:
        """Waiting connections per worker; 0.0 when no listener was adopted."""
        if not self._listeners:
            return 0.0
        waiting = sum(accept_queue_length(listener) for listener in self._listeners)
        return waiting / self._workers


LISTEN_QUEUE = ListenQueue()


def gunicorn_worker_adopt(worker: object) -> None:
    """Gunicorn's `post_worker_init` hook: let admission control see the accept queue."""
    listeners = [listener.sock for listener in worker.sockets]  # type: ignore[attr-defined]
    LISTEN_QUEUE.adopt(listeners, workers=worker.cfg.workers)  # type: ignore[attr-defined]


def _shed_response(request: HttpRequest, route: RouteClass, retry_after: int) -> HttpResponse:
    message = "The store is very busy right now. Please try again in a moment."
    if request.path_info.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"error": {"code": "overloaded", "message": message, "details": {}}}, status=503
        )
    else:
        response = HttpResponse(
            f"<!doctype html><title>Busy</title><p>{message}</p>",
            status=503,
            content_type="text/html; charset=utf-8",
        )
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    response[SHED_HEADER] = route.value
    return response


class AdmissionMiddleware:
    """Shed non-critical requests while the accept queue is past their class's limit.

    Settings (`STOREFRONT_ADMISSION_*`): the queue length per worker at which each class
    is shed, the deep-page threshold and the Retry-After seconds. Costs a cached route lookup
    and one system call per request; a shed request runs no query and opens no session.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.enabled = settings.STOREFRONT_ADMISSION_ENABLED
        self.limits: dict[RouteClass, float] = {
            RouteClass(name): float(limit)
            for name, limit in settings.STOREFRONT_ADMISSION_QUEUE_LIMITS.items()
        }
        self.deep_page = settings.STOREFRONT_ADMISSION_DEEP_PAGE
        self.retry_after = settings.STOREFRONT_ADMISSION_RETRY_AFTER

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.enabled:
            route = route_class(request, deep_page=self.deep_page)
            limit = self.limits.get(route)
            if limit is not None and LISTEN_QUEUE.depth_per_worker() >= limit:
                requests_shed.labels(route_class=route.value).inc()
                return _shed_response(request, route, self.retry_after)
        return self.get_response(request)
