"""Pricing's Prometheus metrics (the default registry, exposed at /metrics)."""

from prometheus_client import Counter

EVALUATION_BOUND_HIT = Counter(
    "peakstore_pricing_evaluation_bound_hit_total",
    "Carts priced with the evaluation bound reached: some promotions were not considered.",
)
