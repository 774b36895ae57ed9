"""Tracing for the store's processes: configured once, with the store's own request spans.

Called from `ToolkitConfig.ready()` in every process that sets Django up: gunicorn's
workers, Celery's, management commands.

- Requests: `ServerSpanMiddleware`, one server span per request that gets past the page
  cache, named and labelled as OpenTelemetry's HTTP conventions say, the route named as
  the metrics name it (the view name, which the SLOs are keyed by), with the request id
  and the cache hits and misses. A warm hit makes no span (`TraceRootMiddleware`).
- SQL, in both profiles: an execute wrapper on each Django connection as it opens
  (`toolkit.tracing.statements`), whose timings become spans only in kept traces.
- Upstream calls: `toolkit.tracing.outgoing_request_span`, around each attempt of
  `integrations.upstream`, which carries `traceparent`.
- Redis (commands only in traces sampled at their start, `setup.py`) and Celery (publish
  and run spans, the context in the task's headers): the maintained instrumentations.

Why the store makes its request, SQL and upstream spans itself: OpenTelemetry's Django
and httpx instrumentations did their work on every request, traced or not (about 370 µs
a request and 200 µs an upstream call on a cold product page), and the psycopg and
sqlite3 ones made a span per statement; with them tracing cost a cold product page
12-14% of its throughput. docs/benchmarks.md has the figures.
"""

import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse
from opentelemetry.context import Context
from opentelemetry.propagate import extract
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, get_current_span
from opentelemetry.util.types import AttributeValue

from toolkit.accesslog import PAGE_CACHE_META, SHED_HEADER
from toolkit.manifest import ownership_manifest
from toolkit.request_context import REQUEST_ID_HEADER, request_id_get
from toolkit.routes import route_match, route_name
from toolkit.tracing.ids import trace_id_release, trace_id_reserve, trace_id_reserved
from toolkit.tracing.ring import CACHE_HITS, CACHE_MISSES, REQUEST_ID
from toolkit.tracing.sampling import ROUTE
from toolkit.tracing.setup import (
    DEFAULT_SLOW_SECONDS,
    Tracing,
    TracingConfig,
    tracing_configure,
    tracing_installed,
)
from toolkit.tracing.statements import StatementRecorder
from toolkit.tracing.tally import RequestTally, tally_start, tally_stop

# Methods named as they are; any other is "_OTHER" (a client chooses it: unbounded).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})

# Paths never traced: probes and scrapes (many a minute, nothing to learn), static
# files, and the trace viewer, which would fill the ring with itself.
EXCLUDED_PATHS = ("/healthz", "/readyz", "/metrics", "/static/", "/ops/traces/")


def tracing_setup(*, service_name: str = "") -> Tracing | None:
    """Configure tracing from settings and instrument the libraries; None when off."""
    if not settings.PEAKSTORE_TRACING_ENABLED:
        return None
    tracing = tracing_configure(
        TracingConfig(
            service_name=service_name or _service_name(settings.PEAKSTORE_TRACING_SERVICE),
            sample_share=settings.PEAKSTORE_TRACING_SAMPLE_SHARE,
            ring_path=settings.PEAKSTORE_TRACING_RING_PATH,
            ring_capacity=settings.PEAKSTORE_TRACING_RING_SIZE,
            otlp_endpoint=settings.PEAKSTORE_TRACING_OTLP_ENDPOINT,
            route_slo=_route_slo,
        )
    )
    _instrument(tracing)
    return tracing


def _service_name(base: str) -> str:
    """`peakstore-worker` in a Celery worker, `peakstore-beat` in beat, else `peakstore-web`.

    What the waterfall shows beside each span; read from how the process was started,
    since Django is set up the same way in all of them.
    """
    program = Path(sys.argv[0]).parent.name if sys.argv else ""
    if program == "celery" or Path(sys.argv[0]).name == "celery":
        for role in ("worker", "beat"):
            if role in sys.argv[1:]:
                return f"{base}-{role}"
    return f"{base}-web"


def _route_slo(route: str) -> float | None:
    entry = ownership_manifest().route(route)
    return entry.slo_p95_ms / 1000 if entry else None


_instrumented: list[bool] = []


def _instrument(tracing: Tracing) -> None:
    if _instrumented:
        return
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    connection_created.connect(_statements_record, dispatch_uid="toolkit.tracing.statements")
    RedisInstrumentor().instrument(tracer_provider=tracing.sampled_only_provider)
    CeleryInstrumentor().instrument(tracer_provider=tracing.provider)
    _instrumented.append(True)


def _statements_record(sender: type, connection: BaseDatabaseWrapper, **_: object) -> None:
    """Record this Django connection's statements for the traces that are kept."""
    if any(isinstance(wrapper, StatementRecorder) for wrapper in connection.execute_wrappers):
        return  # a reconnect of the same connection object
    tracing = tracing_installed()
    if tracing is None:
        return
    recorder = StatementRecorder(
        tracing.tail.statement_record,
        vendor=connection.vendor,
        name=str(connection.settings_dict.get("NAME") or ""),
    )
    # First in line: `connection.execute_wrapper()` blocks pop the last one on exit,
    # and a connection may open inside such a block.
    connection.execute_wrappers.insert(0, recorder)


# The request META key `ServerSpanMiddleware` sets: the request went past the page cache.
_TRACED_META = "peakstore.traced"


class TraceRootMiddleware:
    """Reserve the request's trace id; give a kept page-cache hit its span afterwards.

    The outermost middleware. The request's span (`ServerSpanMiddleware`) starts after
    the page cache, so a warm hit, the store's hottest path,
    makes no span: this middleware reads the clock twice, and only when the hit was an
    error, slower than its route's SLO or in the sampled share does it record a span
    for it after the fact, with the times it took. Everything else costs nothing more.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        tracing = tracing_installed()
        if tracing is None:
            raise MiddlewareNotUsed("tracing is off (PEAKSTORE_TRACING=0)")
        self.get_response = get_response
        self.sampler = tracing.sampler
        self.tracer = tracing.provider.get_tracer("peakstore.page_cache")
        self.slo_ns: dict[str, int] = {}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        traceparent = meta.get("HTTP_TRACEPARENT")
        token = trace_id_reserve(_trace_id_from(traceparent) if traceparent else 0)
        started = time.time_ns()
        try:
            response = self.get_response(request)
            if _TRACED_META not in meta:
                self._untraced_answer(request, response, started, traceparent)
            return response
        finally:
            trace_id_release(token)

    def _untraced_answer(
        self, request: HttpRequest, response: HttpResponse, started: int, traceparent: str | None
    ) -> None:
        """Record a span for an answer the Django span did not see, if it is kept."""
        ended = time.time_ns()
        route = route_name(request)
        slo_ns = self.slo_ns.get(route)
        if slo_ns is None:
            slo_ns = self.slo_ns[route] = int((_route_slo(route) or DEFAULT_SLOW_SECONDS) * 1e9)
        failed = response.status_code >= 500 and not response.has_header(SHED_HEADER)
        if not (failed or ended - started > slo_ns or self._sampled(traceparent)):
            return
        if request.path.startswith(EXCLUDED_PATHS):
            return
        parent = extract(request.headers) if traceparent else None
        span = self.tracer.start_span(
            f"{request.method} {route}",
            context=parent,
            kind=SpanKind.SERVER,
            start_time=started,
            attributes={
                ROUTE: route,
                "http.method": request.method or "",
                "http.target": request.path,
                "http.status_code": response.status_code,
                REQUEST_ID: response.get(REQUEST_ID_HEADER, ""),
                "peakstore.page_cache": request.META.get(PAGE_CACHE_META, "answered early"),
                CACHE_HITS: int(request.META.get(PAGE_CACHE_META) == "hit"),
                # Admission control's decision when it shed the request (the class).
                "peakstore.shed": response.get(SHED_HEADER, ""),
            },
        )
        if failed:
            span.set_status(StatusCode.ERROR)
        span.end(end_time=ended)

    def _sampled(self, traceparent: str | None) -> bool:
        if traceparent:
            return traceparent.endswith("-01")
        return self.sampler.picks(trace_id_reserved())


def _trace_id_from(traceparent: str) -> int:
    """The trace id of a W3C `traceparent` header, or 0 when it is not one."""
    parts = traceparent.split("-")
    if len(parts) != 4 or len(parts[1]) != 32:
        return 0
    try:
        return int(parts[1], 16)
    except ValueError:
        return 0


class ServerSpanMiddleware:
    """One server span per request that got past the page cache.

    Named `<METHOD> <route pattern>`, with OpenTelemetry's HTTP attributes (the
    conventions the Django instrumentation reports by default), the caller's trace
    continued from `traceparent`, and what the store adds: the route's view name (what
    the SLOs and metrics are keyed by), the request id, and the request's cache hits
    and misses per namespace, counted without spans (`toolkit.tracing.tally`).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        tracing = tracing_installed()
        if tracing is None:
            raise MiddlewareNotUsed("tracing is off (PEAKSTORE_TRACING=0)")
        self.get_response = get_response
        self.tracer = tracing.provider.get_tracer("peakstore.server")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(EXCLUDED_PATHS):
            return self.get_response(request)
        meta = request.META
        meta[_TRACED_META] = True
        match = route_match(request)
        method = request.method if request.method in _METHODS else "_OTHER"
        pattern = getattr(match, "route", "") if match is not None else ""
        attributes: dict[str, AttributeValue] = {
            "http.method": method,
            "http.scheme": request.scheme or "http",
            "http.host": meta.get("HTTP_HOST", ""),
            "http.target": meta.get("RAW_URI") or request.get_full_path(),
            "http.flavor": meta.get("SERVER_PROTOCOL", "").removeprefix("HTTP/"),
            "net.peer.ip": meta.get("REMOTE_ADDR", ""),
        }
        if user_agent := meta.get("HTTP_USER_AGENT"):
            attributes["http.user_agent"] = user_agent
        if pattern:
            attributes["http.route"] = pattern
        tally_start()
        with self.tracer.start_as_current_span(
            _span_name(method, pattern),
            context=_caller_context(meta),
            kind=SpanKind.SERVER,
            attributes=attributes,
        ) as span:
            try:
                response = self.get_response(request)
            finally:
                tally = tally_stop()
            if span.is_recording():
                _describe(span, request, response, tally)
            return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        """A view's exception, on the span, before Django turns it into a 500."""
        span = get_current_span()
        if span.is_recording():
            span.record_exception(exception)


def _span_name(method: str, pattern: str) -> str:
    """As OpenTelemetry's HTTP conventions name a server span: `GET p/<slug:slug>/`."""
    if method == "_OTHER":
        return "HTTP"
    return f"{method} {pattern}" if pattern else method


def _caller_context(meta: dict[str, object]) -> Context | None:
    """The caller's trace context from W3C `traceparent` (and baggage), if it sent one."""
    traceparent = meta.get("HTTP_TRACEPARENT")
    if not isinstance(traceparent, str):
        return None
    carrier = {"traceparent": traceparent}
    for header, key in (("HTTP_TRACESTATE", "tracestate"), ("HTTP_BAGGAGE", "baggage")):
        if isinstance(value := meta.get(header), str):
            carrier[key] = value
    return extract(carrier)


def _describe(
    span: Span, request: HttpRequest, response: HttpResponse, tally: RequestTally | None
) -> None:
    span.set_attribute("http.status_code", response.status_code)
    if response.status_code >= 500 and not response.has_header(SHED_HEADER):
        span.set_status(Status(StatusCode.ERROR))
    span.set_attribute(ROUTE, route_name(request))
    if request_id := request_id_get():
        span.set_attribute(REQUEST_ID, request_id)
    if tally is not None and (tally.hits or tally.misses):
        span.set_attribute(CACHE_HITS, sum(tally.hits.values()))
        span.set_attribute(CACHE_MISSES, sum(tally.misses.values()))
        span.set_attribute(
            "peakstore.cache.namespaces",
            [
                f"{namespace} {tally.hits[namespace]} hit {tally.misses[namespace]} miss"
                for namespace in sorted(set(tally.hits) | set(tally.misses))
            ],
        )
