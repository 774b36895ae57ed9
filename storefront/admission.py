"""Admission control: past saturation, shed what matters least, early and cheaply.

A campaign spike sends more requests than the web workers can answer. Left alone, every
request waits in the same queue, so browse, cart and checkout all slow down together
until clients time out. Instead each request is put in a class before anything else
runs (no session, no query), and while the store is overloaded a request that has
waited longer than its class's budget is refused at once with 503 and `Retry-After`.
Bots have the smallest budget, then deep browse pages (page 4 and beyond of a listing),
then ordinary browse. Checkout, carts and orders are never shed, and neither are probes
and /metrics. A route's class follows its criticality in the ownership manifest
(`storefront/ownership.py`): critical routes are never shed, core routes are browse,
internal routes are exempt.

Two questions, answered apart:
- **Is the store overloaded?** Overload is a long wait that stands, not a long queue
  and not a burst: seven cached pages of a millisecond each are a 7 ms wait, seven
  uncached searches of 300 ms two seconds. The expected wait of a request arriving now
  is the number of connections waiting per worker times this worker's recent service
  time. The store is overloaded once the lowest estimate of the last
  `STANDING_INTERVAL_S` or so is past `STOREFRONT_ADMISSION_OVERLOAD_WAIT`, as CoDel
  starts dropping on a standing queue, never on a burst; the overload ends after
  `OVERLOAD_EXIT_S` without a refusal.
- **Which requests go?** During an overload, those that have already waited past their
  class's budget, measured, not estimated: the kernel stamps when a connection last
  received data, and for a request read whole that is when it arrived (Linux
  `TCP_INFO`, `tcpi_last_data_recv`, on the connection gunicorn hands the app: one
  system call, made only during an overload). Serving such a request would take it
  past its SLO; refusing it costs a fraction of a millisecond and shortens the wait of
  everyone behind it, so the queue settles where the oldest admitted request has waited
  its budget, and an admitted page waits at most its budget.

Why apart. On a store whose requests are slow (uncached searches of 40 ms among cached
pages of 1 ms), random arrivals at 80% of capacity stand queues of 100-200 ms for a few
hundred milliseconds now and then; the onset of a real overload looks the same for its
first fraction of a second. Deciding both on the expected wait against the budgets shed
requests at 80% of capacity on such a machine (`bench_overload`), or, with budgets
raised to spare those queues, let admitted pages past their SLO at 1.5x. The overload
threshold spares the bursts; the measured wait keeps the admitted ones within budget.

- Waiting connections: gunicorn's accept queue, read from the kernel (`TCP_INFO` on the
  listening socket: one system call) and divided by the workers. Sync workers take one
  request at a time from one FIFO queue shared by every class, so a newcomer waits for
  whatever is ahead of it. A reading is reused for `DEPTH_REUSE_S` (a busy worker on
  cached pages asks the kernel once every few requests), and a worker that had to wait
  for its connection knows the queue was empty without asking.
- Recent service time: gunicorn's `pre_request` and `post_request` hooks time all a
  worker does for each request (the WSGI call and writing the response; accepting and
  parsing it, tens of microseconds, fall outside), whichever middleware answered it,
  shed requests included: the queue drains at the pace of what is in it. The mean is
  weighted by recency in work done: a request's weight falls by e with every
  `SERVICE_WINDOW_S` of work after it. A cached page is one of hundreds in that window,
  so a rare slow request (a cache refill, a /metrics scrape) moves the mean little;
  when slow pages take over, the window holds a few of them and the mean follows.
- A fresh worker whose first request was a cold page, then meets a burst of cached
  ones, would estimate a long wait while it learns what they cost: the standing
  interval spares it. A worker that waited for its connection saw the queue empty, so
  no wait has stood; its overload, if any, goes on until a second passes without a
  refusal: a queue kept short at the budgets empties now and then, and an overload
  that had to stand an interval again after each let a fresh backlog in each time.

Elsewhere (the test client, runserver) no listener is adopted and no connection is
handed over: the queue reads empty, no wait is measured, and nothing is shed.

Shed responses are counted in `peakstore_requests_shed_total{route_class}` and carry
`X-Peakstore-Shed: <class>`, so load tests count them apart from errors; Django's
request logger does not log them as errors. This middleware
sits before the request metrics, so a shed request is never a 5xx in the route metrics.
The latest estimate is `peakstore_admission_expected_wait_seconds`, the threshold
`peakstore_admission_overload_wait_seconds` and the budgets
`peakstore_admission_budget_seconds{route_class}`; `/ops/` draws the estimate against
the threshold.
"""

from __future__ import annotations

import functools
import math
import re
import socket
import struct
import sys
from collections.abc import Callable, Iterable
from enum import StrEnum
from time import perf_counter
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import Counter, Gauge

from toolkit.manifest import Criticality, ownership_manifest
from toolkit.query import whole_number
from toolkit.routes import STATIC_ROUTE, route_name

SHED_HEADER = "X-Peakstore-Shed"
# ASCII digits only: "²".isdigit() is true, and int("²") raised before any error handling.
_PAGE_NUMBER = whole_number(minimum=1, maximum=10**6)
_BOT_AGENT = re.compile(r"bot|crawl|spider|slurp|scrap", re.IGNORECASE)
# struct tcp_info: 8 one-byte fields, then u32s; for a listening socket the kernel puts
# the accept-queue length in tcpi_unacked, the 5th u32.
_TCPI_UNACKED_OFFSET = 8 + 4 * 4
_TCP_INFO_SIZE = 104
# ...then tcpi_last_data_recv, the 12th u32: milliseconds since the connection last
# received data, on a connection whose request is in, since the request arrived.
_TCPI_LAST_DATA_RECV_OFFSET = 8 + 11 * 4
# A quarter second of work: hundreds of cached pages, so a rare slow request barely
# moves their mean, or a few slow pages, so a store turned slow is seen within a second.
SERVICE_WINDOW_S = 0.25
# A queue reading is reused this long: the overload test lags the queue by at most a
# tenth of the bots' budget (50 ms), and a busy worker asks the kernel every few requests.
DEPTH_REUSE_S = 0.005
# How long a wait must stand to be an overload (after CoDel's interval, RFC 8289): a burst
# that drains within it, or a worker still learning what a burst costs, sheds nothing.
STANDING_INTERVAL_S = 0.2
# A hundred times what gunicorn itself spends between two requests of a busy worker,
# and longer than a scheduler slice: a gap this long is the worker waiting for a
# connection, not the worker preempted on a crowded machine.
IDLE_GAP_S = 0.01
# An overload ends after this long without a refusal: long enough that the queue it
# keeps short at its budgets does not have to stand an interval again after every dip.
OVERLOAD_EXIT_S = 1.0


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
# Every worker estimates the wait in the same shared queue, so the freshest estimate of
# any live worker is the best one; `live`: a dead worker's last estimate is dropped.
expected_wait_seconds = Gauge(
    "peakstore_admission_expected_wait_seconds",
    "Wait a request arriving now would face: waiting connections per worker times "
    "recent service time (the latest estimate of any worker).",
    multiprocess_mode="livemostrecent",
)
budget_seconds = Gauge(
    "peakstore_admission_budget_seconds",
    "Wait past which a request of a route class is refused during an overload.",
    ["route_class"],
    multiprocess_mode="livemostrecent",
)
overload_wait_seconds = Gauge(
    "peakstore_admission_overload_wait_seconds",
    "Expected wait that, standing, makes an overload: requests past their class's "
    "budget are refused while it lasts.",
    multiprocess_mode="livemostrecent",
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
    # META, not request.headers: that would parse every header of every request.
    if _BOT_AGENT.search(request.META.get("HTTP_USER_AGENT", "")):
        return RouteClass.BOT
    if view_class is RouteClass.BROWSE and _page_number(request) >= deep_page:
        return RouteClass.DEEP_BROWSE
    return view_class


def _page_number(request: HttpRequest) -> int:
    """The listing page asked for; 1 when none or not a number (the view answers that)."""
    if "page=" not in request.META.get("QUERY_STRING", ""):
        return 1  # most requests: no query string to parse
    try:
        return int(_PAGE_NUMBER(request.GET.get("page", "")))
    except ValueError:
        return 1


def accept_queue_length(listener: socket.socket) -> int:
    """Connections accepted by the kernel and waiting for a worker (Linux only)."""
    info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
    return int(struct.unpack_from("I", info, _TCPI_UNACKED_OFFSET)[0])


def connection_wait(request: HttpRequest) -> float:
    """Seconds this request waited for a worker: since its bytes arrived (Linux TCP_INFO
    on the connection gunicorn hands the app). 0.0 where unknown (no gunicorn, no TCP)."""
    connection = request.META.get("gunicorn.socket")
    if connection is None:
        return 0.0
    try:
        info = connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
    except (OSError, AttributeError):
        return 0.0
    return struct.unpack_from("I", info, _TCPI_LAST_DATA_RECV_OFFSET)[0] / 1000


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


class QueueDepth(Protocol):
    def depth_per_worker(self) -> float: ...


class ExpectedWait:
    """Estimate how long a request arriving now would wait for a worker; tell an overload.

    One per worker process: gunicorn's request hooks time the requests
    (`request_started`, `request_finished`), the middleware asks whether the worker is
    overloaded (`overloaded`), which reads the wait that has stood (`standing`), and
    reports each refusal (`refused`). Assumes sync workers, one request at a time. Costs
    a clock read or two per call, and a system call (the queue depth) at most once per
    `reuse_s`.
    """

    __slots__ = (
        "_busy",
        "_clock",
        "_finished",
        "_idled",
        "_interval_end",
        "_interval_low",
        "_interval_s",
        "_overloaded",
        "_previous_low",
        "_published",
        "_queue",
        "_read_at",
        "_refused_at",
        "_reuse_s",
        "_served",
        "_standing",
        "_started",
        "_waited",
        "service_s",
    )

    def __init__(
        self,
        queue: QueueDepth,
        *,
        reuse_s: float = DEPTH_REUSE_S,
        interval_s: float = STANDING_INTERVAL_S,
        clock: Callable[[], float] = perf_counter,
    ) -> None:
        self._queue = queue
        self._reuse_s = reuse_s
        self._interval_s = interval_s
        self._clock = clock
        self._started = 0.0
        self._finished = -math.inf
        self._waited = False  # the request being served found the worker idle
        # A request since the last queue reading found the worker idle: the queue was
        # empty then, so whatever wait was read before it no longer stands.
        self._idled = False
        # Seconds of work and requests served, each weighted by recency in work done.
        self._busy = 0.0
        self._served = 0.0
        self.service_s = 0.0  # their ratio: the recent mean service time
        self._read_at = -math.inf
        self._published = math.nan  # unequal to any estimate: the first one is exported
        # The lowest estimate in this interval and in the one before; the lower of the
        # two is the wait that has stood for at least an interval.
        self._interval_end = -math.inf
        self._interval_low = 0.0
        self._previous_low = 0.0
        self._standing = 0.0
        self._overloaded = False
        self._refused_at = -math.inf

    def request_started(self) -> None:
        """Start timing a request (gunicorn's `pre_request` hook)."""
        now = self._clock()
        self._waited = now - self._finished > IDLE_GAP_S
        self._idled = self._idled or self._waited
        self._started = now

    def request_finished(self) -> None:
        """Count the request just answered (gunicorn's `post_request` hook)."""
        self._finished = self._clock()
        self.observe(self._finished - self._started)

    def observe(self, seconds: float) -> None:
        """Count one request's service time into the recent mean."""
        # A request longer than the window counts as one window of work: a worker that
        # was stuck once does not forget every request it answered before.
        seconds = min(seconds, SERVICE_WINDOW_S)
        keep = math.exp(-seconds / SERVICE_WINDOW_S)
        self._busy = self._busy * keep + seconds
        self._served = self._served * keep + 1.0
        self.service_s = self._busy / self._served

    def standing(self) -> float:
        """The lowest expected wait over the last interval or two: what starts an overload."""
        if self._waited:
            # The worker was waiting for this connection: the queue was empty a moment
            # ago, so admit it without asking the kernel.
            return 0.0
        now = self._clock()
        if now - self._read_at >= self._reuse_s:
            self._read(now)
        return self._standing

    def overloaded(self, threshold: float) -> bool:
        """Whether the worker is in an overload (see the module): requests that have
        waited past their class's budget are refused while it lasts."""
        standing = self.standing()  # read on, overloaded or not: it is the exported estimate
        now = self._clock()
        if self._overloaded and now - self._refused_at > OVERLOAD_EXIT_S:
            self._overloaded = False
        if not self._overloaded and standing > threshold:
            self._overloaded = True
            self._refused_at = now  # the overload lasts at least OVERLOAD_EXIT_S
        return self._overloaded

    def refused(self) -> None:
        """Count a refusal: the overload goes on while requests are refused."""
        self._refused_at = self._clock()

    def _read(self, now: float) -> None:
        wait = self._queue.depth_per_worker() * self.service_s
        # Exported only when it changes: an idle store's estimate of 0 costs nothing.
        if wait != self._published:
            self._published = wait
            expected_wait_seconds.set(wait)
        if self._idled:
            # A worker that waited for a connection since the last reading saw the queue
            # empty: no wait has stood. Not "little work since the last reading": a
            # worker shedding a deep queue does little timed work per request (gunicorn
            # spends as long again accepting and parsing outside the hooks), and would
            # see no standing wait exactly while the queue is at its deepest.
            self._interval_low = self._previous_low = 0.0
            self._idled = False
        if now >= self._interval_end:
            self._previous_low, self._interval_low = self._interval_low, wait
            self._interval_end = now + self._interval_s
        else:
            self._interval_low = min(self._interval_low, wait)
        self._standing = min(self._previous_low, self._interval_low)
        self._read_at = now


EXPECTED_WAIT = ExpectedWait(LISTEN_QUEUE)


def gunicorn_worker_adopt(worker: object) -> None:
    """Gunicorn's `post_worker_init` hook: let admission control see the accept queue."""
    listeners = [listener.sock for listener in worker.sockets]  # type: ignore[attr-defined]  # gunicorn is untyped
    LISTEN_QUEUE.adopt(listeners, workers=worker.cfg.workers)  # type: ignore[attr-defined]  # gunicorn is untyped


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
    # Django's request logger logs every 5xx as an error unless the response says it
    # was logged: a spike shedding hundreds a second filled the error log, and each
    # record cost the refusal a formatted line. A shed is counted and in the access log.
    response._has_been_logged = True  # type: ignore[attr-defined]  # django.utils.log's flag
    return response


def _budgets(configured: dict[str, float]) -> dict[RouteClass, float]:
    budgets = {RouteClass(name): float(seconds) for name, seconds in configured.items()}
    if never_shed := {RouteClass.CRITICAL, RouteClass.EXEMPT} & budgets.keys():
        names = ", ".join(sorted(never_shed))
        raise ImproperlyConfigured(f"STOREFRONT_ADMISSION_BUDGETS: {names} are never shed")
    return budgets


class AdmissionMiddleware:
    """During an overload, refuse non-critical requests that waited past their class's budget.

    Settings (`STOREFRONT_ADMISSION_*`): each class's budget in seconds of waiting, the
    expected wait that makes an overload, the deep-page threshold and the Retry-After
    seconds. Costs a cached route lookup and, for a class that can be shed, a clock read
    and at most one system call per `DEPTH_REUSE_S`; during an overload, one more per
    request (its wait). A shed request runs no query and opens no session.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.enabled = settings.STOREFRONT_ADMISSION_ENABLED
        self.budgets = _budgets(settings.STOREFRONT_ADMISSION_BUDGETS)
        self.deep_page = settings.STOREFRONT_ADMISSION_DEEP_PAGE
        self.retry_after = settings.STOREFRONT_ADMISSION_RETRY_AFTER
        self.overload_wait = settings.STOREFRONT_ADMISSION_OVERLOAD_WAIT
        if self.enabled:
            overload_wait_seconds.set(self.overload_wait)
            for route, budget in self.budgets.items():
                budget_seconds.labels(route_class=route.value).set(budget)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.enabled:
            route = route_class(request, deep_page=self.deep_page)
            budget = self.budgets.get(route)
            if (
                budget is not None
                and EXPECTED_WAIT.overloaded(self.overload_wait)
                and connection_wait(request) > budget
            ):
                EXPECTED_WAIT.refused()
                requests_shed.labels(route_class=route.value).inc()
                return _shed_response(request, route, self.retry_after)
        return self.get_response(request)
