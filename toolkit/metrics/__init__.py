"""Prometheus metrics: one registry view across every process of a stack.

Peakstore runs several processes that all count (gunicorn workers, Celery's pool), and a
scrape lands on one of them. prometheus_client's multiprocess mode makes each process
write its samples to memory-mapped files in `PROMETHEUS_MULTIPROC_DIR`, and the scraped
process merges every file. The variable must be set before prometheus_client is
imported (the stack sets it per stack, under PEAKSTORE_VAR_DIR, and empties the folder
at start); without it (tests, `runserver`) the process's own registry is exposed.

Metric objects live with their owners (`<app>/metrics.py`); this package holds the
mechanism: the exposition, the request middleware (`toolkit.metrics.http`), SQL
fingerprints (`toolkit.metrics.sql`) and the Celery hooks (`toolkit.metrics.celery`).
"""

from collections.abc import Iterable, Iterator

from django.conf import settings
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE_LATEST", "metrics_collect", "metrics_exposition", "multiprocess_dir"]


def multiprocess_dir() -> str:
    """The folder every process writes its samples to, or "" in single-process mode."""
    return settings.PEAKSTORE_METRICS_MULTIPROC_DIR


class _ProcessRegistry(Collector):
    """This process's default registry, re-collected inside a scrape registry."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def metrics_registry(extra: Iterable[Collector] = ()) -> CollectorRegistry:
    """Return a registry for one scrape: every process's samples, plus `extra` collectors.

    `extra` are collectors sampled at scrape time (queue depth read from the broker).
    """
    registry = CollectorRegistry(auto_describe=False)
    if path := multiprocess_dir():
        MultiProcessCollector(registry, path=path)
    else:
        registry.register(_ProcessRegistry())
    for collector in extra:
        registry.register(collector)
    return registry


def metrics_collect(extra: Iterable[Collector] = ()) -> list[Metric]:
    """Return every metric family with its samples, merged across processes."""
    return list(metrics_registry(extra).collect())


def metrics_exposition(extra: Iterable[Collector] = ()) -> bytes:
    """Return the Prometheus text exposition of every process's metrics."""
    return generate_latest(metrics_registry(extra))
