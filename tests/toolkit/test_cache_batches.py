"""Batch reads (`get_many_or_compute`): what one call computes is stored in one write,
and no entry outlives its TTL and grace in the backend.

Runs on the configured cache (diskcache files, or Redis on the services profile).
"""

from tests.toolkit.caches import BATCH
from toolkit.cache import owned, store


def _writes(monkeypatch) -> list[tuple[int, float]]:
    """Record each `set_many` the backend gets: (entries, timeout)."""
    backend = store.backend()
    real = backend.set_many
    writes: list[tuple[int, float]] = []

    def set_many(data, timeout=None, *args, **kwargs):
        writes.append((len(data), timeout))
        return real(data, timeout, *args, **kwargs)

    monkeypatch.setattr(backend, "set_many", set_many)
    return writes


def test_the_misses_of_one_call_are_stored_in_one_write(monkeypatch):
    writes = _writes(monkeypatch)

    BATCH.get_many_or_compute(range(50), lambda missing: {key: key * 2 for key in missing})

    assert writes == [(50, writes[0][1])]
    assert BATCH.get_many(range(50)) == {key: key * 2 for key in range(50)}


def test_an_entry_never_outlives_its_ttl_in_the_backend(monkeypatch):
    # given a jittered TTL of 59.7 s (60 s less half a percent)
    monkeypatch.setattr(owned.random, "uniform", lambda low, high: 0.005)
    writes = _writes(monkeypatch)

    BATCH.get_many_or_compute(["a"], lambda missing: {"a": 1})

    # then the backend is told whole seconds, rounded down, never more than the TTL
    assert writes == [(1, 59)]
    assert owned._expiry(0.5) == 1  # and never 0, which backends read as "do not keep"
