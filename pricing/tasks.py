"""Pricing's periodic work (Celery beat: `CELERY_BEAT_SCHEDULE`)."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from pricing.services import price_windows_publish


@shared_task
def price_windows_publish_task() -> int:
    """Publish the price-list windows that opened or closed lately.

    Looks back two periods of its schedule, so one missed tick loses nothing; a window
    edge is then usually published twice, which costs a second (idempotent) refresh.
    """
    until = timezone.now()
    since = until - timedelta(seconds=2 * settings.PRICING_WINDOWS_PUBLISH_EVERY)
    return price_windows_publish(since=since, until=until)
