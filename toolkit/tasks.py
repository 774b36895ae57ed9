"""The toolkit's periodic tasks."""

import logging

from celery import shared_task
from django.conf import settings

from toolkit.cache.audit import cache_audit
from toolkit.cache.store import CacheUnavailable

logger = logging.getLogger(__name__)


@shared_task
def cache_audit_task() -> int:
    """Run the cache audit; its findings land in peakstore_cache_events_total. Returns drift."""
    try:
        report = cache_audit(sample=settings.TOOLKIT_CACHE_AUDIT_SAMPLE)
    except CacheUnavailable:
        return 0  # counted as a cache error already
    if not report.passed:
        logger.error("cache audit: %s entries staler than tolerated", report.stale_entries)
    return report.stale_entries
