"""Read every process's metrics into one compact reading, and keep a short ring of them.

A reading holds cumulative counts (as Prometheus does); anything over time is the
difference of two readings, so the dashboard needs no process of its own: each time
it is asked for data it takes a reading, and at most every `RING_INTERVAL_S` it pushes
one onto a ring of `RING_SIZE` kept in the cache server as shared state (`OPS`, declared
in `storefront/caches.py`), shared by every worker. The dashboard takes quantiles and
differences of the buckets with `perfstats.quantiles`.
"""

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields

from django.conf import settings
from prometheus_client.metrics_core import Metric

from storefront.caches import OPS
from storefront.celery import app as celery_app
from toolkit.metrics import metrics_collect
from toolkit.metrics.celery import CeleryQueueCollector

RING = "readings"  # keys of the shared state OPS
RING_LOCK = "readings-lock"
RING_INTERVAL_S = 5.0
RING_SIZE = 72  # six minutes at one reading every five seconds
RING_TTL_S = 3600


@dataclass
class RouteReading:
    buckets: list[tuple[float, float]] = field(default_factory=list)  # (le, cumulative)
    count: float = 0.0
    errors: float = 0.0  # 5xx responses
    timeouts: float = 0.0
    queries: float = 0.0  # SQL statements, over `count` requests
    duplicate_requests: float = 0.0


@dataclass
class Reading:
    """Cumulative counts across every process at one moment."""

    at: float
    routes: dict[str, RouteReading] = field(default_factory=dict)
    in_flight: float = 0.0
    cache_events: dict[tuple[str, str], float] = field(default_factory=dict)
    dependency_calls: dict[tuple[str, str], float] = field(default_factory=dict)
    dependency_latency: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    breaker_states: dict[str, float] = field(default_factory=dict)
    queue_depth: dict[str, float] | None = None  # None: the broker did not answer
    tasks: dict[tuple[str, str], float] = field(default_factory=dict)
    outbox_dead_letters: float | None = None  # None: no sweep has counted them yet
    outbox_publish_failures: float = 0.0
    outbox_backlog: float | None = None  # None: no sweep has counted it yet
    outbox_oldest_age_s: float | None = None
    funnel: dict[str, float] = field(default_factory=dict)
    duplicate_queries: dict[tuple[str, str], float] = field(default_factory=dict)
    admission_wait: float | None = None  # None: no worker has estimated it yet
    admission_overload_wait: float | None = None  # None: admission control off or unstarted
    admission_budgets: dict[str, float] = field(default_factory=dict)  # by route class
    shed: dict[str, float] = field(default_factory=dict)  # by route class


_READING_FIELDS = frozenset(field.name for field in fields(Reading))


def _samples(families: Iterable[Metric]) -> Iterable[tuple[str, Mapping[str, str], float]]:
    for family in families:
        for sample in family.samples:
            yield sample.name, sample.labels, sample.value


def reading_from(families: Iterable[Metric], *, at: float) -> Reading:
    """Fold metric families into a reading (unknown families are ignored)."""
    reading = Reading(at=at)
    routes: defaultdict[str, RouteReading] = defaultdict(RouteReading)
    latency: defaultdict[str, list[tuple[float, float]]] = defaultdict(list)
    for name, labels, value in _samples(families):
        match name:
            case "peakstore_http_request_duration_seconds_bucket":
                routes[labels["route"]].buckets.append((float(labels["le"]), value))
            case "peakstore_http_request_duration_seconds_count":
                routes[labels["route"]].count += value
            case "peakstore_http_responses_total" if labels["status"] == "5xx":
                routes[labels["route"]].errors += value
            case "peakstore_http_request_timeouts_total":
                routes[labels["route"]].timeouts += value
            case "peakstore_http_request_queries_total":
                routes[labels["route"]].queries += value
            case "peakstore_http_duplicate_query_requests_total":
                routes[labels["route"]].duplicate_requests += value
            case "peakstore_http_duplicate_queries_total":
                key = (labels["route"], labels["fingerprint"])
                reading.duplicate_queries[key] = value
            case "peakstore_http_requests_in_flight":
                reading.in_flight += value
            case "peakstore_cache_events_total":
                reading.cache_events[(labels["namespace"], labels["event"])] = value
            case "peakstore_dependency_calls_total":
                reading.dependency_calls[(labels["dependency"], labels["outcome"])] = value
            case "peakstore_dependency_latency_seconds_bucket":
                latency[labels["dependency"]].append((float(labels["le"]), value))
            case "peakstore_dependency_breaker_state":
                previous = reading.breaker_states.get(labels["dependency"], 0.0)
                reading.breaker_states[labels["dependency"]] = max(previous, value)
            case "peakstore_celery_queue_depth":
                reading.queue_depth = {**(reading.queue_depth or {}), labels["queue"]: value}
            case "peakstore_celery_broker_up" if value == 1 and reading.queue_depth is None:
                reading.queue_depth = {}
            case "peakstore_celery_tasks_total":
                reading.tasks[(labels["task"], labels["state"])] = value
            case "peakstore_outbox_dead_letters":
                reading.outbox_dead_letters = value
            case "peakstore_outbox_publish_failures_total":
                reading.outbox_publish_failures += value
            case "peakstore_outbox_backlog":
                reading.outbox_backlog = value
            case "peakstore_outbox_oldest_age_seconds":
                reading.outbox_oldest_age_s = value
            case "peakstore_checkout_funnel_total":
                reading.funnel[labels["step"]] = value
            case "peakstore_admission_expected_wait_seconds":
                reading.admission_wait = value
            case "peakstore_admission_overload_wait_seconds":
                reading.admission_overload_wait = value
            case "peakstore_admission_budget_seconds":
                reading.admission_budgets[labels["route_class"]] = value
            case "peakstore_requests_shed_total":
                reading.shed[labels["route_class"]] = value
    # Buckets of one route arrive per method: merge them by boundary.
    for route in routes.values():
        route.buckets = _merge_buckets(route.buckets)
    reading.routes = dict(routes)
    reading.dependency_latency = {name: _merge_buckets(b) for name, b in latency.items()}
    return reading


def _merge_buckets(buckets: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: defaultdict[float, float] = defaultdict(float)
    for bound, count in buckets:
        merged[bound] += count
    return sorted(merged.items())


def reading_take() -> Reading:
    """Read every process's metrics now (the broker is asked for the queue depth)."""
    queues = (settings.CELERY_TASK_DEFAULT_QUEUE,)
    families = metrics_collect(extra=[CeleryQueueCollector(celery_app, queues, timeout=0.5)])
    return reading_from(families, at=time.time())


def ring_update(reading: Reading) -> list[Reading]:
    """Return the ring with `reading` pushed onto it if the newest is old enough.

    The lock key lets one worker at a time push, so two dashboards refreshing together
    never lose each other's reading; a worker that does not get the lock just reads.
    """
    try:
        ring: list[Reading] = OPS.get(RING) or []
    except (AttributeError, TypeError, ValueError):
        ring = []  # written by an older release with another Reading shape
    if ring and vars(ring[0]).keys() != _READING_FIELDS:
        ring = []  # the same, unpickled without complaint but missing fields
    due = not ring or reading.at - ring[-1].at >= RING_INTERVAL_S
    if due and OPS.add(RING_LOCK, 1, timeout=RING_INTERVAL_S):
        ring = [*ring, reading][-RING_SIZE:]
        OPS.set(RING, ring, timeout=RING_TTL_S)
    return ring


def counter_delta(now: float, before: float | None) -> float:
    """The increase between two readings of a counter (a restart counts from zero)."""
    if before is None or now < before:
        return now
    return now - before
