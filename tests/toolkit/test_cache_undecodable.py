"""An entry that no longer decodes after a release moved its class is a miss, never an
outage: the owned cache recomputes it, counts no error and keeps the server in use.

Runs on the configured cache (diskcache files, or Redis on the services profile).
"""

import sys
import types
import uuid

import pytest
from django.core.cache import caches

from tests.toolkit.caches import BATCH, HOT
from toolkit.cache import store
from toolkit.cache.metrics import CacheEvent, cache_event_count


@pytest.fixture
def moved():
    """A module holding a class, which the test can make vanish as a module move does."""
    module = types.ModuleType(f"peakstore_moved_{uuid.uuid4().hex}")
    exec("class Card:\n    def __init__(self, name):\n        self.name = name\n", module.__dict__)
    sys.modules[module.__name__] = module
    yield module
    sys.modules.pop(module.__name__, None)


def _move_away(module: types.ModuleType) -> None:
    del sys.modules[module.__name__]


def test_an_owned_entry_whose_class_moved_is_recomputed_without_tripping_the_breaker(moved):
    # given an entry cached before its class moved away
    HOT.get_or_compute("moved", lambda: moved.Card("old"))
    _move_away(moved)
    misses = cache_event_count("tests.hot", CacheEvent.MISS)
    errors = cache_event_count("tests.hot", CacheEvent.ERROR)

    # when the new code reads it
    value = HOT.get_or_compute("moved", lambda: "recomputed")

    # then it was a miss: recomputed and stored again, and the cache stays in service
    assert value == "recomputed"
    assert cache_event_count("tests.hot", CacheEvent.MISS) - misses == 1
    assert cache_event_count("tests.hot", CacheEvent.ERROR) == errors
    assert not store.breaker.is_open()
    assert HOT.get_or_compute("moved", lambda: "not again") == "recomputed"


def test_a_batch_read_misses_only_the_entry_that_no_longer_decodes(moved):
    # given two entries of a batch, one of them holding a class that then moved away
    BATCH.get_many_or_compute([1, 2], lambda ids: {1: moved.Card("old"), 2: "kept"})
    _move_away(moved)

    # when the batch is read again
    computed = []
    found = BATCH.get_many_or_compute(
        [1, 2], lambda ids: computed.extend(ids) or dict.fromkeys(ids, "recomputed")
    )

    # then only the undecodable one was recomputed
    assert found == {1: "recomputed", 2: "kept"}
    assert computed == [1]
    assert not store.breaker.is_open()


@pytest.mark.parametrize("alias", ["default", "toolkit"])
def test_a_raw_read_of_an_undecodable_entry_is_a_miss(moved, alias):
    cache = caches[alias]
    cache.set_many({"undecodable": moved.Card("old"), "readable": 7})
    _move_away(moved)

    assert cache.get("undecodable", "absent") == "absent"
    assert cache.get_many(["undecodable", "readable"]) == {"readable": 7}
