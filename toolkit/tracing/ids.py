"""A request's trace id, chosen when it arrives, before any span exists.

Most requests to a busy store are warm page-cache hits, answered before the Django
instrumentation's span would start (`toolkit.tracing.django`): they make no span at
all unless they turn out slow, failed or sampled. Their log lines still need a trace
id, and the span made for a kept hit, or the Django span of a request that goes past
the page cache, must carry that same id: the id is reserved here, in a context
variable, and `ReservedIdGenerator` hands it to the first root span the request starts.
"""

import random
from contextvars import ContextVar, Token

from opentelemetry import trace
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

_reserved: ContextVar[int] = ContextVar("peakstore_trace_id", default=0)


def trace_id_reserve(trace_id: int = 0) -> Token[int]:
    """Reserve `trace_id` (or a random one) for the request starting in this context."""
    return _reserved.set(trace_id or random.getrandbits(128) or 1)


def trace_id_release(token: Token[int]) -> None:
    _reserved.reset(token)


def trace_id_reserved() -> int:
    return _reserved.get()


def trace_id_current() -> str:
    """The current span's trace id, else the reserved one, as 32 hex digits ("" if none)."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        return f"{context.trace_id:032x}"
    reserved = _reserved.get()
    return f"{reserved:032x}" if reserved else ""


class ReservedIdGenerator(RandomIdGenerator):
    """Give a new root span the request's reserved trace id, if there is one."""

    def generate_trace_id(self) -> int:
        return _reserved.get() or super().generate_trace_id()
