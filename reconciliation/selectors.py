"""Reconciliation reads: the exception queue, runs, proposals, for /ops/ and the gates."""

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from reconciliation.dto import ExceptionActionView, ExceptionView, RunSummary
from reconciliation.models import DataException, ExceptionAction, Run

LIVE = (DataException.State.OPEN, DataException.State.ACKNOWLEDGED)
AGE_BANDS = ((timedelta(hours=1), "under_1h"), (timedelta(days=1), "1h_1d"))
OLDEST_BAND = "over_1d"


def _view(row: DataException) -> ExceptionView:
    return ExceptionView(
        id=row.pk,
        kind=row.kind,
        entity=row.entity,
        state=row.state,
        owner=row.owner,
        runbook=row.runbook,
        evidence=dict(row.evidence),
        reason=row.reason,
        proposed_change=row.proposed_change,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        seen_count=row.seen_count,
    )


def exceptions_live(*, limit: int = 100, kind: str | None = None) -> tuple[ExceptionView, ...]:
    """Open and acknowledged exceptions, oldest first. One query."""
    rows = DataException.objects.filter(state__in=LIVE)
    if kind:
        rows = rows.filter(kind=kind)
    return tuple(_view(row) for row in rows.order_by("first_seen", "pk")[:limit])


def exceptions_with_proposals(*, limit: int = 50) -> tuple[ExceptionView, ...]:
    """Resolved exceptions that propose a gate or alert change, newest first. One query."""
    rows = DataException.objects.exclude(proposed_change="").order_by("-closed_at", "-pk")
    return tuple(_view(row) for row in rows[:limit])


def exception_counts_by_kind_and_age() -> dict[tuple[str, str], int]:
    """Live exceptions by kind and age band (first seen). One aggregate query: its
    memory does not grow with the queue."""
    now = timezone.now()
    bands, newer = {}, None
    for limit, name in AGE_BANDS:
        bands[name] = Q(first_seen__gt=now - limit) & (Q() if newer is None else ~newer)
        newer = Q(first_seen__gt=now - limit)
    assert newer is not None
    bands[OLDEST_BAND] = ~newer
    names = list(bands)
    rows = (
        DataException.objects.filter(state__in=LIVE)
        .values("kind")
        .annotate(**{name: Count("pk", filter=bands[name]) for name in names})
        .values_list("kind", *names)
    )
    return {
        (row[0], name): count
        for row in rows
        for name, count in zip(names, row[1:], strict=True)
        if count
    }


def exception_actions_recent(*, limit: int = 50) -> tuple[ExceptionActionView, ...]:
    """The latest actions on exceptions, people's and runs', newest first. One query."""
    rows = ExceptionAction.objects.order_by("-at", "-pk")[:limit]
    return tuple(
        ExceptionActionView(
            exception_id=row.exception_id,
            action=row.action,
            actor=row.actor,
            note=row.note,
            at=row.at,
        )
        for row in rows
    )


def run_summary(run: Run) -> RunSummary:
    return RunSummary(
        id=run.pk,
        routine=run.routine,
        status=run.status,
        dry_run=run.dry_run,
        compared=run.compared,
        differences=run.differences,
        repaired=run.repaired,
        exceptions_opened=run.exceptions_opened,
        exceptions_seen_again=run.exceptions_seen_again,
        auto_resolved=run.auto_resolved,
        by_classification=dict(run.by_classification),
        note=run.note,
    )


def runs_recent(*, limit: int = 20) -> tuple[RunSummary, ...]:
    """The latest runs of every routine, newest first (/ops/). One query."""
    return tuple(run_summary(run) for run in Run.objects.order_by("-started_at", "-pk")[:limit])


def exceptions_overview(*, limit: int = 20) -> dict[str, Any]:
    """The queue for /ops/ as JSON-ready data: live exceptions, counts, proposals, runs.

    Five queries, whatever the queue's length (each list is capped).
    """
    counts = exception_counts_by_kind_and_age()
    by_kind: dict[str, int] = {}
    for (kind, _), count in counts.items():
        by_kind[kind] = by_kind.get(kind, 0) + count
    hour_ago = timezone.now() - timedelta(hours=1)
    return {
        "open_by_kind": dict(sorted(by_kind.items())),
        "open_by_kind_and_age": {f"{kind} {age}": n for (kind, age), n in sorted(counts.items())},
        "operator_actions_last_hour": ExceptionAction.objects.filter(at__gte=hour_ago)
        .exclude(actor__startswith="reconcile ")
        .count(),
        "exceptions": [
            {
                "id": e.id,
                "kind": e.kind,
                "entity": e.entity,
                "state": e.state,
                "owner": e.owner,
                "runbook": e.runbook,
                "evidence": e.evidence,
                "seen_count": e.seen_count,
                "first_seen": e.first_seen.isoformat(),
                "actions": [
                    a for a in ("acknowledge", "resolve", "ignore") if _allowed(e.state, a)
                ],
            }
            for e in exceptions_live(limit=limit)
        ],
        "proposals": [
            {"id": e.id, "kind": e.kind, "entity": e.entity, "proposed_change": e.proposed_change}
            for e in exceptions_with_proposals(limit=10)
        ],
        "runs": [
            {
                "id": r.id,
                "routine": r.routine,
                "status": r.status,
                "compared": r.compared,
                "differences": r.differences,
                "repaired": r.repaired,
                "exceptions_opened": r.exceptions_opened,
                "auto_resolved": r.auto_resolved,
                "dry_run": r.dry_run,
            }
            for r in runs_recent(limit=8)
        ],
    }


def _allowed(state: str, action: str) -> bool:
    return action != "acknowledge" or state == DataException.State.OPEN


def audit_findings_owned(findings: Iterable[Any]) -> list[Any]:
    """The order audit's findings that a live exception already owns. One query.

    Registered with checkout's `audit_acknowledged_listen`: the audit lists them as
    known rather than failing on them, because reconciliation found them and a person
    is working them. A finding maps to the exception its payment routine opens.
    """
    wanted: dict[tuple[str, str], list[Any]] = {}
    for finding in findings:
        if key := _exception_for_finding(finding.code, finding.subject):
            wanted.setdefault(key, []).append(finding)
    if not wanted:
        return []
    live = DataException.objects.filter(
        state__in=LIVE, entity__in={entity for _, entity in wanted}
    ).values_list("kind", "entity")
    return [finding for key in set(live) & set(wanted) for finding in wanted[key]]


# The order audit's payment finding codes, and the exception and entity its routine opens.
_EXCEPTION_FOR_FINDING = {
    "missing_capture": ("payment.missing_capture", "order:{}"),
    "unknown_capture": ("payment.unknown_capture", "capture:{}"),
    "amount_mismatch": ("payment.amount_mismatch", "capture:{}"),
}


def _exception_for_finding(code: str, subject: str) -> tuple[str, str] | None:
    if (owner := _EXCEPTION_FOR_FINDING.get(code)) is None:
        return None
    kind, entity = owner
    return kind, entity.format(subject)
