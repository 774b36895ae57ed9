"""The transactional outbox for order side effects.

`outbox_enqueue` writes a message in the caller's transaction and, once it commits,
publishes a delivery task: one attempt, never retried in the request, so a broker that
is down costs the buyer nothing (the order is committed and paid; the failure is logged
and counted, and the sweep delivers the message once the broker is back). Delivery
claims the message with a lease, runs its handler and marks it delivered, so two workers
never deliver it at once. A failed delivery waits `retry_delay(attempts)` before the
sweep tries again; after CHECKOUT_OUTBOX_MAX_ATTEMPTS failures it is dead-lettered
(`dead_at`) and left alone until `outbox_requeue`. Handlers are idempotent consumers:
each passes the message's dedupe key on, so a redelivery is recognised downstream.
"""

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Count, F, Min, Q
from django.template.loader import render_to_string
from django.utils import timezone
from prometheus_client import Counter, Gauge

from checkout.dto import DeadLetter
from checkout.models import Order, OutboxMessage
from checkout.selectors import order_view_for
from integrations.interface import erp_order_export

logger = logging.getLogger(__name__)

# Longer than the delivery task's hard time limit: a lease never ends under a live handler.
LEASE = timedelta(seconds=60)
DELIVERY_SOFT_TIME_LIMIT = 20
DELIVERY_TIME_LIMIT = 30
# A failed delivery waits a minute, doubling per failure up to an hour: with 10 attempts
# a message is dead-lettered about four hours after its first failure.
FIRST_RETRY_DELAY = timedelta(minutes=1)
MAX_RETRY_DELAY = timedelta(hours=1)

publish_failures = Counter(
    "peakstore_outbox_publish_failures",
    "Outbox deliveries that could not be handed to the broker (left for the sweep).",
)
backlog = Gauge(
    "peakstore_outbox_backlog",
    "Outbox messages not delivered yet and not dead-lettered, as the last sweep counted.",
    multiprocess_mode="mostrecent",
)
oldest_age = Gauge(
    "peakstore_outbox_oldest_age_seconds",
    "Age of the oldest undelivered outbox message at the last sweep (0 when none).",
    multiprocess_mode="mostrecent",
)
dead_letters = Gauge(
    "peakstore_outbox_dead_letters",
    "Outbox messages dead-lettered after CHECKOUT_OUTBOX_MAX_ATTEMPTS failed deliveries.",
    multiprocess_mode="mostrecent",
)


def outbox_enqueue(*, topic: str, key: str, payload: dict[str, Any]) -> None:
    """Record a side effect inside the current transaction; deliver after commit."""
    message = OutboxMessage.objects.create(
        topic=topic, dedupe_key=f"{topic}:{key}", payload=payload
    )
    transaction.on_commit(lambda: outbox_publish(message.pk))


def outbox_publish(message_id: int) -> bool:
    """Hand one message to the broker; False (logged, counted) if the broker is down.

    One attempt, no publish retries: the caller is a request whose work is committed,
    and the sweep (`outbox_dispatch_pending`) delivers whatever this could not hand over.
    """
    try:
        outbox_deliver_task.apply_async((message_id,), retry=False)
    except Exception:  # kombu and the transports raise many types; any means "not queued"
        logger.warning("outbox message %s not queued; the sweep will deliver it", message_id)
        publish_failures.inc()
        return False
    return True


def retry_delay(attempts: int) -> timedelta:
    """How long a message that failed `attempts` times waits before the next attempt."""
    return min(FIRST_RETRY_DELAY * 2 ** max(attempts - 1, 0), MAX_RETRY_DELAY)


def _send_confirmation_email(payload: dict[str, Any], dedupe_key: str) -> None:
    order = Order.objects.prefetch_related("lines").get(number=payload["number"])
    view = order_view_for(order=order)
    EmailMessage(
        subject=f"{settings.STORE_NAME} order {view.number} confirmed",
        body=render_to_string("checkout/order_confirmation.txt", {"order": view}),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[view.email],
        # Mail systems drop a second message with the same Message-ID.
        headers={"Message-ID": f"<{dedupe_key}@peakstore.example>"},
    ).send()


def _export_to_erp(payload: dict[str, Any], dedupe_key: str) -> None:
    """Book the order in the ERP and record its acknowledgement (`erp_booked_at`).

    A redelivery is booked once by the ERP (the dedupe key) and keeps the first time.
    """
    order = Order.objects.prefetch_related("lines").get(number=payload["number"])
    erp_order_export(
        reference=order.number,
        idempotency_key=dedupe_key,
        lines=[{"sku": line.sku, "quantity": line.quantity} for line in order.lines.all()],
        total=str(order.total),
        currency=order.currency,
    )
    Order.objects.filter(pk=order.pk, erp_booked_at__isnull=True).update(
        erp_booked_at=timezone.now()
    )


HANDLERS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "order.confirmation_email": _send_confirmation_email,
    "order.erp_export": _export_to_erp,
}


def outbox_deliver(*, message_id: int) -> bool:
    """Deliver one message unless it is delivered, dead, leased or not yet due; True if
    this call did it.

    A handler error (a soft time limit included) is recorded on the message, which then
    waits `retry_delay` for the sweep, or is dead-lettered on its last allowed attempt;
    the error is re-raised for the task's own accounting.
    """
    now = timezone.now()
    claimed = (
        OutboxMessage.objects.filter(pk=message_id, delivered_at__isnull=True, dead_at__isnull=True)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + LEASE, attempts=F("attempts") + 1)
    )
    if not claimed:
        return False
    message = OutboxMessage.objects.get(pk=message_id)
    if message.attempts > settings.CHECKOUT_OUTBOX_MAX_ATTEMPTS:
        # Its last attempts ended without recording anything (a worker killed at the
        # hard time limit): the limit still holds.
        _dead_letter(message, "attempts ended without an outcome (killed at a time limit?)")
        return False
    try:
        HANDLERS[message.topic](message.payload, message.dedupe_key)
    except Exception as error:
        _record_failure(message, error)
        raise
    OutboxMessage.objects.filter(pk=message_id).update(
        delivered_at=timezone.now(), claimed_until=None, last_error=""
    )
    return True


def _record_failure(message: OutboxMessage, error: Exception) -> None:
    if message.attempts >= settings.CHECKOUT_OUTBOX_MAX_ATTEMPTS:
        _dead_letter(message, repr(error))
    else:
        # The lease, held on past the handler, is when the message is next due.
        OutboxMessage.objects.filter(pk=message.pk).update(
            claimed_until=timezone.now() + retry_delay(message.attempts),
            last_error=repr(error)[:500],
        )


def _dead_letter(message: OutboxMessage, error: str) -> None:
    OutboxMessage.objects.filter(pk=message.pk).update(
        dead_at=timezone.now(), claimed_until=None, last_error=error[:500]
    )
    logger.error(
        "outbox message %s dead-lettered after %s attempts: %s",
        message.dedupe_key,
        message.attempts,
        error,
    )
    outbox_dead_letters_publish()


@shared_task(
    acks_late=True, soft_time_limit=DELIVERY_SOFT_TIME_LIMIT, time_limit=DELIVERY_TIME_LIMIT
)
def outbox_deliver_task(message_id: int) -> bool:
    """Deliver one outbox message; a failure is retried by the sweep, not by Celery."""
    return outbox_deliver(message_id=message_id)


def outbox_undelivered_ids(*, older_than: timedelta, limit: int = 500) -> list[int]:
    """Messages that should have been delivered by now, are due, and are not dead."""
    now = timezone.now()
    return list(
        OutboxMessage.objects.filter(
            delivered_at__isnull=True, dead_at__isnull=True, created_at__lte=now - older_than
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )


def outbox_dead_letters() -> list[OutboxMessage]:
    """Every dead-lettered message, oldest first."""
    return list(OutboxMessage.objects.filter(dead_at__isnull=False).order_by("dead_at", "pk"))


def outbox_dead_letters_publish() -> int:
    """Set the dead-letter gauge from the table (the ops dashboard reads no database)."""
    count = OutboxMessage.objects.filter(dead_at__isnull=False).count()
    dead_letters.set(count)
    return count


def outbox_backlog_publish() -> int:
    """Set the backlog gauges from the table (the sweep calls it). One query."""
    waiting = OutboxMessage.objects.filter(delivered_at__isnull=True, dead_at__isnull=True)
    summary = waiting.aggregate(count=Count("pk"), oldest=Min("created_at"))
    backlog.set(summary["count"])
    oldest = summary["oldest"]
    oldest_age.set((timezone.now() - oldest).total_seconds() if oldest else 0)
    return int(summary["count"])


def outbox_requeue(*, message_ids: list[int] | None = None) -> int:
    """Give dead-lettered messages (all, or these) a fresh set of attempts, due now.

    The sweep delivers them on its next run. Returns how many were requeued.
    """
    dead = OutboxMessage.objects.filter(dead_at__isnull=False)
    if message_ids is not None:
        dead = dead.filter(pk__in=message_ids)
    requeued = dead.update(dead_at=None, attempts=0, claimed_until=None)
    outbox_dead_letters_publish()
    return requeued


def outbox_dead_letter_views(*, limit: int = 500) -> tuple[DeadLetter, ...]:
    """Return dead-lettered messages as plain records, oldest first. One query."""
    return tuple(
        DeadLetter(
            id=message.pk,
            topic=message.topic,
            dedupe_key=message.dedupe_key,
            attempts=message.attempts,
            last_error=message.last_error,
            dead_at=message.dead_at,
        )
        for message in OutboxMessage.objects.filter(dead_at__isnull=False).order_by(
            "dead_at", "pk"
        )[:limit]
        if message.dead_at is not None
    )


def order_exports_delivered(*, numbers: Iterable[str]) -> set[str]:
    """Return which of these orders' ERP exports the outbox has delivered. One query.

    An export not delivered yet is on its way (or dead-lettered), not lost by the ERP.
    """
    keys = [f"order.erp_export:{number}" for number in numbers]
    delivered = OutboxMessage.objects.filter(dedupe_key__in=keys, delivered_at__isnull=False)
    prefix = len("order.erp_export:")
    return {key[prefix:] for key in delivered.values_list("dedupe_key", flat=True)}


def order_export_resend(*, number: str) -> bool:
    """Deliver an order's ERP export again (the ERP lost or never acknowledged it).

    The message keeps its dedupe key, so an ERP that did book it books it once; it is
    made due now with a fresh set of attempts and handed to the broker after commit.
    Returns False when the order has no ERP export (never paid).
    """
    with transaction.atomic():
        updated = OutboxMessage.objects.filter(
            topic="order.erp_export", dedupe_key=f"order.erp_export:{number}"
        ).update(delivered_at=None, dead_at=None, attempts=0, claimed_until=None)
        if updated:
            message_id = OutboxMessage.objects.values_list("pk", flat=True).get(
                dedupe_key=f"order.erp_export:{number}"
            )
            transaction.on_commit(lambda: outbox_publish(message_id))
    return bool(updated)
