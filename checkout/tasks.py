"""Checkout's Celery tasks: outbox delivery and the periodic housekeeping."""

from datetime import timedelta

from celery import shared_task

from checkout.idempotency import idempotency_records_purge
from checkout.outbox import outbox_deliver_task, outbox_undelivered_ids
from checkout.services import orders_reconcile


@shared_task
def outbox_dispatch_pending() -> int:
    """Re-queue messages whose delivery was lost (broker down, worker killed)."""
    message_ids = outbox_undelivered_ids(older_than=timedelta(seconds=30))
    for message_id in message_ids:
        outbox_deliver_task.delay(message_id)
    return len(message_ids)


@shared_task
def orders_reconcile_pending() -> dict[str, int]:
    report = orders_reconcile()
    return {"paid": report.paid, "released": report.released, "pending": report.still_pending}


@shared_task
def idempotency_records_purge_task() -> int:
    return idempotency_records_purge()
