"""Tracing for the store's processes: the maintained instrumentations, configured once.

Called from `ToolkitConfig.ready()` (before Django builds its middleware chain, which
the Django instrumentation joins as the outermost middleware) in every process that
sets Django up: gunicorn's workers, Celery's, management commands.

- Django: one server span per request, except the excluded paths (probes, /metrics,
  static files, the trace viewer itself). Its hooks name the route as the metrics do
  (the view name, which the SLOs are keyed by), and put the request id and the cache
  hits and misses on the span.
- The database driver: psycopg (services profile) through its instrumentation; SQLite
  (embedded) per Django connection, as it opens: instrumenting `sqlite3.connect`
  everywhere would trace the disk cache's own SQLite calls, one span per cache hit.
- Redis: commands only in traces sampled at their start (`setup.py`).
- httpx (every upstream call, with `traceparent`) and Celery (publish and run spans,
  the context carried in the task's headers).
"""

import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse
from opentelemetry.propagate import extract
from opentelemetry.trace import Span, SpanKind, StatusCode

from toolkit.accesslog import PAGE_CACHE_META, SHED_HEADER
from toolkit.manifest import ownership_manifest
from toolkit.request_context import REQUEST_ID_HEADER, request_id_get
from toolkit.routes import route_name
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
from toolkit.tracing.tally import tally_start, tally_stop

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
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    DjangoInstrumentor().instrument(
        tracer_provider=tracing.provider,
        middleware_position=_span_position(),
        excluded_urls=",".join(EXCLUDED_PATHS),
        request_hook=_request_hook,
        response_hook=_response_hook,
    )
    # Its middleware, made safe for requests it cannot describe (below).
    settings.MIDDLEWARE = [
        SERVER_SPAN_MIDDLEWARE if entry == DjangoInstrumentor._opentelemetry_middleware else entry
        for entry in settings.MIDDLEWARE
    ]
    PsycopgInstrumentor().instrument(tracer_provider=tracing.provider)
    connection_created.connect(_sqlite_instrument, dispatch_uid="toolkit.tracing.sqlite")
    RedisInstrumentor().instrument(tracer_provider=tracing.sampled_only_provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=tracing.provider)
    CeleryInstrumentor().instrument(tracer_provider=tracing.provider)
    _instrumented.append(True)


def _span_position() -> int:
    """Where the Django span's middleware goes: after PEAKSTORE_TRACING_SPAN_AFTER."""
    middleware = list(settings.MIDDLEWARE)
    after = settings.PEAKSTORE_TRACING_SPAN_AFTER
    return middleware.index(after) + 1 if after in middleware else 0


def _sqlite_instrument(sender: type, connection: object, **_: object) -> None:
    """Trace this Django SQLite connection's statements (not every sqlite3 user's)."""
    if getattr(connection, "vendor", "") != "sqlite":
        return
    from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor

    tracing = tracing_installed()
    raw = connection.connection  # type: ignore[attr-defined]
    connection.connection = SQLite3Instrumentor.instrument_connection(  # type: ignore[attr-defined]
        raw, tracer_provider=tracing.provider if tracing else None
    )


def _request_hook(span: Span, request: HttpRequest) -> None:
    request.META[_TRACED_META] = True
    tally_start()


def _response_hook(span: Span, request: HttpRequest, response: HttpResponse) -> None:
    tally = tally_stop()
    if not span.is_recording():
        return
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


# The request META key the Django span's hook sets: the request went past the page cache.
_TRACED_META = "peakstore.traced"


class TraceRootMiddleware:
    """Reserve the request's trace id; give a kept page-cache hit its span afterwards.

    The outermost middleware. The Django instrumentation's span starts after the page
    cache (`PEAKSTORE_TRACING_SPAN_AFTER`), so a warm hit, the store's hottest path,
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


SERVER_SPAN_MIDDLEWARE = "toolkit.tracing.django.ServerSpanMiddleware"


def _server_span_middleware_base() -> type:
    from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware

    return _DjangoMiddleware


class ServerSpanMiddleware(_server_span_middleware_base()):  # type: ignore[misc]
    """The Django instrumentation's middleware, minus its 500 on a path it cannot describe.

    It builds `http.url` with `wsgiref`, which encodes the path as Latin-1 and raises on
    anything else (a hostile `/admin/auth/group/١٢/` did, in the hostile-input tests):
    that request goes untraced instead. Nothing was started when it raises, so there is
    nothing to end; `process_response` finds no span and passes the response through.
    """

    def process_request(self, request: HttpRequest) -> None:
        try:
            super().process_request(request)
        except UnicodeError:
            return
