"""Per-dependency metrics: what each call came to, how long it took, the breaker's state.

Plain prometheus_client objects, defined once per process. Under gunicorn the
observability work exposes them in multiprocess mode (PROMETHEUS_MULTIPROC_DIR), which is
why the breaker gauge says how to merge workers: the worst state any worker saw.
"""

from prometheus_client import Counter, Gauge, Histogram

OUTCOMES = ("ok", "error", "timeout", "short_circuited", "rejected", "fallback")
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}

dependency_calls = Counter(
    "peakstore_dependency_calls_total",
    "Calls to an external dependency by outcome; `fallback` counts fallbacks served.",
    ["dependency", "outcome"],
)
dependency_latency = Histogram(
    "peakstore_dependency_latency_seconds",
    "Wall time of calls that reached the dependency, retries included.",
    ["dependency"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
dependency_breaker_state = Gauge(
    "peakstore_dependency_breaker_state",
    "Circuit breaker state as this process last saw it: 0 closed, 1 half-open, 2 open.",
    ["dependency"],
    multiprocess_mode="max",
)
dependency_retries = Counter(
    "peakstore_dependency_retries_total",
    "Attempts retried after a retryable failure (timeouts, resets, 5xx), by dependency.",
    ["dependency"],
)


def outcome_count(*, dependency: str, outcome: str) -> None:
    """Count one outcome of a call to `dependency`."""
    dependency_calls.labels(dependency=dependency, outcome=outcome).inc()


def breaker_state_set(*, dependency: str, state: str) -> None:
    dependency_breaker_state.labels(dependency=dependency).set(BREAKER_STATES[state])
