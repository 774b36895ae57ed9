"""Inventory's periodic housekeeping."""

from celery import shared_task

from inventory.services import stock_reservations_purge


@shared_task
def stock_reservations_purge_task() -> int:
    """Delete expired cart reservations (reads already ignore them)."""
    return stock_reservations_purge()
