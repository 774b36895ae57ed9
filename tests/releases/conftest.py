"""A simulated metric stream: cumulative cohort totals as Prometheus would expose them."""

from dataclasses import dataclass, field

from releases.gates import CohortTotals
from releases.metrics import LATENCY_BUCKETS

BOUNDS = (*LATENCY_BUCKETS, float("inf"))


@dataclass
class CohortStream:
    """Cumulative totals of one cohort; `serve` adds an interval of traffic."""

    counts: dict = field(default_factory=lambda: dict.fromkeys(BOUNDS, 0.0))
    requests: float = 0.0
    errors: float = 0.0
    timeouts: float = 0.0
    started: float = 0.0
    completed: float = 0.0

    def serve(self, requests, *, seconds, errors=0, timeouts=0, started=0, completed=0):
        """Add `requests` that each took `seconds` (all in one latency bucket)."""
        for bound in BOUNDS:
            if seconds <= bound:
                self.counts[bound] += requests
        self.requests += requests
        self.errors += errors
        self.timeouts += timeouts
        self.started += started
        self.completed += completed

    def totals(self) -> CohortTotals:
        return CohortTotals(
            requests=self.requests,
            buckets=tuple(self.counts.items()),
            errors=self.errors,
            timeouts=self.timeouts,
            checkouts_started=self.started,
            checkouts_completed=self.completed,
        )
