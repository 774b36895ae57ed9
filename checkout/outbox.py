"""The transactional outbox for order side effects.

`outbox_enqueue` writes a message in the caller's transaction and, once it commits,
asks Celery to deliver it. Delivery claims the message with a lease, runs its handler and
marks it delivered, so two workers never deliver it at once; a periodic sweep re-queues
messages whose delivery was lost (broker down, worker killed). Handlers are idempotent
consumers: each passes the message's dedupe key on, so a redelivery is recognised
downstream.
"""

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from checkout.models import Order, OutboxMessage
from checkout.selectors import order_view_for
from integrations.interface import erp_order_export

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)


def outbox_enqueue(*, topic: str, key: str, payload: dict[str, Any]) -> None:
    """Record a side effect inside the current transaction; deliver after commit."""
    message = OutboxMessage.objects.create(
        topic=topic, dedupe_key=f"{topic}:{key}", payload=payload
    )
    transaction.on_commit(lambda: outbox_deliver_task.delay(message.pk))


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
    order = Order.objects.prefetch_related("lines").get(number=payload["number"])
    erp_order_export(
        reference=order.number,
        idempotency_key=dedupe_key,
        lines=[{"sku": line.sku, "quantity": line.quantity} for line in order.lines.all()],
        total=str(order.total),
        currency=order.currency,
    )


HANDLERS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "order.confirmation_email": _send_confirmation_email,
    "order.erp_export": _export_to_erp,
}


def outbox_deliver(*, message_id: int) -> bool:
    """Deliver one message unless it is delivered or leased; True if this call did it.

    A handler error leaves the message undelivered (with the error recorded) and is
    re-raised so the task's bounded retry can try again.
    """
    now = timezone.now()
    claimed = (
        OutboxMessage.objects.filter(pk=message_id, delivered_at__isnull=True)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + LEASE, attempts=F("attempts") + 1)
    )
    if not claimed:
        return False
    message = OutboxMessage.objects.get(pk=message_id)
    try:
        HANDLERS[message.topic](message.payload, message.dedupe_key)
    except Exception as error:
        OutboxMessage.objects.filter(pk=message_id).update(
            claimed_until=None, last_error=repr(error)[:500]
        )
        raise
    OutboxMessage.objects.filter(pk=message_id).update(
        delivered_at=timezone.now(), claimed_until=None, last_error=""
    )
    return True


@shared_task(bind=True, max_retries=6, acks_late=True)
def outbox_deliver_task(self, message_id: int) -> bool:
    """Deliver one outbox message; bounded retries with exponential backoff."""
    try:
        return outbox_deliver(message_id=message_id)
    except Exception as error:
        raise self.retry(exc=error, countdown=min(2**self.request.retries, 60)) from error


def outbox_undelivered_ids(*, older_than: timedelta, limit: int = 500) -> list[int]:
    """Messages that should have been delivered by now and are not leased."""
    now = timezone.now()
    return list(
        OutboxMessage.objects.filter(delivered_at__isnull=True, created_at__lte=now - older_than)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
