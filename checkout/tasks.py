"""Checkout's Celery tasks: outbox delivery and the periodic housekeeping.

The periodic ones never overlap themselves (`toolkit.once.one_at_a_time`): a run that
finds the previous one still going does nothing. Each has soft and hard time limits
below its lease, so a stuck run is stopped before the next may start.
"""

from datetime import timedelta

from celery import shared_task

from checkout.idempotency import idempotency_records_purge
from checkout.outbox import (
    outbox_backlog_publish,
    outbox_dead_letters_publish,
    outbox_publish,
    outbox_undelivered_ids,
)
from checkout.services import orders_reconcile
from toolkit.once import one_at_a_time

# Messages younger than this are still on their way from the request that wrote them.
SWEEP_AFTER = timedelta(seconds=30)
SWEEP_SOFT_TIME_LIMIT = 50
SWEEP_TIME_LIMIT = 60
# 200 orders with up to three gateway calls each, most of them answered in milliseconds.
RECONCILE_SOFT_TIME_LIMIT = 120
RECONCILE_TIME_LIMIT = 150
# A lease outlives the hard limit: it can only lapse under a run that is already dead.
LEASE_MARGIN = timedelta(seconds=30)


@shared_task(soft_time_limit=SWEEP_SOFT_TIME_LIMIT, time_limit=SWEEP_TIME_LIMIT)
def outbox_dispatch_pending() -> int:
    """Queue messages whose delivery was lost (broker down, worker killed) or is due again.

    Returns how many it queued; -1 when another sweep is running.
    """
    ttl = timedelta(seconds=SWEEP_TIME_LIMIT) + LEASE_MARGIN
    with one_at_a_time("checkout.outbox_dispatch_pending", ttl=ttl) as mine:
        if not mine:
            return -1
        message_ids = outbox_undelivered_ids(older_than=SWEEP_AFTER)
        for message_id in message_ids:
            outbox_publish(message_id)
        outbox_dead_letters_publish()
        outbox_backlog_publish()
        return len(message_ids)


@shared_task(soft_time_limit=RECONCILE_SOFT_TIME_LIMIT, time_limit=RECONCILE_TIME_LIMIT)
def orders_reconcile_pending() -> dict[str, int] | None:
    """Settle pending orders against the gateway; None when another run is going."""
    ttl = timedelta(seconds=RECONCILE_TIME_LIMIT) + LEASE_MARGIN
    with one_at_a_time("checkout.orders_reconcile_pending", ttl=ttl) as mine:
        if not mine:
            return None
        report = orders_reconcile()
        return {"paid": report.paid, "released": report.released, "pending": report.still_pending}


@shared_task
def idempotency_records_purge_task() -> int:
    return idempotency_records_purge()
