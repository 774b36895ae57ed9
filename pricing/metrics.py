"""Pricing's Prometheus metrics (the default registry, exposed at /metrics)."""

from prometheus_client import Counter, Histogram

EVALUATION_BOUND_HIT = Counter(
    "peakstore_pricing_evaluation_bound_hit_total",
    "Carts priced with the evaluation bound reached: some promotions were not considered.",
)

EVALUATIONS_PER_CART = Histogram(
    "peakstore_pricing_evaluations_per_cart",
    "Promotion rule checks made to price one cart (the evaluation bound caps them).",
    buckets=(10, 50, 100, 500, 1_000, 2_000, 10_000, 100_000, 1_000_000),
)
