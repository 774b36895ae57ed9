"""`/ops/traces/`: the kept traces of the embedded ring, and one trace as a waterfall.

Pure functions from the ring's records to what the templates draw: each span's depth,
offset and width as a share of the trace, and the SQL statements grouped by shape, a
shape run more than once in one trace flagged (the N+1 signature).
"""

from collections import Counter
from dataclasses import dataclass

from toolkit.metrics.sql import sql_fingerprint, sql_normalise
from toolkit.tracing.ring import SpanRecord


@dataclass(frozen=True)
class WaterfallRow:
    span: SpanRecord
    depth: int
    offset_pct: float
    width_pct: float
    repeated: bool  # a SQL statement whose shape this trace ran more than once

    @property
    def label(self) -> str:
        statement = self.span.attributes.get("db.statement")
        return f"{self.span.name}: {statement}" if isinstance(statement, str) else self.span.name


@dataclass(frozen=True)
class StatementGroup:
    shape: str
    executions: int
    total_ms: float

    @property
    def repeated(self) -> bool:
        return self.executions > 1


@dataclass(frozen=True)
class Waterfall:
    trace_id: str
    duration_ms: float
    rows: tuple[WaterfallRow, ...]
    statements: tuple[StatementGroup, ...]  # most executions first

    @property
    def repeated_statements(self) -> int:
        return sum(1 for group in self.statements if group.repeated)


# Transaction control repeats by design (a savepoint per atomic block): never flagged.
_TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT")


def _statement(span: SpanRecord) -> str | None:
    statement = span.attributes.get("db.statement")
    if not isinstance(statement, str):
        return None
    return None if statement.lstrip().upper().startswith(_TRANSACTION_CONTROL) else statement


def waterfall_build(trace_id: str, spans: list[SpanRecord]) -> Waterfall | None:
    """Lay out one trace's spans, parents before their children; None when none."""
    if not spans:
        return None
    start = min(span.start_ns for span in spans)
    end = max(span.end_ns for span in spans)
    total = max(end - start, 1)
    fingerprints = {
        span.span_id: sql_fingerprint(statement)
        for span in spans
        if (statement := _statement(span)) is not None
    }
    counts = Counter(fingerprints.values())
    ids = {span.span_id for span in spans}
    children: dict[str, list[SpanRecord]] = {}
    for span in spans:
        # A parent this ring never saw (another process's part not kept, a client's
        # span) makes the span a root here.
        parent = span.parent_id if span.parent_id in ids else ""
        children.setdefault(parent, []).append(span)
    rows: list[WaterfallRow] = []
    stack = [(span, 0) for span in reversed(children.get("", []))]
    while stack:
        span, depth = stack.pop()
        rows.append(
            WaterfallRow(
                span=span,
                depth=depth,
                offset_pct=round(100 * (span.start_ns - start) / total, 2),
                width_pct=max(round(100 * (span.end_ns - span.start_ns) / total, 2), 0.2),
                repeated=counts.get(fingerprints.get(span.span_id, ""), 0) > 1,
            )
        )
        stack.extend((child, depth + 1) for child in reversed(children.get(span.span_id, [])))
    return Waterfall(
        trace_id=trace_id,
        duration_ms=round(total / 1e6, 2),
        rows=tuple(rows),
        statements=_statement_groups(spans),
    )


def _statement_groups(spans: list[SpanRecord]) -> tuple[StatementGroup, ...]:
    groups: dict[str, list[SpanRecord]] = {}
    for span in spans:
        if (statement := _statement(span)) is not None:
            groups.setdefault(sql_normalise(statement), []).append(span)
    return tuple(
        sorted(
            (
                StatementGroup(
                    shape=shape,
                    executions=len(members),
                    total_ms=round(sum(member.duration_ms for member in members), 2),
                )
                for shape, members in groups.items()
            ),
            key=lambda group: (-group.executions, -group.total_ms),
        )
    )
