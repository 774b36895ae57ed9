"""Prometheus samples of this process, read relative to when a test started."""

import pytest
from prometheus_client import REGISTRY


class MetricDelta:
    """Read samples of this process's registry relative to when the test started."""

    def __init__(self) -> None:
        self._start: dict[tuple[str, tuple], float] = {}

    def _value(self, name: str, labels: dict[str, str]) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    def watch(self, name: str, **labels: str) -> None:
        self._start[(name, tuple(sorted(labels.items())))] = self._value(name, labels)

    def __call__(self, name: str, **labels: str) -> float:
        start = self._start.get((name, tuple(sorted(labels.items()))), None)
        assert start is not None, f"call watch({name!r}, ...) before the requests"
        return self._value(name, labels) - start


@pytest.fixture
def metric_delta() -> MetricDelta:
    return MetricDelta()
