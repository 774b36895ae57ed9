"""Stampede protection: one recompute however many requests find a key expired or gone.

The threads share the configured cache (diskcache files, or Redis on the services
profile), as gunicorn workers do. The recompute sleeps to hold its lock while the other
threads arrive; the assertions are counts, never timings.
"""

import threading
import time
from dataclasses import replace

from tests.concurrency import run_concurrently
from tests.toolkit.caches import HOT
from toolkit.cache import owned
from toolkit.cache.metrics import CacheEvent, cache_event_count

REQUESTS = 100


class Recompute:
    """A compute function that counts its calls and takes a while."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            self.calls += 1
        time.sleep(0.2)
        return self.value


def expire_entries(monkeypatch, seconds: float) -> None:
    """Move the caches' clock forward: entries pass their TTL, the server still holds them."""
    real_now = time.time
    monkeypatch.setattr(owned, "_now", lambda: real_now() + seconds)


def test_a_hundred_requests_on_an_expired_hot_key_recompute_it_once(monkeypatch):
    # given a hot entry past its 60 s TTL, within its grace period
    HOT.get_or_compute("expired", lambda: "old")
    expire_entries(monkeypatch, 61)
    recompute = Recompute("new")
    recomputes_before = cache_event_count("tests.hot", CacheEvent.RECOMPUTE)

    # when a hundred requests want it at once
    results = run_concurrently(
        lambda _: HOT.get_or_compute("expired", recompute), calls=REQUESTS, threads=REQUESTS
    )

    # then exactly one recomputed it; the others were served the stale value or the new one
    assert recompute.calls == 1
    assert cache_event_count("tests.hot", CacheEvent.RECOMPUTE) - recomputes_before == 1
    assert set(results) <= {"old", "new"}
    assert "new" in results
    assert HOT.get_or_compute("expired", Recompute("newer")) == "new"


def test_a_hundred_requests_on_a_missing_key_wait_for_one_compute():
    # given nothing cached (evicted, or never computed)
    compute = Recompute("value")

    # when a hundred requests want it at once
    results = run_concurrently(
        lambda _: HOT.get_or_compute("missing", compute), calls=REQUESTS, threads=REQUESTS
    )

    # then one computed it and every other request waited for its result
    assert compute.calls == 1
    assert results == ["value"] * REQUESTS


def test_a_fresh_entry_is_served_without_recompute():
    HOT.get_or_compute("fresh", lambda: "cached")
    compute = Recompute("recomputed")

    assert HOT.get_or_compute("fresh", compute) == "cached"
    assert compute.calls == 0


def test_early_refresh_recomputes_a_hot_entry_before_it_expires(monkeypatch):
    # given an entry with exactly 60 s to live, whose compute took 0.2 s (XFetch's delta)
    monkeypatch.setattr(HOT, "spec", replace(HOT.spec, early_refresh_beta=1.0))
    monkeypatch.setattr(owned.random, "uniform", lambda low, high: 0.0)
    HOT.get_or_compute("early", Recompute("first"))
    # when it is read 0.1 s before it expires, with a draw that refreshes early
    # (0.2 s * -ln(1 - 0.99) > 0.1 s)
    expire_entries(monkeypatch, 59.9)
    monkeypatch.setattr(owned.random, "random", lambda: 0.99)

    # then this request recomputes it, though it is still fresh
    assert HOT.get_or_compute("early", lambda: "refreshed") == "refreshed"


def test_without_the_early_draw_a_fresh_entry_is_kept(monkeypatch):
    monkeypatch.setattr(HOT, "spec", replace(HOT.spec, early_refresh_beta=1.0))
    monkeypatch.setattr(owned.random, "uniform", lambda low, high: 0.0)
    HOT.get_or_compute("kept", Recompute("first"))
    expire_entries(monkeypatch, 59.9)
    monkeypatch.setattr(owned.random, "random", lambda: 0.01)

    assert HOT.get_or_compute("kept", lambda: "refreshed") == "first"
