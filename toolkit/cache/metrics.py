"""Cache counters per namespace, as prometheus_client objects.

Defined and updated here; the /metrics endpoint (multiprocess mode) exposes them. One
family with an `event` label keeps every namespace's hit ratio one PromQL expression:
`rate(peakstore_cache_events_total{event="hit"}[5m]) / rate(...{event=~"hit|miss"}[5m])`.
"""

from enum import StrEnum
from functools import cache

from prometheus_client import Counter

from toolkit.tracing.tally import tally_cache


class CacheEvent(StrEnum):
    HIT = "hit"
    MISS = "miss"
    # Served past its fresh TTL (within the grace period) while one request recomputes.
    STALE_SERVED = "stale_served"
    RECOMPUTE = "recompute"
    # The cache server failed (or was skipped after a failure); the value came from the
    # system of record instead.
    ERROR = "error"
    INVALIDATION = "invalidation"
    AUDIT_ANOMALY = "audit_anomaly"


CACHE_EVENTS = Counter(
    "peakstore_cache_events",
    "Cache events per owned namespace: hits, misses, stale served, recomputes, errors, "
    "invalidations and audit anomalies.",
    ["namespace", "event"],
)


@cache
def _counter(namespace: str, event: CacheEvent):
    # Looking a labelled child up costs more than counting on it (every page-cache hit).
    return CACHE_EVENTS.labels(namespace=namespace, event=event.value)


def cache_event(namespace: str, event: CacheEvent, amount: int = 1) -> None:
    if amount:
        _counter(namespace, event).inc(amount)
        # The traced request's own tally (no span per hit): toolkit.tracing.tally.
        if event is CacheEvent.HIT or event is CacheEvent.STALE_SERVED:
            tally_cache(namespace, hits=amount)
        elif event is CacheEvent.MISS:
            tally_cache(namespace, misses=amount)


def cache_event_count(namespace: str, event: CacheEvent) -> float:
    """Return this process's count of one event (for tests and the audit report)."""
    return _counter(namespace, event)._value.get()


TAGGED_PAGE_LOOKUPS = Counter(
    "peakstore_page_cache_tagged_lookups",
    "Page-cache answers to requests whose URL carried parameters the page does not read "
    "(campaign tags, click ids), by hit or miss: a click id in the key makes every one a "
    "miss.",
    ["event"],
)


@cache
def _tagged(event: str):
    return TAGGED_PAGE_LOOKUPS.labels(event=event)


def tagged_page_lookup(event: str) -> None:
    """Count a page-cache answer ("hit" or "miss") to a request with tracking parameters."""
    _tagged(event).inc()
