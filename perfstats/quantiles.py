"""Percentiles of samples and quantiles of cumulative histograms.

`percentile` is the nearest-rank definition: the smallest sample that at least `share`
of all samples are no greater than. It always answers a value that was observed, so a
p95 of whole milliseconds stays whole, and it needs no choice of interpolation (numpy's
default interpolates linearly between neighbours, `statistics.quantiles` excludes the
ends by default: each would give another p95 for the same run). The load tests' gates,
baselines and reports have always used it.

Not percentiles in this sense: a benchmark's median over a handful of rounds
(`bench_throughput`, `bench_metrics_overhead`) stays `statistics.median`: a central
value of a few rounds, where an even count should average its two middle rounds rather
than report the lower. The p99s that wrk reports are wrk's own.

`histogram_quantile` is a different question, answered the way Prometheus answers it:
only bucket counts are known, so it interpolates linearly within the bucket the rank
falls in (PromQL's `histogram_quantile`), which is what a dashboard beside Prometheus
must show.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

# (upper bound, cumulative count), sorted by bound; the last bound is usually +Inf.
Buckets = Sequence[tuple[float, float]]


def percentiles(samples: Iterable[float], *shares: float) -> tuple[float, ...]:
    """Return the nearest-rank percentile of `samples` at each share (0 < share <= 1).

    Sorts once for all shares. Without samples every percentile is 0.0: callers show the
    sample count beside it.
    """
    ordered = sorted(samples)
    if not ordered:
        return tuple(0.0 for _ in shares)
    count = len(ordered)
    # Rounded first: 0.07 * 100 is 7.000000000000001 in floating point, and rank 7 is meant.
    ranks = (min(max(math.ceil(round(share * count, 9)), 1), count) for share in shares)
    return tuple(float(ordered[rank - 1]) for rank in ranks)


def percentile(samples: Iterable[float], share: float) -> float:
    """Return the nearest-rank percentile of `samples` at `share` (0.95 for the p95)."""
    return percentiles(samples, share)[0]


def histogram_quantile(quantile: float, buckets: Buckets) -> float | None:
    """Estimate a quantile from cumulative buckets, as PromQL's histogram_quantile does.

    Linear within the bucket the rank falls in; None without observations. A quantile in
    the +Inf bucket answers the highest finite bound: the true value is only known to be
    above it.
    """
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = quantile * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


def bucket_delta(now: Buckets, before: Buckets | None) -> list[tuple[float, float]]:
    """Return the cumulative buckets observed between two readings of one histogram.

    A count lower than before means the processes restarted: then everything in `now`
    was observed since, and it is returned whole.
    """
    earlier = dict(before or [])
    delta = [(bound, count - earlier.get(bound, 0.0)) for bound, count in now]
    if any(count < 0 for _, count in delta):
        return list(now)
    return delta
