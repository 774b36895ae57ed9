"""Per-route request metrics: latency against the route's SLO, errors, timeouts, SQL.

Routes are labelled by view name (`pages:product`), never by raw path, so a million
product URLs are one series. Histogram buckets include every SLO in the ownership
manifest, so "share of requests within SLO" is an exact bucket, not an interpolation.
A request "times out" when it takes longer than its SLO times
`PEAKSTORE_METRICS_TIMEOUT_FACTOR`: slower than any visitor waits for, even if the
server eventually answered.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse
from prometheus_client import Counter, Gauge, Histogram

from toolkit.accesslog import QUERIES_META
from toolkit.manifest import ownership_manifest
from toolkit.metrics.sql import QueryTally
from toolkit.once import created_once
from toolkit.routes import route_name

logger = logging.getLogger(__name__)

# Status codes by hundred: "2xx" without formatting a string per request.
_STATUS_CLASSES = tuple(f"{hundred}xx" for hundred in range(10))
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass(frozen=True)
class HttpMetrics:
    duration: Histogram
    responses: Counter
    timeouts: Counter
    in_flight: Gauge
    queries: Counter
    duplicate_requests: Counter
    duplicate_queries: Counter


@created_once
def http_metrics() -> HttpMetrics:
    """Create the request metrics once per process, with a bucket at every route SLO."""
    buckets = sorted(set(LATENCY_BUCKETS) | set(ownership_manifest().slo_seconds()))
    return HttpMetrics(
        duration=Histogram(
            "peakstore_http_request_duration_seconds",
            "Time to answer a request, by route (view name) and method.",
            ["route", "method"],
            buckets=buckets,
        ),
        responses=Counter(
            "peakstore_http_responses",
            "Responses by route, method and status class (2xx, 3xx, 4xx, 5xx).",
            ["route", "method", "status"],
        ),
        timeouts=Counter(
            "peakstore_http_request_timeouts",
            "Requests slower than their route's SLO times PEAKSTORE_METRICS_TIMEOUT_FACTOR.",
            ["route", "method"],
        ),
        in_flight=Gauge(
            "peakstore_http_requests_in_flight",
            "Requests being handled now, summed over the live worker processes.",
            multiprocess_mode="livesum",
        ),
        # A counter, not a histogram: only the mean per request is read (over the
        # duration histogram's count), and a histogram's two writes per request were a
        # tenth of what the metrics cost a cached page (bench_metrics_overhead).
        queries=Counter(
            "peakstore_http_request_queries",
            "SQL statements requests ran, by route (per request: over the count of "
            "peakstore_http_request_duration_seconds).",
            ["route"],
        ),
        duplicate_requests=Counter(
            "peakstore_http_duplicate_query_requests",
            "Requests that ran one statement shape more than once (an N+1 suspect).",
            ["route"],
        ),
        duplicate_queries=Counter(
            "peakstore_http_duplicate_queries",
            "Repeated executions of one statement shape in one request, by fingerprint.",
            ["route", "fingerprint"],
        ),
    )


class _ThreadExecuteWrappers(threading.local):
    """The `execute_wrappers` lists of this thread's connections, looked up once.

    `connections[alias]` costs about 10,000 instructions in a sync thread (asgiref's
    `Local` asks asyncio for a running loop and catches the RuntimeError): a seventh of
    what the metrics cost a cached page. A thread's connection objects live as long as
    the thread; closing one (`close_old_connections`) keeps the object and its list.
    """

    lists: tuple[list, ...] | None = None  # the class default: no failed attribute lookup


@dataclass(frozen=True)
class _RouteInstruments:
    """The labelled children of one (route, method), looked up once per process."""

    duration: Histogram
    timeouts: Counter
    queries: Counter
    timeout_after: float
    responses: dict[str, Counter]  # by status class, filled as classes are seen


class RequestMetricsMiddleware:
    """Time, count and SQL-profile every request; the outermost middleware.

    The SQL tally wraps the default connection, and each read replica's when there are
    some (`toolkit.replicas`): it adds no query (the page query counts stay exact) and
    keeps nothing past the response.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not settings.PEAKSTORE_METRICS_ENABLED:
            raise MiddlewareNotUsed("PEAKSTORE_METRICS_ENABLED is off")
        self.get_response = get_response
        self.metrics = http_metrics()
        self.timeout_factor = settings.PEAKSTORE_METRICS_TIMEOUT_FACTOR
        self._instruments: dict[tuple[str, str], _RouteInstruments] = {}
        self._logged_duplicates: set[tuple[str, str]] = set()
        replicas = [alias for alias in settings.TOOLKIT_DB_REPLICAS if alias in settings.DATABASES]
        self.aliases = (DEFAULT_DB_ALIAS, *replicas)
        self._thread = _ThreadExecuteWrappers()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tally = QueryTally()
        # What connection.execute_wrapper(tally) does, without a generator-based context
        # manager's cost on every request (bench_metrics_overhead counts microseconds).
        wrapper_lists = self._thread.lists or self._thread_lists()
        for wrappers in wrapper_lists:
            wrappers.append(tally)
        in_flight = self.metrics.in_flight
        in_flight.inc()
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            in_flight.dec()
            for wrappers in wrapper_lists:
                wrappers.remove(tally)
        elapsed = time.perf_counter() - started
        request.META[QUERIES_META] = tally.count  # for the access log
        self._observe(request, response.status_code, elapsed, tally)
        return response

    def _thread_lists(self) -> tuple[list, ...]:
        """This thread's default connection's and replicas' `execute_wrappers` lists."""
        lists = tuple(connections[alias].execute_wrappers for alias in self.aliases)
        self._thread.lists = lists
        return lists

    def _observe(
        self, request: HttpRequest, status: int, elapsed: float, tally: QueryTally
    ) -> None:
        route = route_name(request)
        method = request.method if request.method in _METHODS else "OTHER"
        instruments = self._instruments.get((route, method)) or self._instruments_for(route, method)
        instruments.duration.observe(elapsed)
        if tally.count:  # a cached page runs none: no write
            instruments.queries.inc(tally.count)
        status_class = _STATUS_CLASSES[status // 100]
        responses = instruments.responses.get(status_class)
        if responses is None:
            responses = self.metrics.responses.labels(route, method, status_class)
            instruments.responses[status_class] = responses
        responses.inc()
        if elapsed > instruments.timeout_after:
            instruments.timeouts.inc()
        if tally.count > 1 and (duplicates := tally.duplicates()):
            self._observe_duplicates(route, duplicates)

    def _instruments_for(self, route: str, method: str) -> _RouteInstruments:
        entry = ownership_manifest().route(route)
        slo_seconds = entry.slo_p95_ms / 1000 if entry else max(LATENCY_BUCKETS)
        instruments = _RouteInstruments(
            duration=self.metrics.duration.labels(route, method),
            timeouts=self.metrics.timeouts.labels(route, method),
            queries=self.metrics.queries.labels(route),
            timeout_after=slo_seconds * self.timeout_factor,
            responses={},
        )
        self._instruments[(route, method)] = instruments
        return instruments

    def _observe_duplicates(self, route: str, duplicates: dict[str, tuple[int, str]]) -> None:
        self.metrics.duplicate_requests.labels(route).inc()
        for fingerprint, (executions, example) in duplicates.items():
            self.metrics.duplicate_queries.labels(route, fingerprint).inc(executions - 1)
            # Once per process and shape: the fingerprint in the metric, the SQL here.
            if (route, fingerprint) not in self._logged_duplicates:
                self._logged_duplicates.add((route, fingerprint))
                logger.warning(
                    "route %s ran one statement shape %d times in a request",
                    route,
                    executions,
                    extra={"route": route, "fingerprint": fingerprint, "sql": example[:500]},
                )
