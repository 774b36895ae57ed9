"""Generation counters survive a cache cleared under them (another process's FLUSHDB, an
eviction): a read still gets a generation, never a None turned into a 500."""

from django.core.cache import cache

from tests.toolkit.caches import HOT
from toolkit.cache import store


def test_a_counter_cleared_between_its_add_and_its_read_still_gives_a_generation(monkeypatch):
    real_call = store.call

    def clear_after_add(namespace, operation):
        result = real_call(namespace, operation)
        if repr(operation).startswith("operator.methodcaller('add'"):
            cache.clear()  # the counter it just added is gone before it reads it back
        return result

    cache.clear()
    monkeypatch.setattr(store, "call", clear_after_add)

    assert HOT.get_or_compute("key", lambda: "value") == "value"
    assert len(HOT.generations()) == 1
