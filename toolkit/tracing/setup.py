"""Install one tracer provider per process: the share sampler, the tail sampler, a sink.

Where kept traces go: to an OTLP/HTTP endpoint (any collector, Jaeger, Tempo) when one
is configured, else to the embedded ring (`toolkit.tracing.ring`). Django-free, so the
upstream simulator sets itself up with the same call.
"""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import Span, SpanKind
from opentelemetry.util.types import AttributeValue

from toolkit.tracing.ids import ReservedIdGenerator
from toolkit.tracing.light import LightTracerProvider
from toolkit.tracing.ring import TraceRing
from toolkit.tracing.sampling import ROUTE, KeepPolicy, ShareSampler, TailSampler, TraceSink

# A root without a route (a task, the simulator's answer) is slow past this.
DEFAULT_SLOW_SECONDS = 1.0


@dataclass(frozen=True)
class TracingConfig:
    service_name: str
    sample_share: float
    ring_path: Path
    ring_capacity: int = 500
    otlp_endpoint: str = ""
    # A route's (view name's) SLO in seconds, or None for a route without one.
    route_slo: Callable[[str], float | None] = lambda route: None


@dataclass(frozen=True)
class Tracing:
    """What `tracing_configure` installed: the providers and the tail sampler."""

    provider: TracerProvider
    sampler: ShareSampler
    # For chatty client libraries (Redis): spans only in sampled traces, see setup below.
    sampled_only_provider: TracerProvider
    tail: TailSampler
    exporter: SpanExporter


_installed: list[Tracing] = []


def tracing_installed() -> Tracing | None:
    return _installed[0] if _installed else None


def tracing_configure(config: TracingConfig, *, exporter: SpanExporter | None = None) -> Tracing:
    """Install tracing for this process (once; later calls return what was installed).

    `exporter` replaces the configured destination (tests pass the SDK's in-memory one).
    """
    if _installed:
        return _installed[0]
    if exporter is None:
        exporter = _exporter_for(config)
    tail = TailSampler(TraceSink(exporter), KeepPolicy(slo_seconds=_slo_reader(config)))
    resource = Resource.create({"service.name": config.service_name})
    sampler = ShareSampler(config.sample_share)
    provider = LightTracerProvider(
        processor=tail,
        sampler=sampler,
        resource=resource,
        id_generator=ReservedIdGenerator(),
    )
    # A Redis command is a span only when its trace was sampled at its start: warm pages
    # make one or two cache calls, and a span for each would cost more than the call.
    sampled_only = TracerProvider(sampler=ParentBased(root=ALWAYS_OFF), resource=resource)
    sampled_only.add_span_processor(tail)
    trace.set_tracer_provider(provider)
    installed = Tracing(provider, sampler, sampled_only, tail, exporter)
    _installed.append(installed)
    return installed


def _exporter_for(config: TracingConfig) -> SpanExporter:
    if config.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = config.otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"  # what the SDK does with the variable's base URL
        return OTLPSpanExporter(endpoint=endpoint)
    return TraceRing(config.ring_path, capacity=config.ring_capacity)


def _slo_reader(config: TracingConfig) -> Callable[[ReadableSpan], float]:
    slos: dict[str, float] = {}

    def slo_seconds(root: ReadableSpan) -> float:
        route = (root.attributes or {}).get(ROUTE)
        if not isinstance(route, str):
            return DEFAULT_SLOW_SECONDS
        slo = slos.get(route)
        if slo is None:
            slo = slos[route] = config.route_slo(route) or DEFAULT_SLOW_SECONDS
        return slo

    return slo_seconds


@contextmanager
def server_span(
    name: str, headers: Mapping[str, str], **attributes: AttributeValue
) -> Iterator[Span | None]:
    """Serve a request as a span continuing the caller's trace (`traceparent` in `headers`).

    For servers that are not Django (the upstream simulator); yields None, and costs
    nothing, in a process where tracing was not configured.
    """
    if not _installed:
        yield None
        return
    tracer = _installed[0].provider.get_tracer("peakstore.server")
    with tracer.start_as_current_span(
        name, context=extract(headers), kind=SpanKind.SERVER, attributes=attributes
    ) as span:
        yield span
