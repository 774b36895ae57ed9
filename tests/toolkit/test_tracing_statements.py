"""SQL statements in traces: timings held with the trace, spans only when it is kept."""

import pytest
from django.db import DatabaseError, connection, transaction
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from toolkit.tracing.light import LightTracerProvider
from toolkit.tracing.sampling import KEPT_BECAUSE, KeepPolicy, ShareSampler, TailSampler, TraceSink
from toolkit.tracing.statements import StatementRecorder

pytestmark = pytest.mark.django_db


@pytest.fixture
def traced():
    """A provider of the test's own, and its statements recorded on the default connection."""
    exporter = InMemorySpanExporter()
    tail = TailSampler(TraceSink(exporter), KeepPolicy(slo_seconds=lambda root: 0.5))
    provider = LightTracerProvider(processor=tail, sampler=ShareSampler(0.0))
    recorder = StatementRecorder(tail.statement_record, vendor=connection.vendor, name="peakstore")
    with connection.execute_wrapper(recorder):
        yield provider.get_tracer("test"), tail, exporter


def _select(value: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s", [value])


def test_a_dropped_traces_statements_cost_no_span_and_leave_nothing_held(traced):
    tracer, tail, exporter = traced

    with tracer.start_as_current_span("GET /p/<slug>/"):
        _select(1)
        _select(2)
    tail.force_flush()

    assert exporter.get_finished_spans() == ()
    assert tail._pending == {}


def test_a_kept_traces_statements_are_spans_of_the_span_they_ran_in(traced):
    tracer, tail, exporter = traced

    with tracer.start_as_current_span("GET /p/<slug>/") as root:
        _select(1)
        with tracer.start_as_current_span("cache.compute") as compute:
            _select(2)
        root.set_attribute("http.status_code", 500)  # kept: a 5xx
    tail.force_flush()

    spans = exporter.get_finished_spans()
    statements = [span for span in spans if "db.statement" in span.attributes]
    assert [span.kind for span in statements] == [SpanKind.CLIENT, SpanKind.CLIENT]
    assert {span.attributes["db.system"] for span in statements} == {connection.vendor}
    parents = {span.parent.span_id for span in statements}
    assert parents == {root.get_span_context().span_id, compute.get_span_context().span_id}
    assert all(span.context.trace_id == root.get_span_context().trace_id for span in statements)
    kept_root = next(span for span in spans if KEPT_BECAUSE in span.attributes)
    assert all(
        kept_root.start_time <= span.start_time <= span.end_time <= kept_root.end_time
        for span in statements
    )


def test_a_statement_outside_any_span_is_not_recorded(traced):
    _tracer, tail, _exporter = traced

    _select(1)

    assert tail._pending == {}


def test_a_failing_statement_keeps_its_trace_as_an_error(traced):
    tracer, tail, exporter = traced

    # The statement in a savepoint, so that PostgreSQL's test transaction survives it.
    with (
        tracer.start_as_current_span("GET /p/<slug>/"),
        pytest.raises(DatabaseError),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT * FROM no_such_table")
    tail.force_flush()

    spans = exporter.get_finished_spans()
    (failed,) = [
        span for span in spans if "no_such_table" in span.attributes.get("db.statement", "")
    ]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.type"]
    (root,) = [span for span in spans if KEPT_BECAUSE in span.attributes]
    assert root.attributes[KEPT_BECAUSE] == "error"
