"""Inventory's periodic work (Celery beat: `CELERY_BEAT_SCHEDULE`)."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from catalog.interface import variant_sku_batches
from inventory.services import stock_reservations_purge, stock_sync_from_erp
from toolkit.once import one_at_a_time

ERP_SYNC_SOFT_TIME_LIMIT = 600
ERP_SYNC_TIME_LIMIT = 660
# A lease outlives the hard limit: it can only lapse under a run that is already dead.
LEASE_MARGIN = timedelta(seconds=30)


@shared_task
def stock_reservations_purge_task() -> int:
    """Delete expired cart reservations (reads already ignore them)."""
    return stock_reservations_purge()


@shared_task(soft_time_limit=ERP_SYNC_SOFT_TIME_LIMIT, time_limit=ERP_SYNC_TIME_LIMIT)
def stock_sync_from_erp_task() -> dict[str, int] | None:
    """Sync on hand from the ERP, the whole catalog in keyset batches.

    Never two at once (`one_at_a_time`); None when another run is going. An ERP failure
    ends the run (the next one starts over); batches already synced stay synced.
    """
    ttl = timedelta(seconds=ERP_SYNC_TIME_LIMIT) + LEASE_MARGIN
    with one_at_a_time("inventory.stock_sync_from_erp", ttl=ttl) as mine:
        if not mine:
            return None
        checked = changed = 0
        for batch in variant_sku_batches(batch_size=settings.INVENTORY_ERP_SYNC_BATCH):
            changed += stock_sync_from_erp(variant_skus=batch)
            checked += len(batch)
        return {"checked": checked, "changed": changed}
