"""Light spans: what an unsampled trace records until the tail sampler decides to keep it.

Tail sampling must record every span (a trace turns out slow or failed only at its
end), yet keeps about one in a hundred. The SDK's span does at every call what only a
kept span needs: attribute validation and copying under a lock, bounded event and link
lists, span limits. On a cold product page that was about a third of tracing's cost
(docs/benchmarks.md, "Tracing overhead"). A `LightSpan` records the same facts (name,
parent, kind, times, attributes, events, status) as plain Python values, and becomes
the SDK's `ReadableSpan` (validated as the SDK would) only when its trace is kept.

Spans of a trace sampled at its start stay the SDK's own, as does everything about
context, ids and propagation: `LightTracer` asks the SDK's tracer first, and makes a
light span only where the sampler said "not sampled" (`ShareSampler` answers DROP for
those) inside a request, a task, or a trace that came from another process.
"""

import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType

from opentelemetry import trace as trace_api
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor, Tracer, TracerProvider
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    use_span,
)
from opentelemetry.util.types import AnyValue, Attributes

_UNSET = Status(StatusCode.UNSET)


class LightSpan(trace_api.Span):
    """A recording span kept as plain values, made a `ReadableSpan` only if kept."""

    def __init__(
        self,
        tracer: "LightTracer",
        context: SpanContext,
        *,
        name: str,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: Attributes,
        links: Sequence[Link],
        start_time: int | None,
    ) -> None:
        self._tracer = tracer
        self._context = context
        self._ended = False
        self.name = name
        self.parent = parent
        self.kind = kind
        self.attributes: dict[str, AnyValue] = dict(attributes) if attributes else {}
        self.links = tuple(links)
        self.events: list[Event] = []
        self.status = _UNSET
        self.start_time = start_time if start_time is not None else time.time_ns()
        self.end_time: int | None = None

    @property
    def context(self) -> SpanContext:
        return self._context

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return not self._ended

    def set_attribute(self, key: str, value: AnyValue) -> None:
        self.attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, AnyValue]) -> None:
        self.attributes.update(attributes)

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        self.events.append(Event(name, attributes, timestamp))

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        self.links = (*self.links, Link(context, attributes))

    def update_name(self, name: str) -> None:
        self.name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        if isinstance(status, StatusCode):
            status = Status(status, description)
        # As the SDK's span: OK is final, UNSET never replaces what was set.
        if self.status.status_code is StatusCode.OK or status.status_code is StatusCode.UNSET:
            return
        self.status = status

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        facts: dict[str, AnyValue] = {
            "exception.type": type(exception).__qualname__,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        facts.update(attributes or {})
        self.add_event("exception", facts, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._ended:
            return
        self._ended = True
        self.end_time = end_time if end_time is not None else time.time_ns()
        self._tracer.processor.on_end(self)  # type: ignore[arg-type]  # read as a ReadableSpan

    def readable(self, **more: AnyValue) -> ReadableSpan:
        """The span as the SDK would have recorded it (attributes validated), plus `more`."""
        return ReadableSpan(
            name=self.name,
            context=self._context,
            parent=self.parent,
            resource=self._tracer.resource,
            attributes=BoundedAttributes(attributes={**self.attributes, **more}, immutable=True),
            events=tuple(self.events),
            links=self.links,
            kind=self.kind,
            status=self.status,
            start_time=self.start_time,
            end_time=self.end_time,
            instrumentation_scope=self._tracer.scope,
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        if exc_val is not None and isinstance(exc_val, Exception):
            self.record_exception(exc_val, escaped=True)
            self.set_status(Status(StatusCode.ERROR, f"{type(exc_val).__name__}: {exc_val}"))
        self.end()


class LightTracer(trace_api.Tracer):
    """The SDK's tracer, with light spans where it would make a non-recording one in a trace."""

    def __init__(
        self,
        tracer: trace_api.Tracer,
        processor: SpanProcessor,
        resource: Resource,
        scope: InstrumentationScope,
    ) -> None:
        self._tracer = tracer
        self.processor = processor
        self.resource = resource
        self.scope = scope

    def start_span(
        self,
        name: str,
        context: "trace_api.Context | None" = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace_api.Span:
        span = self._tracer.start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )
        if span.is_recording() or not isinstance(span, NonRecordingSpan):
            return span
        parent_span = trace_api.get_current_span(context)
        parent = parent_span.get_span_context()
        if parent.is_valid:
            # Under a light span or a caller's context: part of a trace. Under a plain
            # non-recording span (a call outside any request): nothing.
            if not (parent.is_remote or isinstance(parent_span, LightSpan)):
                return span
        elif kind is SpanKind.CLIENT:
            return span  # a statement or call outside any request or task
        return LightSpan(
            self,
            span.get_span_context(),
            name=name,
            parent=parent if parent.is_valid else None,
            kind=kind,
            attributes=attributes,
            links=links or (),
            start_time=start_time,
        )

    @contextmanager
    def start_as_current_span(  # type: ignore[override]  # contextlib's, not the API's async-aware one
        self,
        name: str,
        context: "trace_api.Context | None" = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace_api.Span]:
        span = self.start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )
        with use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


class LightTracerProvider(TracerProvider):
    """A `TracerProvider` whose tracers make light spans for unsampled traces."""

    def __init__(self, *, processor: SpanProcessor, **settings: object) -> None:
        super().__init__(**settings)  # type: ignore[arg-type]
        self.add_span_processor(processor)
        self._light_processor = processor
        self._light: dict[tuple[str, str, str], LightTracer] = {}

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> trace_api.Tracer:
        key = (instrumenting_module_name, instrumenting_library_version or "", schema_url or "")
        light = self._light.get(key)
        if light is None:
            tracer = super().get_tracer(
                instrumenting_module_name, instrumenting_library_version, schema_url, attributes
            )
            if not isinstance(tracer, Tracer):
                return tracer  # tracing disabled: the SDK's no-op tracer
            scope = InstrumentationScope(
                instrumenting_module_name, instrumenting_library_version, schema_url, attributes
            )
            light = self._light[key] = LightTracer(
                tracer, self._light_processor, self.resource, scope
            )
        return light
