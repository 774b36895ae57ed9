"""Reconciliation's entry points: `reconcile()` and its Celery beat tasks.

Runs of one routine never overlap (`reconcile_run` holds a lease); the task's time
limits are below the lease, so a stuck run is stopped before the next may start.
"""

from datetime import datetime

from celery import shared_task

from reconciliation.dto import RunSummary
from reconciliation.routines import ROUTINES
from reconciliation.services import reconcile_run

ROUTINE_NAMES = tuple(ROUTINES)
SOFT_TIME_LIMIT = 600
TIME_LIMIT = 660


def reconcile(*, routine: str, since: datetime | None = None, dry_run: bool = False) -> RunSummary:
    """Run one reconciliation routine (inventory, prices, payments, orders)."""
    body, kinds = ROUTINES[routine]
    return reconcile_run(routine=routine, body=body, kinds=kinds, since=since, dry_run=dry_run)


@shared_task(soft_time_limit=SOFT_TIME_LIMIT, time_limit=TIME_LIMIT)
def reconcile_task(routine: str) -> dict[str, object]:
    """Beat's entry: one complete run of a routine; returns its counts."""
    summary = reconcile(routine=routine)
    return {
        "status": summary.status,
        "compared": summary.compared,
        "differences": summary.differences,
        "repaired": summary.repaired,
        "exceptions_opened": summary.exceptions_opened,
    }
