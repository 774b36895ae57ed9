"""The embedded trace store: a bounded ring of recent kept traces in one SQLite file.

No server needed, and shared by every process of a stack (web workers, Celery, the
simulator) because it lives in the stack's var dir. Each process writes the part of a
trace it recorded (a *fragment*: its local root and that root's descendants) from the
sink's thread, one short transaction per kept trace; past `capacity` fragments the
oldest are deleted in the same transaction. Reads (`/ops/traces/`) group fragments by
trace id.

Why SQLite rather than the store's cache: a kept trace is written a few times a second
at most, while the cache serves every page; the ring must not evict page entries, nor
vanish when the cache is flushed or down.
"""

import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, StatusCode

from toolkit.tracing.sampling import KEPT_BECAUSE, ROUTE

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fragment (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    trace_id TEXT NOT NULL,
    is_root INTEGER NOT NULL,
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    route TEXT NOT NULL,
    started_ns INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    status TEXT NOT NULL,
    kept_because TEXT NOT NULL,
    sql_count INTEGER NOT NULL,
    cache_hits INTEGER NOT NULL,
    cache_misses INTEGER NOT NULL,
    upstream_calls INTEGER NOT NULL,
    spans TEXT NOT NULL,
    request_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS fragment_trace ON fragment (trace_id);
CREATE INDEX IF NOT EXISTS fragment_request ON fragment (request_id);
"""

REQUEST_ID = "peakstore.request_id"
CACHE_HITS = "peakstore.cache.hits"
CACHE_MISSES = "peakstore.cache.misses"


@dataclass(frozen=True)
class SpanRecord:
    """One span as the waterfall shows it."""

    span_id: str
    parent_id: str
    name: str
    kind: str
    service: str
    start_ns: int
    end_ns: int
    error: bool
    attributes: dict[str, object]

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


@dataclass(frozen=True)
class TraceSummary:
    """One kept trace as the list shows it (its first-recorded root fragment's figures)."""

    trace_id: str
    route: str
    started_ns: int
    duration_ms: float
    status: str
    kept_because: str
    sql_count: int
    cache_hits: int
    cache_misses: int
    upstream_calls: int
    services: tuple[str, ...]


def _status(root: ReadableSpan) -> str:
    attributes = root.attributes or {}
    code = attributes.get("http.status_code") or attributes.get("http.response.status_code")
    if code:
        return str(code)
    return "error" if root.status.status_code is StatusCode.ERROR else "ok"


def _span_row(span: ReadableSpan, service: str) -> dict[str, object]:
    return {
        "span_id": f"{span.context.span_id:016x}",
        "parent_id": f"{span.parent.span_id:016x}" if span.parent else "",
        "name": span.name,
        "kind": span.kind.name,
        "service": service,
        "start_ns": span.start_time or 0,
        "end_ns": span.end_time or 0,
        "error": span.status.status_code is StatusCode.ERROR,
        "attributes": {key: _plain(value) for key, value in (span.attributes or {}).items()},
    }


def _whole(value: object) -> int:
    return value if isinstance(value, int) else 0


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _is_sql(span: ReadableSpan) -> bool:
    return bool(
        span.attributes and "db.system" in span.attributes and "db.statement" in span.attributes
    )


def _is_upstream(span: ReadableSpan) -> bool:
    attributes = span.attributes or {}
    return span.kind is SpanKind.CLIENT and (
        "http.method" in attributes or "http.request.method" in attributes
    )


class TraceRing(SpanExporter):
    """Write kept fragments to the ring file; read them back for `/ops/traces/`."""

    def __init__(self, path: Path, *, capacity: int = 500) -> None:
        self.path = Path(path)
        self.capacity = capacity
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(_SCHEMA)
            self._local.connection = connection
        return connection

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Store one fragment (the sink hands over one local root and its spans)."""
        roots = [span for span in spans if KEPT_BECAUSE in (span.attributes or {})]
        if not roots:
            return SpanExportResult.SUCCESS
        root = roots[0]
        service = str(root.resource.attributes.get("service.name", "")) if root.resource else ""
        attributes = root.attributes or {}
        row = (
            f"{root.context.trace_id:032x}",
            int(root.parent is None),
            service,
            root.name,
            str(attributes.get(ROUTE) or root.name),
            root.start_time or 0,
            ((root.end_time or 0) - (root.start_time or 0)) / 1e6,
            _status(root),
            str(attributes[KEPT_BECAUSE]),
            sum(1 for span in spans if _is_sql(span)),
            _whole(attributes.get(CACHE_HITS)),
            _whole(attributes.get(CACHE_MISSES)),
            sum(1 for span in spans if _is_upstream(span)),
            json.dumps([_span_row(span, service) for span in spans], default=str),
            str(attributes.get(REQUEST_ID, "")),
        )
        connection = self._connection()
        with connection:
            connection.execute("BEGIN IMMEDIATE")
            cursor = connection.execute(
                "INSERT INTO fragment (trace_id, is_root, service, name, route, started_ns,"
                " duration_ms, status, kept_because, sql_count, cache_hits, cache_misses,"
                " upstream_calls, spans, request_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            connection.execute(
                "DELETE FROM fragment WHERE id <= ?", ((cursor.lastrowid or 0) - self.capacity,)
            )
        return SpanExportResult.SUCCESS

    def recent(self, *, limit: int = 100) -> list[TraceSummary]:
        """The most recent kept traces, newest first, one row per trace."""
        rows = self._connection().execute(
            "SELECT trace_id, route, started_ns, duration_ms, status, kept_because, sql_count,"
            " cache_hits, cache_misses, upstream_calls, service, is_root FROM fragment"
            " ORDER BY id DESC LIMIT ?",
            (limit * 4,),
        )
        by_trace: dict[str, list[tuple]] = {}
        for row in rows:
            by_trace.setdefault(row[0], []).append(row)
        summaries = []
        for trace_id, fragments in by_trace.items():
            # The trace's root fragment (the request) when this ring has it.
            first = max(fragments, key=lambda fragment: (fragment[11], -fragment[2]))
            services = tuple(sorted({fragment[10] for fragment in fragments}))
            summaries.append(
                TraceSummary(
                    trace_id=trace_id,
                    route=first[1],
                    started_ns=first[2],
                    duration_ms=first[3],
                    status=first[4],
                    kept_because=first[5],
                    sql_count=first[6],
                    cache_hits=first[7],
                    cache_misses=first[8],
                    upstream_calls=first[9],
                    services=services,
                )
            )
        return summaries[:limit]

    def trace_for_request(self, request_id: str) -> str | None:
        """The trace id of the kept request with this `X-Request-ID`, if the ring has it.

        What a load-test report or a log line links by: the id every response carries.
        """
        row = (
            self._connection()
            .execute(
                "SELECT trace_id FROM fragment WHERE request_id = ? ORDER BY id DESC LIMIT 1",
                (request_id,),
            )
            .fetchone()
        )
        return str(row[0]) if row else None

    def spans(self, trace_id: str) -> list[SpanRecord]:
        """Every recorded span of one trace, from every process, by start time."""
        rows = self._connection().execute(
            "SELECT spans FROM fragment WHERE trace_id = ?", (trace_id.lower(),)
        )
        records = [SpanRecord(**span) for (spans,) in rows for span in json.loads(spans)]
        return sorted(records, key=lambda record: record.start_ns)

    def shutdown(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
