"""Tail sampling: record every span, decide at the end of each local root what to keep.

Why not the SDK's samplers alone: they decide when a trace starts, before anyone knows
it will be slow or fail, and "every error and every request over its route's SLO" is
the point of keeping traces at all. So:

- Every span is recorded (a span that is not recorded cannot be kept later). `ShareSampler`
  marks a small share of new traces *sampled* at their start, and their spans are the
  SDK's own. That flag travels in `traceparent` to Celery tasks and the simulator, which
  keep their parts of a sampled trace too: the random share shows whole journeys. The
  other traces' spans are light (`toolkit.tracing.light`): the sampler answers DROP for
  them, and the tracer records them as plain values instead of the SDK's span.
- `TailSampler` holds a trace's finished spans (and its SQL statements' timings,
  `toolkit.tracing.statements`) in memory until its local root ends
  (the request, the task, the simulator's answer), then keeps the lot when the root is
  an error or a 5xx, took longer than its route's SLO, or was sampled; otherwise it
  drops them. A dropped trace costs its span objects and a dict entry, nothing else:
  no serialisation, no I/O. Kept traces go to a `TraceSink`, which exports them on a
  thread of its own, never on the request's.

A slow or failing request kept at its end has only its own process's spans: its Celery
tasks and upstream calls were told "not sampled" when they started, and kept their
parts only if they were slow or failed themselves.
"""

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, StatusCode, get_current_span
from opentelemetry.util.types import Attributes

from toolkit.tracing.light import LightSpan
from toolkit.tracing.statements import Statement, statement_spans

logger = logging.getLogger(__name__)

_TRACE_ID_SPACE = 1 << 64  # the low 64 bits of a random trace id are uniform
_SAMPLE = Decision.RECORD_AND_SAMPLE
_DROPPED = SamplingResult(Decision.DROP)

# Root attributes the keep decision and the trace list read.
ROUTE = "peakstore.route"
KEPT_BECAUSE = "peakstore.kept_because"


class ShareSampler(Sampler):
    """Mark `share` of new traces, and every child of a marked one, sampled; DROP the rest.

    DROP here means "not the SDK's span": `LightTracer` records those as light spans.
    """

    def __init__(self, share: float) -> None:
        self.share = min(max(share, 0.0), 1.0)
        self._bound = round(self.share * _TRACE_ID_SPACE)

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: object = None,
    ) -> SamplingResult:
        # The result carries the span's starting attributes: the SDK takes them from it.
        parent = get_current_span(parent_context).get_span_context()
        if parent.is_valid:
            if not parent.trace_flags.sampled:
                return _DROPPED
            return SamplingResult(_SAMPLE, attributes, parent.trace_state)
        if kind is SpanKind.CLIENT:
            # A statement or call outside any request or task (migrations, a shell, a
            # command): nothing to explain it by, so not a trace of its own.
            return _DROPPED
        return SamplingResult(_SAMPLE, attributes) if self.picks(trace_id) else _DROPPED

    def picks(self, trace_id: int) -> bool:
        """Whether a new trace with this id is in the sampled share."""
        return (trace_id & (_TRACE_ID_SPACE - 1)) < self._bound

    def get_description(self) -> str:
        return f"ShareSampler{{{self.share}}}"


class TraceSink:
    """Export kept traces on a daemon thread, from a bounded queue (full: drop, count).

    The thread starts on the first trace a process keeps, so a process that forked
    (gunicorn, Celery's pool) after setting the sink up starts its own.
    """

    def __init__(self, exporter: SpanExporter, *, capacity: int = 256) -> None:
        self.exporter = exporter
        self._queue: queue.Queue[Sequence[ReadableSpan]] = queue.Queue(capacity)
        self._thread_pid = 0
        self._lock = threading.Lock()
        self.dropped = 0

    def submit(self, spans: Sequence[ReadableSpan]) -> None:
        if self._thread_pid != os.getpid():
            self._start()
        try:
            self._queue.put_nowait(spans)
        except queue.Full:
            self.dropped += 1

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every trace submitted so far is exported (tests, shutdown)."""
        if self._thread_pid != os.getpid():
            return
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout)  # type: ignore[arg-type]
        except queue.Full:
            return
        done.wait(timeout)

    def _start(self) -> None:
        with self._lock:
            if self._thread_pid == os.getpid():
                return
            self._queue = queue.Queue(self._queue.maxsize)  # a forked copy's items are not ours
            threading.Thread(target=self._run, name="trace-sink", daemon=True).start()
            self._thread_pid = os.getpid()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                self.exporter.export(item)
            except Exception:  # an exporter's failure never reaches a request
                logger.exception("trace export failed")


@dataclass(frozen=True)
class KeepPolicy:
    """When a finished local root is kept: errors, past its SLO, or sampled."""

    slo_seconds: Callable[[ReadableSpan], float]

    def reason(self, root: ReadableSpan, spans: Sequence[ReadableSpan]) -> str:
        """Why the trace is kept ("error", "slow", "sampled"), or "" to drop it."""
        attributes = root.attributes or {}
        status = attributes.get("http.status_code") or attributes.get("http.response.status_code")
        if root.status.status_code is StatusCode.ERROR or (
            isinstance(status, int) and status >= 500
        ):
            return "error"
        started, ended = root.start_time or 0, root.end_time or 0
        if (ended - started) / 1e9 > self.slo_seconds(root):
            return "slow"
        if root.context.trace_flags.sampled:
            return "sampled"
        if any(span.status.status_code is StatusCode.ERROR for span in spans):
            return "error"
        return ""


class TailSampler(SpanProcessor):
    """Hold each trace's spans until its local root ends; keep or drop them then."""

    def __init__(self, sink: TraceSink, policy: KeepPolicy, *, max_pending: int = 2_000) -> None:
        self.sink = sink
        self.policy = policy
        self.max_pending = max_pending
        self._pending: dict[int, list[ReadableSpan | Statement]] = {}

    def on_start(self, span: object, parent_context: Context | None = None) -> None:
        return None

    def statement_record(self, statement: Statement) -> None:
        """Hold a SQL statement's timing with its trace (`toolkit.tracing.statements`)."""
        self._held(statement.parent.trace_id).append(statement)

    def on_end(self, span: ReadableSpan) -> None:
        parent = span.parent
        trace_id = span.context.trace_id
        if parent is not None and not parent.is_remote:
            self._held(trace_id).append(span)
            return
        held = self._pending.pop(trace_id, None) or []
        children = [child for child in held if not isinstance(child, Statement)]
        statements = [child for child in held if isinstance(child, Statement)]
        reason = self.policy.reason(span, children)
        if not reason and any(statement.error for statement in statements):
            reason = "error"
        if reason:
            root = _with_reason(span, reason)
            spans = [_readable(child) for child in children] + statement_spans(statements, root)
            self.sink.submit([*spans, root])

    def _held(self, trace_id: int) -> list[ReadableSpan | Statement]:
        pending = self._pending.get(trace_id)
        if pending is None:
            if len(self._pending) >= self.max_pending:
                # What ended after its root (a fan-out call past the page's deadline) is
                # never collected: forget the oldest trace held.
                with contextlib.suppress(StopIteration, KeyError, RuntimeError):
                    del self._pending[next(iter(self._pending))]
            pending = self._pending.setdefault(trace_id, [])
        return pending

    def shutdown(self) -> None:
        self.sink.flush()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        self.sink.flush(timeout_millis / 1000)
        return True


def _readable(span: ReadableSpan | LightSpan) -> ReadableSpan:
    return span.readable() if isinstance(span, LightSpan) else span


def _with_reason(span: ReadableSpan | LightSpan, reason: str) -> ReadableSpan:
    """The root as kept, its attributes saying why (a span is read-only once ended)."""
    if isinstance(span, LightSpan):
        return span.readable(**{KEPT_BECAUSE: reason})
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes={**(span.attributes or {}), KEPT_BECAUSE: reason},
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
