"""Statistics and charts of performance samples, in plain Python.

The one definition of each: a percentile of samples (`quantiles.percentile`), a quantile
from cumulative histogram buckets (`quantiles.histogram_quantile`), and the SVG line
charts, sparklines and bars (`charts`). The store (benchmarks, the ops dashboard, the
release gates) and the black-box load tests (reports, summaries, gates) all use these,
so one run's p95 is the same number wherever it is printed.

It imports no Django and no other package of the project: the bottom layer, which the
load tests may import without importing the store.
"""
