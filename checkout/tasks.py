"""Checkout's Celery tasks. Scheduled with transaction.on_commit by the services."""

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from checkout.models import Order
from checkout.selectors import order_view_for


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def order_send_confirmation(order_number: str) -> None:
    """Email the order confirmation."""
    order = Order.objects.prefetch_related("lines").filter(number=order_number).first()
    if order is None or order.status != Order.Status.PAID:
        return
    view = order_view_for(order=order)
    send_mail(
        subject=f"{settings.STORE_NAME} order {view.number} confirmed",
        message=render_to_string("checkout/order_confirmation.txt", {"order": view}),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[view.email],
    )
