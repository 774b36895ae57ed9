"""What the ops dashboard shows, computed from readings and the ownership manifest.

Rates and percentiles cover the last `WINDOW_S` seconds (the current reading against
the ring's reading from about then); each series has one point per ring interval.
"""

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from perfstats.quantiles import bucket_delta, histogram_quantile
from storefront.ops.readings import RING_INTERVAL_S, Reading, counter_delta
from toolkit.cache import registry
from toolkit.manifest import OwnershipManifest

WINDOW_S = 60.0
REFRESH_S = 5
BREAKER_NAMES = {0: "closed", 1: "half_open", 2: "open"}
FUNNEL_STEPS = (
    "cart_created",
    "line_added",
    "checkout_started",
    "order_placed",
    "payment_declined",
    "payment_failed",
    "order_completed",
)
CACHE_HIT_EVENTS = ("hit", "stale_served")
CACHE_LOOKUP_EVENTS = ("hit", "stale_served", "miss")
CRITICALITY_ORDER = {"critical": 0, "core": 1, "internal": 2}


@dataclass(frozen=True)
class RouteRow:
    route: str
    owner: str
    criticality: str
    slo_ms: int | None
    requests: int
    rps: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_rate: float | None
    timeout_rate: float | None
    queries_per_request: float | None
    duplicate_requests: int
    p95_series: list[float | None]

    @property
    def over_slo(self) -> bool:
        return self.p95_ms is not None and self.slo_ms is not None and self.p95_ms > self.slo_ms


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def _baseline(ring: list[Reading], now: Reading) -> Reading | None:
    """The newest reading at least WINDOW_S old, else the oldest one there is."""
    older = [reading for reading in ring if reading.at < now.at - 0.5]
    if not older:
        return None
    aged = [reading for reading in older if reading.at <= now.at - WINDOW_S]
    return aged[-1] if aged else older[0]


def _pairs(ring: list[Reading], now: Reading) -> list[tuple[Reading, Reading]]:
    points = [*ring, now] if not ring or now.at - ring[-1].at > 0.5 else ring
    return list(pairwise(points))


def route_rows(ring: list[Reading], now: Reading, manifest: OwnershipManifest) -> list[RouteRow]:
    before = _baseline(ring, now)
    elapsed = max(now.at - before.at, 1e-9) if before else None
    pairs = _pairs(ring, now)
    rows = []
    for name, current in now.routes.items():
        previous = before.routes.get(name) if before else None
        buckets = bucket_delta(current.buckets, previous.buckets if previous else None)
        requests = counter_delta(current.count, previous.count if previous else None)
        if requests <= 0 and previous is not None:
            buckets, requests = current.buckets, 0.0  # idle in the window: no percentiles
        series: list[float | None] = []
        for older, newer in pairs:
            if (after := newer.routes.get(name)) is None:
                series.append(None)
                continue
            earlier = older.routes.get(name)
            window = bucket_delta(after.buckets, earlier.buckets if earlier else None)
            series.append(_ms(histogram_quantile(0.95, window)))
        entry = manifest.route(name)
        queries = counter_delta(current.queries, previous.queries if previous else None)
        rows.append(
            RouteRow(
                route=name,
                owner=entry.owner if entry else "?",
                criticality=str(entry.criticality) if entry else "unknown",
                slo_ms=entry.slo_p95_ms if entry else None,
                requests=int(requests),
                rps=round(requests / elapsed, 2) if elapsed else 0.0,
                p50_ms=_ms(histogram_quantile(0.50, buckets)) if requests else None,
                p95_ms=_ms(histogram_quantile(0.95, buckets)) if requests else None,
                p99_ms=_ms(histogram_quantile(0.99, buckets)) if requests else None,
                error_rate=_ratio(
                    counter_delta(current.errors, previous.errors if previous else None), requests
                ),
                timeout_rate=_ratio(
                    counter_delta(current.timeouts, previous.timeouts if previous else None),
                    requests,
                ),
                queries_per_request=round(queries / requests, 1) if requests else None,
                duplicate_requests=int(current.duplicate_requests),
                p95_series=series,
            )
        )
    rows.sort(key=lambda row: (CRITICALITY_ORDER.get(row.criticality, 3), -row.requests))
    return rows


def _series(ring: list[Reading], now: Reading, value) -> list[float | None]:
    return [value(older, newer) for older, newer in _pairs(ring, now)]


def _total_rps(older: Reading, newer: Reading) -> float:
    seconds = max(newer.at - older.at, 1e-9)
    total = sum(
        counter_delta(route.count, older.routes[name].count if name in older.routes else None)
        for name, route in newer.routes.items()
    )
    return round(total / seconds, 2)


def _completion(older: Reading, newer: Reading) -> float | None:
    started = counter_delta(
        newer.funnel.get("checkout_started", 0), older.funnel.get("checkout_started")
    )
    completed = counter_delta(
        newer.funnel.get("order_completed", 0), older.funnel.get("order_completed")
    )
    return _ratio(completed, started)


def _queue_depth(_: Reading, newer: Reading) -> float | None:
    return sum(newer.queue_depth.values()) if newer.queue_depth is not None else None


def dashboard_data(ring: list[Reading], now: Reading, manifest: OwnershipManifest) -> dict:
    """Everything the dashboard shows, as JSON-ready data."""
    rows = route_rows(ring, now, manifest)
    before = _baseline(ring, now)
    requests = sum(row.requests for row in rows)
    errors = sum((row.error_rate or 0) * row.requests for row in rows)
    timeouts = sum((row.timeout_rate or 0) * row.requests for row in rows)
    return {
        "generated_at": datetime.fromtimestamp(now.at, tz=UTC).isoformat(timespec="seconds"),
        "window_seconds": int(now.at - before.at) if before else 0,
        "refresh_seconds": REFRESH_S,
        "interval_seconds": RING_INTERVAL_S,
        "totals": {
            "rps": sum(row.rps for row in rows),
            "error_rate": _ratio(errors, requests),
            "timeout_rate": _ratio(timeouts, requests),
            "in_flight": int(now.in_flight),
            "rps_series": _series(ring, now, _total_rps),
        },
        "routes": [
            {**asdict(row), "over_slo": row.over_slo}
            for row in rows
            if row.requests or row.criticality != "internal"
        ],
        "caches": _caches(now, before, manifest),
        "dependencies": _dependencies(now, before, manifest),
        "celery": _celery(ring, now, before),
        "funnel": _funnel(ring, now, before),
        "admission": _admission(ring, now, before),
        "duplicate_queries": [
            {"route": route, "fingerprint": fingerprint, "repeats": int(value)}
            for (route, fingerprint), value in sorted(
                now.duplicate_queries.items(), key=lambda item: -item[1]
            )[:8]
        ],
    }


def _caches(now: Reading, before: Reading | None, manifest: OwnershipManifest) -> list[dict]:
    # Owned caches declare their owner in the cache registry; the rest in the manifest.
    owners = {entry.namespace: entry.owner for entry in manifest.cache_namespaces} | {
        spec.namespace: spec.owner for spec in registry.specs()
    }
    namespaces = sorted({namespace for namespace, _ in now.cache_events})
    rows = []
    for namespace in namespaces:
        counts = {
            event: counter_delta(value, before.cache_events.get(key) if before else None)
            for key, value in now.cache_events.items()
            if key[0] == namespace
            for event in [key[1]]
        }
        lookups = sum(counts.get(event, 0) for event in CACHE_LOOKUP_EVENTS)
        hits = sum(counts.get(event, 0) for event in CACHE_HIT_EVENTS)
        rows.append(
            {
                "namespace": namespace,
                "owner": owners.get(namespace, "?"),
                "hit_ratio": _ratio(hits, lookups),
                "events": {event: int(count) for event, count in sorted(counts.items())},
            }
        )
    return rows


def _dependencies(now: Reading, before: Reading | None, manifest: OwnershipManifest) -> list[dict]:
    declared = {entry.dependency: entry for entry in manifest.dependencies}
    names = sorted(
        {name for name, _ in now.dependency_calls} | set(now.breaker_states) | set(declared)
    )
    rows = []
    for name in names:
        outcomes = {
            outcome: int(counter_delta(value, before.dependency_calls.get(key) if before else None))
            for key, value in now.dependency_calls.items()
            if key[0] == name
            for outcome in [key[1]]
        }
        calls = sum(outcomes.values()) - outcomes.get("fallback", 0)
        failed = calls - outcomes.get("ok", 0)
        previous = before.dependency_latency.get(name) if before else None
        latency = bucket_delta(now.dependency_latency.get(name, []), previous)
        entry = declared.get(name)
        rows.append(
            {
                "dependency": name,
                "owner": entry.owner if entry else "?",
                "criticality": str(entry.criticality) if entry else "unknown",
                "outcomes": outcomes,
                "failure_rate": _ratio(failed, calls),
                "p95_ms": _ms(histogram_quantile(0.95, latency)),
                "breaker": BREAKER_NAMES.get(int(now.breaker_states.get(name, 0)), "closed"),
            }
        )
    return rows


def _celery(ring: list[Reading], now: Reading, before: Reading | None) -> dict[str, Any]:
    states: dict[str, int] = {}
    for (_, state), value in now.tasks.items():
        previous = before.tasks.get((_, state)) if before else None
        states[state] = states.get(state, 0) + int(counter_delta(value, previous))
    return {
        "broker_up": now.queue_depth is not None,
        "queue_depth": now.queue_depth,
        "tasks": states,
        "depth_series": _series(ring, now, _queue_depth),
        # Messages given up on (a violation until requeued), and orders' side effects the
        # broker refused in the window (the outbox sweep delivers those).
        "outbox_dead_letters": (
            int(now.outbox_dead_letters) if now.outbox_dead_letters is not None else None
        ),
        "outbox_publish_failures": int(
            counter_delta(
                now.outbox_publish_failures, before.outbox_publish_failures if before else None
            )
        ),
        # Waiting for delivery at the last sweep, and how old the oldest is.
        "outbox_backlog": int(now.outbox_backlog) if now.outbox_backlog is not None else None,
        "outbox_oldest_age_s": (
            round(now.outbox_oldest_age_s) if now.outbox_oldest_age_s is not None else None
        ),
    }


def _expected_wait(_: Reading, newer: Reading) -> float | None:
    return _ms(newer.admission_wait)


def _admission(ring: list[Reading], now: Reading, before: Reading | None) -> dict[str, Any]:
    """Compare the expected wait with the overload wait; each class's budget and shed count.

    No budgets: admission control is off, or no worker has started it yet. The wait is
    the latest estimate of any worker, so "overloaded" is what a request arriving then
    would have met, had the wait stood; the budgets are how long a request of each class
    may have waited when a worker takes it during an overload, and the shed counts are
    what the workers refused in the window.
    """
    wait, overload = now.admission_wait, now.admission_overload_wait
    classes = []
    # Smallest budget first: the order in which classes are shed as an overload deepens.
    for name, budget in sorted(now.admission_budgets.items(), key=lambda item: item[1]):
        previous = before.shed.get(name) if before else None
        classes.append(
            {
                "route_class": name,
                "budget_ms": _ms(budget),
                "shed": int(counter_delta(now.shed.get(name, 0.0), previous)),
            }
        )
    return {
        "expected_wait_ms": _ms(wait),
        "wait_series": _series(ring, now, _expected_wait),
        "overload_wait_ms": _ms(overload),
        "wait_to_overload": _ratio(wait, overload) if wait is not None and overload else None,
        "overloaded": wait is not None and overload is not None and wait > overload,
        "classes": classes,
    }


def _funnel(ring: list[Reading], now: Reading, before: Reading | None) -> dict[str, Any]:
    counts = {
        step: int(
            counter_delta(now.funnel.get(step, 0), before.funnel.get(step) if before else None)
        )
        for step in FUNNEL_STEPS
    }
    return {
        "steps": [{"step": step, "count": count} for step, count in counts.items()],
        "completion_ratio": _ratio(counts["order_completed"], counts["checkout_started"]),
        "completion_series": _series(ring, now, _completion),
    }
