"""Tracing: OpenTelemetry with tail sampling, kept traces in a ring or sent over OTLP.

The public part for the store's code: `store_span(name, **attributes)` names a piece of
work (pricing a cart, a search, a fan-out, a reconciliation run) as a span;
`outgoing_request_span(method, url, headers)` is an HTTP call to another service;
`span_annotate(key, value)` puts a fact on the current span without making one (what the
hot path uses); `trace_id_get()` for log lines. Setup lives in `toolkit.tracing.django`
(the store's processes) and `toolkit.tracing.setup` (the simulator); the embedded store
in `toolkit.tracing.ring`. Why and how: toolkit/README.md, "Tracing".
"""

import functools
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import ParamSpec, TypeVar

from opentelemetry import trace
from opentelemetry.propagate import inject
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.util.types import AttributeValue

from toolkit.tracing.ids import trace_id_current

P = ParamSpec("P")
R = TypeVar("R")


def store_span(name: str, **attributes: AttributeValue) -> AbstractContextManager[Span]:
    """Run the block as a span named `name` (a no-op span when tracing is off).

    An exception leaving the block marks the span as an error, so its trace is kept.
    """
    return _store_tracer().start_as_current_span(name, attributes=attributes)


def _store_tracer() -> Tracer:
    """The store's tracer from the provider installed now, not through the API's proxy.

    The provider caches its tracers by name; the proxy would add a generator per span.
    """
    return trace.get_tracer_provider().get_tracer("peakstore")


@contextmanager
def outgoing_request_span(
    method: str, url: str, headers: dict[str, str], **attributes: AttributeValue
) -> Iterator[Span]:
    """Run one outgoing HTTP request as a client span; put `traceparent` in `headers`.

    The caller sets `http.status_code` on the span when an answer comes; an exception
    leaving the block marks it failed. OpenTelemetry's httpx instrumentation did this at
    about 200 microseconds a call, traced or not (it parses each URL again): the store
    calls other services through one client (`integrations.upstream`), so it does it there.
    """
    with _store_tracer().start_as_current_span(
        method,
        kind=SpanKind.CLIENT,
        attributes={"http.method": method, "http.url": url, **attributes},
    ) as span:
        inject(headers)
        yield span


def traced(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Run every call of the decorated function as a span named `name`.

    For work worth seeing in a waterfall that a warm page never does (pricing a cart,
    a search, a reconciliation run): a span costs a few microseconds.
    """

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with _store_tracer().start_as_current_span(name):
                return function(*args, **kwargs)

        return run

    return decorate


def span_annotate(key: str, value: AttributeValue) -> None:
    """Set `key` on the current span, if one is recording (about a microsecond)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute(f"peakstore.{key}", value)


def trace_id_get() -> str:
    """The current trace id as 32 hex digits, or "" outside any trace.

    Inside a request that has no span (a warm page-cache hit), the id reserved for it.
    """
    return trace_id_current()


__all__ = ["outgoing_request_span", "span_annotate", "store_span", "trace_id_get", "traced"]
