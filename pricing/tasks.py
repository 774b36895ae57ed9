"""Pricing's periodic work (Celery beat: `CELERY_BEAT_SCHEDULE`)."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from catalog.interface import variant_sku_batches
from pricing.services import price_windows_publish, prices_sync_from_pim
from toolkit.once import one_at_a_time

PIM_SYNC_SOFT_TIME_LIMIT = 600
PIM_SYNC_TIME_LIMIT = 660
# A lease outlives the hard limit: it can only lapse under a run that is already dead.
LEASE_MARGIN = timedelta(seconds=30)


@shared_task
def price_windows_publish_task() -> int:
    """Publish the price-list windows that opened or closed lately.

    Looks back two periods of its schedule, so one missed tick loses nothing; a window
    edge is then usually published twice, which costs a second (idempotent) refresh.
    """
    until = timezone.now()
    since = until - timedelta(seconds=2 * settings.PRICING_WINDOWS_PUBLISH_EVERY)
    return price_windows_publish(since=since, until=until)


@shared_task(soft_time_limit=PIM_SYNC_SOFT_TIME_LIMIT, time_limit=PIM_SYNC_TIME_LIMIT)
def prices_sync_from_pim_task() -> dict[str, int] | None:
    """Import the PIM's prices into the base list, the whole catalog in keyset batches.

    Never two at once (`one_at_a_time`); None when another run is going. A PIM failure
    ends the run (the next one starts over); batches already synced stay synced.
    """
    ttl = timedelta(seconds=PIM_SYNC_TIME_LIMIT) + LEASE_MARGIN
    with one_at_a_time("pricing.prices_sync_from_pim", ttl=ttl) as mine:
        if not mine:
            return None
        checked = changed = 0
        for batch in variant_sku_batches(batch_size=settings.PRICING_PIM_SYNC_BATCH):
            changed += prices_sync_from_pim(variant_skus=batch)
            checked += len(batch)
        return {"checked": checked, "changed": changed}
