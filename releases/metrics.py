"""Cohort-labelled signals: the same request measured for canary and control.

A request on a route a flag may affect, while that flag is partly exposed, is counted
under `{flag, cohort}` with cohort `canary` (the flag was on for it) or `control` (off).
Both cohorts share the window, the routes and the load, so their p95, error and timeout
rates compare like for like. Checkout steps are labelled the same way on every route,
so a change on the product page is judged by the orders it costs too.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from checkout.interface import FunnelStep
from releases.gates import CohortTotals
from toolkit.metrics import metrics_collect
from toolkit.once import created_once

CANARY, CONTROL = "canary", "control"
# Fine around typical page SLOs: a p95 ratio is only as good as the buckets under it.
LATENCY_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3,
    0.4, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0,
)  # fmt: skip
DURATION = "peakstore_release_request_duration_seconds"
ERRORS = "peakstore_release_request_errors"
TIMEOUTS = "peakstore_release_request_timeouts"
CHECKOUTS = "peakstore_release_checkouts"
# The checkout funnel steps the completion ratio is made of.
CHECKOUT_STARTED, CHECKOUT_COMPLETED = FunnelStep.CHECKOUT_STARTED, FunnelStep.ORDER_COMPLETED


@created_once
def release_metrics() -> tuple[Histogram, Counter, Counter, Counter]:
    """Create the cohort metrics once per process."""
    return (
        Histogram(
            DURATION,
            "Request time on a flag's routes, by flag and cohort (canary, control).",
            ["flag", "cohort"],
            buckets=LATENCY_BUCKETS,
        ),
        Counter(ERRORS, "5xx answers on a flag's routes, by flag and cohort.", ["flag", "cohort"]),
        Counter(
            TIMEOUTS,
            "Requests on a flag's routes slower than SLO x PEAKSTORE_METRICS_TIMEOUT_FACTOR.",
            ["flag", "cohort"],
        ),
        Counter(
            CHECKOUTS,
            "Checkouts started and completed by subjects of each cohort of a flag.",
            ["flag", "cohort", "step"],
        ),
    )


def request_observe(*, flag: str, cohort: str, seconds: float, error: bool, timeout: bool) -> None:
    duration, errors, timeouts, _ = release_metrics()
    duration.labels(flag, cohort).observe(seconds)
    if error:
        errors.labels(flag, cohort).inc()
    if timeout:
        timeouts.labels(flag, cohort).inc()


def checkout_observe(*, flag: str, cohort: str, step: str) -> None:
    release_metrics()[3].labels(flag, cohort, step).inc()


def cohort_totals_read() -> dict[tuple[str, str], CohortTotals]:
    """Return cumulative totals per (flag, cohort), merged across every process."""
    release_metrics()  # so the families exist in this process too
    raw: dict[tuple[str, str], dict] = {}

    def entry(labels: dict) -> dict:
        return raw.setdefault((labels["flag"], labels["cohort"]), {"buckets": {}, "requests": 0.0})

    for family in metrics_collect():
        if not family.name.startswith("peakstore_release_"):
            continue
        for sample in family.samples:
            if "flag" not in sample.labels:
                continue
            totals = entry(sample.labels)
            if sample.name == f"{DURATION}_bucket":
                bound = float(sample.labels["le"])
                totals["buckets"][bound] = totals["buckets"].get(bound, 0.0) + sample.value
            elif sample.name == f"{DURATION}_count":
                totals["requests"] += sample.value
            elif sample.name == f"{ERRORS}_total":
                totals["errors"] = totals.get("errors", 0.0) + sample.value
            elif sample.name == f"{TIMEOUTS}_total":
                totals["timeouts"] = totals.get("timeouts", 0.0) + sample.value
            elif sample.name == f"{CHECKOUTS}_total":
                key: dict[str, str] = {
                    CHECKOUT_STARTED: "checkouts_started",
                    CHECKOUT_COMPLETED: "checkouts_completed",
                }
                if (field := key.get(sample.labels["step"])) is not None:
                    totals[field] = totals.get(field, 0.0) + sample.value
    return {
        key: CohortTotals(**{**values, "buckets": tuple(sorted(values["buckets"].items()))})
        for key, values in raw.items()
    }
