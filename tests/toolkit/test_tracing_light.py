"""Light spans: an unsampled trace's spans as plain values, the SDK's own once kept."""

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanKind, StatusCode

from toolkit.tracing.light import LightSpan, LightTracerProvider
from toolkit.tracing.sampling import KEPT_BECAUSE, KeepPolicy, ShareSampler, TailSampler, TraceSink


def _tracer(share: float):
    exporter = InMemorySpanExporter()
    tail = TailSampler(TraceSink(exporter), KeepPolicy(slo_seconds=lambda root: 0.5))
    provider = LightTracerProvider(processor=tail, sampler=ShareSampler(share))
    return provider.get_tracer("test"), tail, exporter


def test_an_unsampled_traces_spans_are_light_and_a_sampled_ones_the_sdks():
    light_tracer, _, _ = _tracer(0.0)
    sampled_tracer, _, _ = _tracer(1.0)

    with light_tracer.start_as_current_span("GET /") as light:
        assert isinstance(light, LightSpan)
        assert light.is_recording()
    with sampled_tracer.start_as_current_span("GET /") as sampled:
        assert not isinstance(sampled, LightSpan)
        assert sampled.is_recording()


def test_a_kept_light_trace_is_exported_as_the_sdks_spans_with_every_fact():
    tracer, tail, exporter = _tracer(0.0)

    with tracer.start_as_current_span("GET /p/<slug>/", kind=SpanKind.SERVER) as root:
        root.set_attribute("peakstore.route", "pages:product")
        with tracer.start_as_current_span("cache.compute", attributes={"namespace": "x"}):
            pass
        with (
            pytest.raises(ValueError, match="no such product"),
            tracer.start_as_current_span("pricing.evaluate"),
        ):
            raise ValueError("no such product")
    tail.force_flush()

    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert set(spans) == {"GET /p/<slug>/", "cache.compute", "pricing.evaluate"}
    assert all(isinstance(span, ReadableSpan) for span in spans.values())
    kept = spans["GET /p/<slug>/"]
    assert kept.attributes[KEPT_BECAUSE] == "error"  # a child failed
    assert kept.kind is SpanKind.SERVER
    assert kept.attributes["peakstore.route"] == "pages:product"
    assert spans["cache.compute"].attributes["namespace"] == "x"
    assert spans["cache.compute"].parent.span_id == kept.context.span_id
    failed = spans["pricing.evaluate"]
    assert failed.status.status_code is StatusCode.ERROR
    (event,) = failed.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "ValueError"
    assert kept.start_time <= failed.start_time <= failed.end_time <= kept.end_time


def test_a_dropped_light_trace_leaves_nothing_behind():
    tracer, tail, exporter = _tracer(0.0)

    with tracer.start_as_current_span("GET /"), tracer.start_as_current_span("cache.compute"):
        pass
    tail.force_flush()

    assert exporter.get_finished_spans() == ()
    assert tail._pending == {}


def test_a_client_call_outside_any_request_or_task_is_no_span():
    tracer, tail, _ = _tracer(0.0)

    with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT) as span:
        assert isinstance(span, NonRecordingSpan)
    assert tail._pending == {}


def test_a_kept_spans_attributes_are_validated_as_the_sdk_validates_them():
    tracer, tail, exporter = _tracer(0.0)

    with tracer.start_as_current_span("GET /") as root:
        root.set_attribute("ok", 1)
        root.set_attribute("not.a.value", object())  # type: ignore[arg-type]
        root.set_attribute("http.status_code", 500)
    tail.force_flush()

    (kept,) = exporter.get_finished_spans()
    assert kept.attributes["ok"] == 1
    # What OTLP cannot carry is replaced (by its text or None), as on the SDK's own spans.
    assert isinstance(kept.attributes.get("not.a.value"), str | None)
