"""SQL statements in traces, recorded as timings and made spans only when a trace is kept.

Why not the maintained database instrumentations (psycopg's, sqlite3's): they make a
span per statement, on every request, while tail sampling keeps about one trace in a
hundred. On a cold product page (six statements, a 15 ms render) that cost 12-14% of
its throughput (`bench_tracing_overhead`, docs/benchmarks.md). Here a Django execute
wrapper, on every connection of both profiles, appends one tuple per statement to the
trace the tail sampler is holding; `statement_spans` turns them into client spans, with
the same attributes the instrumentations set, for the traces it keeps. A dropped trace
costs a clock read and a tuple per statement.

Only what goes through Django's connections is recorded, which is what the store's
code runs; the disk cache's own SQLite connections are not (they are not the store's
queries, and a warm page would otherwise record one per cache hit).
"""

import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    INVALID_SPAN,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    get_current_span,
)

_SCOPE = InstrumentationScope("peakstore.sql")
_IDS = RandomIdGenerator()
# Django's vendor names as OpenTelemetry's `db.system` spells them.
_SYSTEMS = {"postgresql": "postgresql", "sqlite": "sqlite", "mysql": "mysql"}


class Statement(NamedTuple):
    """One statement a traced request or task ran, as the tail sampler holds it."""

    parent: SpanContext
    sql: str
    system: str
    database: str
    started_ns: int
    ended_ns: int
    error: str  # the exception's type name when the statement raised, else ""


class StatementRecorder:
    """A Django execute wrapper handing each statement's timing to `record`.

    `record(statement)` is the tail sampler's; outside a recording span (a migration,
    a shell, a warm hit) a statement costs one context lookup.
    """

    def __init__(self, record: Callable[[Statement], None], *, vendor: str, name: str) -> None:
        self.record = record
        self.system = _SYSTEMS.get(vendor, vendor)
        self.database = name

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        span = get_current_span()
        if span is INVALID_SPAN or not span.is_recording():
            return execute(sql, params, many, context)
        started = time.time_ns()
        error = ""
        try:
            return execute(sql, params, many, context)
        except Exception as failure:
            error = type(failure).__name__
            raise
        finally:
            self.record(
                Statement(
                    span.get_span_context(),
                    sql,
                    self.system,
                    self.database,
                    started,
                    time.time_ns(),
                    error,
                )
            )


def statement_spans(statements: Iterable[Statement], root: ReadableSpan) -> list[ReadableSpan]:
    """The kept trace's statements as client spans, children of the spans they ran in."""
    spans = []
    for statement in statements:
        parent = statement.parent
        attributes = {
            "db.system": statement.system,
            "db.name": statement.database,
            "db.statement": statement.sql,
        }
        if statement.error:
            attributes["error.type"] = statement.error
        spans.append(
            ReadableSpan(
                name=statement.sql.lstrip().split(" ", 1)[0].upper() or "SQL",
                context=SpanContext(
                    parent.trace_id,
                    _IDS.generate_span_id(),
                    is_remote=False,
                    trace_flags=parent.trace_flags,
                ),
                parent=parent,
                resource=root.resource,
                attributes=attributes,
                kind=SpanKind.CLIENT,
                status=Status(StatusCode.ERROR) if statement.error else Status(StatusCode.UNSET),
                start_time=statement.started_ns,
                end_time=statement.ended_ns,
                instrumentation_scope=_SCOPE,
            )
        )
    return spans
