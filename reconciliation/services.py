"""Reconciliation writes: runs and their records, and the exception workflow.

An exception is keyed by its fingerprint (kind and entity), so the same problem seen
again updates one row. States: open -> acknowledged -> resolved, or ignored with a
reason; a complete run that finds the data agreeing resolves it on its own.
"""

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from reconciliation import metrics
from reconciliation.dto import Finding, RunSummary
from reconciliation.models import DataException, ExceptionAction, Run
from reconciliation.selectors import exception_counts_by_kind_and_age, run_summary
from toolkit.errors import DomainError, NotFound
from toolkit.manifest import ownership_manifest
from toolkit.once import one_at_a_time

State = DataException.State
LIVE = (State.OPEN, State.ACKNOWLEDGED)
# Longer than the reconciliation tasks' hard time limit (reconciliation.tasks).
RUN_LEASE = timedelta(minutes=15)


class ExceptionNotFound(NotFound):
    code = "exception_not_found"


class InvalidTransition(DomainError):
    code = "invalid_transition"
    status = 409


class UnknownAction(NotFound):
    code = "unknown_action"


class ReasonRequired(DomainError):
    code = "reason_required"
    status = 400


def exception_fingerprint(*, kind: str, entity: str) -> str:
    """The identity of a problem: the same kind on the same entity is the same problem."""
    return hashlib.sha256(f"{kind}\x00{entity}".encode()).hexdigest()


def _owner_and_runbook(kind: str) -> tuple[str, str]:
    entry = ownership_manifest().exception(kind)
    if entry is None:
        raise ValueError(f"exception kind {kind!r} is not in the ownership manifest")
    return entry.owner, entry.runbook


@transaction.atomic
def exceptions_record(*, findings: Sequence[Finding], actor: str) -> tuple[int, int]:
    """Open an exception per finding, or update the one with its fingerprint.

    Returns (opened, seen again). A resolved exception seen again is reopened; an
    ignored one stays ignored (someone decided), its evidence kept current. Two
    queries and two bulk writes per call, whatever the number of findings.
    """
    by_print = {exception_fingerprint(kind=f.kind, entity=f.entity): f for f in findings}
    existing = DataException.objects.select_for_update().filter(fingerprint__in=list(by_print))
    known = {row.fingerprint: row for row in existing}
    now = timezone.now()
    actions: list[ExceptionAction] = []
    for fingerprint, row in known.items():
        finding = by_print[fingerprint]
        row.evidence = {**finding.evidence, "classification": finding.classification}
        row.last_seen, row.seen_count = now, row.seen_count + 1
        if row.state == State.RESOLVED:
            row.state, row.closed_at, row.reason = State.OPEN, None, ""
            actions.append(ExceptionAction(exception=row, action="reopened", actor=actor))
    DataException.objects.bulk_update(
        known.values(), ["evidence", "last_seen", "seen_count", "state", "closed_at", "reason"]
    )
    new = []
    for fingerprint, finding in by_print.items():
        if fingerprint in known:
            continue
        owner, runbook = _owner_and_runbook(finding.kind)
        new.append(
            DataException(
                kind=finding.kind,
                entity=finding.entity,
                fingerprint=fingerprint,
                evidence={**finding.evidence, "classification": finding.classification},
                owner=owner,
                runbook=runbook,
                last_seen=now,
            )
        )
    DataException.objects.bulk_create(new)
    created = DataException.objects.filter(fingerprint__in=[row.fingerprint for row in new])
    actions += [ExceptionAction(exception=row, action="opened", actor=actor) for row in created]
    ExceptionAction.objects.bulk_create(actions)
    return len(new), len(known)


@transaction.atomic
def exceptions_auto_resolve(*, kinds: Sequence[str], not_seen_since: datetime, actor: str) -> int:
    """Resolve live exceptions of these kinds that a complete run did not see again."""
    agreeing = DataException.objects.filter(
        kind__in=kinds, state__in=LIVE, last_seen__lt=not_seen_since
    )
    ids = list(agreeing.values_list("pk", flat=True))
    DataException.objects.filter(pk__in=ids).update(
        state=State.RESOLVED, closed_at=timezone.now(), reason="the data agrees again"
    )
    ExceptionAction.objects.bulk_create(
        ExceptionAction(exception_id=pk, action="auto_resolved", actor=actor) for pk in ids
    )
    return len(ids)


_TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "acknowledge": ((State.OPEN,), State.ACKNOWLEDGED),
    "resolve": (LIVE, State.RESOLVED),
    "ignore": (LIVE, State.IGNORED),
    "reopen": ((State.RESOLVED, State.IGNORED), State.OPEN),
}
ACTIONS = tuple(_TRANSITIONS)


@transaction.atomic
def exception_act(
    *, exception_id: int, action: str, actor: str, reason: str = "", proposed_change: str = ""
) -> str:
    """Move an exception through its workflow as `actor`; return its new state.

    Ignoring needs a reason; resolving may record a proposed change to a gate criterion
    or an alert threshold, which /ops/ lists for review. Every action is recorded.
    """
    if action not in _TRANSITIONS:
        raise UnknownAction(f"Unknown action {action!r}.", known=list(ACTIONS))
    row = DataException.objects.select_for_update().filter(pk=exception_id).first()
    if row is None:
        raise ExceptionNotFound("No such exception.")
    allowed_from, to = _TRANSITIONS[action]
    if row.state not in allowed_from:
        raise InvalidTransition(f"Cannot {action} an exception that is {row.state}.")
    reason, proposed_change = reason.strip()[:500], proposed_change.strip()[:500]
    if action == "ignore" and not reason:
        raise ReasonRequired("Say why the exception is ignored.")
    row.state = to
    row.closed_at = timezone.now() if to in (State.RESOLVED, State.IGNORED) else None
    row.reason = reason
    if proposed_change:
        row.proposed_change = proposed_change
    row.save(update_fields=["state", "closed_at", "reason", "proposed_change"])
    note = "; ".join(filter(None, (reason, proposed_change and f"proposes: {proposed_change}")))
    ExceptionAction.objects.create(exception=row, action=action, actor=actor, note=note[:500])
    transaction.on_commit(lambda: metrics.operator_actions.labels(action).inc())
    transaction.on_commit(exceptions_gauge_publish)
    return str(row.state)


def exceptions_gauge_publish() -> None:
    """Set the open-exceptions gauge from the table (the dashboard reads no database)."""
    metrics.exceptions_open.clear()
    for (kind, age), count in exception_counts_by_kind_and_age().items():
        metrics.exceptions_open.labels(kind, age).set(count)


class RunContext:
    """What a routine reports while it runs; exceptions are written batch by batch."""

    def __init__(self, run: Run, *, since: datetime | None, dry_run: bool) -> None:
        self.run, self.since, self.dry_run = run, since, dry_run
        self._actor = f"reconcile {run.routine}"

    def compared(self, count: int) -> None:
        self.run.compared += count

    def difference(self, classification: str) -> None:
        self.run.differences += 1
        counts = self.run.by_classification
        counts[classification] = counts.get(classification, 0) + 1
        metrics.differences.labels(self.run.routine, classification).inc()

    def repaired(self, count: int = 1) -> None:
        self.run.repaired += count
        metrics.repairs.labels(self.run.routine).inc(count)

    def findings(self, findings: Sequence[Finding]) -> None:
        """Record what a batch could not repair (nothing is written on a dry run)."""
        if findings and not self.dry_run:
            opened, seen = exceptions_record(findings=findings, actor=self._actor)
            self.run.exceptions_opened += opened
            self.run.exceptions_seen_again += seen


Routine = Callable[[RunContext], None]


class SystemOfRecordUnavailable(Exception):
    """Raised by a routine when its system of record stops answering mid-run."""


def reconcile_run(
    *,
    routine: str,
    body: Routine,
    kinds: Sequence[str],
    since: datetime | None = None,
    dry_run: bool = False,
) -> RunSummary:
    """Run one routine unless another run of it is going; record the run and its counts.

    A complete run (no `since`, not a dry run, not cut short) resolves the live
    exceptions of its kinds it did not see again: the data agrees now.
    """
    with one_at_a_time(f"reconciliation.{routine}", ttl=RUN_LEASE) as mine:
        if not mine:
            metrics.runs.labels(routine, Run.Status.SKIPPED).inc()
            run = Run.objects.create(routine=routine, status=Run.Status.SKIPPED, dry_run=dry_run)
            return run_summary(run)
        run = Run.objects.create(routine=routine, dry_run=dry_run, complete=since is None)
        context = RunContext(run, since=since, dry_run=dry_run)
        try:
            body(context)
        except SystemOfRecordUnavailable as failure:
            run.status, run.note, run.complete = Run.Status.FAILED, str(failure)[:500], False
        except Exception as crash:
            # Recorded, so no run is left "running"; the task's failure shows the cause.
            run.status, run.note = Run.Status.FAILED, f"crashed: {crash!r}"[:500]
            run.finished_at = timezone.now()
            run.save()
            metrics.runs.labels(routine, run.status).inc()
            raise
        else:
            run.status = Run.Status.FINISHED
        if run.complete and not dry_run and run.status == Run.Status.FINISHED:
            run.auto_resolved = exceptions_auto_resolve(
                kinds=kinds, not_seen_since=run.started_at, actor=f"reconcile {routine}"
            )
        run.finished_at = timezone.now()
        run.save()
        metrics.runs.labels(routine, run.status).inc()
        exceptions_gauge_publish()
        return run_summary(run)
