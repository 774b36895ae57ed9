"""Tail sampling, the trace ring and the OTLP route, on providers of the tests' own."""

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)

from toolkit.tracing.light import LightTracerProvider
from toolkit.tracing.ring import TraceRing
from toolkit.tracing.sampling import (
    KEPT_BECAUSE,
    ROUTE,
    KeepPolicy,
    ShareSampler,
    TailSampler,
    TraceSink,
)


def _provider(
    exporter, *, share: float = 0.0, slo: float = 0.2
) -> tuple[TracerProvider, TailSampler]:
    tail = TailSampler(TraceSink(exporter), KeepPolicy(slo_seconds=lambda root: slo))
    provider = LightTracerProvider(processor=tail, sampler=ShareSampler(share))
    return provider, tail


def _request(provider, *, status: int = 200, duration_s: float = 0.01, queries: int = 2) -> int:
    """A request-like trace: a root with `queries` SQL children; return its trace id."""
    tracer = provider.get_tracer("test")
    start = 1_000_000_000
    root = tracer.start_span(
        "GET /p/<slug>/", start_time=start, attributes={ROUTE: "pages:product"}
    )
    context = set_span_in_context(root)
    for index in range(queries):
        child = tracer.start_span("SELECT", context=context, start_time=start + 1 + index)
        child.set_attribute("db.system", "sqlite")
        child.set_attribute("db.statement", "SELECT * FROM product WHERE id = %s")
        child.end(end_time=start + 1 + index + 1000)
    root.set_attribute("http.status_code", status)
    root.end(end_time=start + int(duration_s * 1e9))
    return root.get_span_context().trace_id


def test_a_fast_unsampled_request_is_dropped_whole():
    exporter = InMemorySpanExporter()
    provider, tail = _provider(exporter, share=0.0)

    _request(provider)
    tail.force_flush()

    assert exporter.get_finished_spans() == ()
    assert tail._pending == {}  # nothing left behind either


@pytest.mark.parametrize(
    ("status", "duration_s", "reason"),
    [(500, 0.01, "error"), (200, 0.5, "slow")],
)
def test_errors_and_requests_over_their_slo_are_kept_with_every_span(status, duration_s, reason):
    exporter = InMemorySpanExporter()
    provider, tail = _provider(exporter, share=0.0, slo=0.2)

    trace_id = _request(provider, status=status, duration_s=duration_s, queries=3)
    tail.force_flush()

    spans = exporter.get_finished_spans()
    assert len(spans) == 4
    assert {span.context.trace_id for span in spans} == {trace_id}
    root = next(span for span in spans if span.parent is None)
    assert root.attributes[KEPT_BECAUSE] == reason


def test_the_sampled_share_is_decided_at_the_start_and_followed_by_remote_children():
    exporter = InMemorySpanExporter()
    provider, tail = _provider(exporter, share=1.0)
    trace_id = _request(provider)
    # Another process's part of a trace its caller sampled (a Celery task, the simulator).
    remote = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    other, other_tail = _provider(exporter, share=0.0)
    task = other.get_tracer("test").start_span(
        "run/checkout.tasks.deliver", context=set_span_in_context(NonRecordingSpan(remote))
    )
    task.end()
    tail.force_flush()
    other_tail.force_flush()

    kept = exporter.get_finished_spans()
    assert trace_id in {span.context.trace_id for span in kept}
    task_span = next(span for span in kept if span.name == "run/checkout.tasks.deliver")
    assert task_span.context.trace_id == 0xABC
    assert task_span.attributes[KEPT_BECAUSE] == "sampled"


def test_a_share_of_zero_samples_nothing_and_one_everything():
    assert not any(ShareSampler(0.0).picks(trace_id) for trace_id in range(1, 10_000, 7))
    assert all(ShareSampler(1.0).picks(trace_id) for trace_id in range(1, 10_000, 7))
    picked = sum(
        ShareSampler(0.25).picks(trace_id * 0x9E3779B97F4A7C15) for trace_id in range(4000)
    )
    assert 800 < picked < 1200


def test_an_error_in_a_child_keeps_the_trace():
    exporter = InMemorySpanExporter()
    provider, tail = _provider(exporter, share=0.0)
    tracer = provider.get_tracer("test")
    with (
        tracer.start_as_current_span("run/task"),
        tracer.start_as_current_span("POST payment") as call,
    ):
        call.set_status(StatusCode.ERROR)
    tail.force_flush()

    assert {span.name for span in exporter.get_finished_spans()} == {"run/task", "POST payment"}


def test_the_ring_keeps_the_newest_fragments_and_groups_them_by_trace(tmp_path):
    ring = TraceRing(tmp_path / "traces.sqlite3", capacity=3)
    provider, tail = _provider(ring, share=0.0)
    trace_ids = [_request(provider, status=500, queries=index) for index in range(5)]
    tail.force_flush()

    recent = ring.recent()
    assert [summary.trace_id for summary in recent] == [f"{t:032x}" for t in trace_ids[:1:-1]]
    newest = recent[0]
    assert (newest.route, newest.status, newest.kept_because, newest.sql_count) == (
        "pages:product",
        "500",
        "error",
        4,
    )
    spans = ring.spans(newest.trace_id)
    assert len(spans) == 5
    assert spans[0].parent_id == ""
    assert ring.spans(f"{trace_ids[0]:032x}") == []  # past the capacity: gone


class _Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP receiver: decodes each export request it is sent."""

    received: list[ExportTraceServiceRequest] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.received.append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def otlp_collector() -> Iterator[str]:
    _Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    finally:
        server.shutdown()
        server.server_close()


def test_kept_traces_reach_an_otlp_endpoint(otlp_collector):
    provider, tail = _provider(OTLPSpanExporter(endpoint=otlp_collector, timeout=5), share=0.0)

    trace_id = _request(provider, status=503, queries=1)
    _request(provider, status=200, queries=1)  # fast and not sampled: never sent
    tail.force_flush()

    spans = [
        span
        for request in _Collector.received
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    assert {span.trace_id.hex() for span in spans} == {f"{trace_id:032x}"}
    assert sorted(span.name for span in spans) == ["GET /p/<slug>/", "SELECT"]


def test_a_statement_outside_any_request_or_task_is_no_trace():
    exporter = InMemorySpanExporter()
    provider, tail = _provider(exporter, share=1.0)

    with provider.get_tracer("test").start_as_current_span("SELECT", kind=SpanKind.CLIENT) as span:
        recording = span.is_recording()
    tail.force_flush()

    assert not recording
    assert exporter.get_finished_spans() == ()


def test_spans_ending_after_their_root_never_fill_the_pending_table():
    exporter = InMemorySpanExporter()
    tail = TailSampler(TraceSink(exporter), KeepPolicy(slo_seconds=lambda root: 0.2), max_pending=3)
    provider = LightTracerProvider(processor=tail, sampler=ShareSampler(0.0))
    tracer = provider.get_tracer("test")
    for _ in range(10):  # a child that outlives its request, ten times over
        root = tracer.start_span("GET /p/<slug>/")
        late = tracer.start_span("GET reviews", context=set_span_in_context(root))
        root.end()
        late.end()

    # A trace afterwards is still whole.
    with tracer.start_as_current_span("run/task"), tracer.start_as_current_span("POST erp") as call:
        call.set_status(StatusCode.ERROR)
    tail.force_flush()

    assert len(tail._pending) <= 3
    assert {span.name for span in exporter.get_finished_spans()} == {"run/task", "POST erp"}
