"""A cached value written by the old code and read by the new one (or the reverse) is a
clean miss when the shape of what is cached changed, never an error: during a deploy
both versions serve side by side on one cache.

Runs on the configured cache (diskcache files, or Redis on the services profile).
"""

import dataclasses
import sys
import types
import uuid
from dataclasses import dataclass, replace

import pytest

from tests.toolkit.caches import HOT
from toolkit.cache import CacheRegistry, OwnedCache, store
from toolkit.cache.metrics import CacheEvent, cache_event_count
from toolkit.cache.shape import shape_describe, shape_fingerprint


@pytest.fixture
def release():
    """A module whose `Card` class a test redefines, as a release changes a cached type."""
    module = types.ModuleType(f"peakstore_release_{uuid.uuid4().hex}")
    sys.modules[module.__name__] = module
    yield module
    sys.modules.pop(module.__name__, None)


def _card(module: types.ModuleType, *fields: str) -> type:
    """Define (or redefine) `module.Card`, a frozen dataclass of str fields."""
    return _define(module, [(name, str) for name in fields])


def _define(module: types.ModuleType, fields: list[tuple[str, type]]) -> type:
    card = dataclasses.make_dataclass("Card", fields, frozen=True)
    card.__module__ = module.__name__  # as a class defined in that module (pickle finds it)
    module.Card = card
    return card


def _version(module: types.ModuleType, *fields: str) -> OwnedCache:
    """The `tests.hot` namespace as a version of the code caching `Card(*fields)` sees it."""
    return OwnedCache(replace(HOT.spec, shape=_card(module, *fields) | None))


@dataclass(frozen=True)
class Inner:
    amount: int


@dataclass(frozen=True)
class Outer:
    inner: Inner
    names: tuple[str, ...]


def test_the_fingerprint_follows_fields_types_nesting_and_the_revision():
    assert shape_fingerprint(Outer) == shape_fingerprint(Outer)
    assert shape_fingerprint(Outer) != shape_fingerprint(Outer | None)
    assert shape_fingerprint(Outer) != shape_fingerprint(Outer, revision=1)
    assert shape_fingerprint(tuple[Inner, ...]) != shape_fingerprint(tuple[Outer, ...])
    # a nested type's fields are part of the outer one's shape
    assert "inner:tests.toolkit.test_cache_shape.Inner(amount:builtins.int)" in shape_describe(
        Outer
    )


def test_a_field_added_to_a_cached_dataclass_changes_the_fingerprint(release):
    before = shape_fingerprint(_card(release, "name"))
    after = shape_fingerprint(_card(release, "name", "badge"))
    retyped = shape_fingerprint(_define(release, [("name", bytes)]))

    assert len({before, after, retyped}) == 3


def test_an_entry_of_the_old_shape_is_a_clean_miss_for_the_new_code(release):
    # given an entry the old code cached, a Card without a badge
    old = _version(release, "name")
    old.get_or_compute("card", lambda: release.Card(name="old"))
    errors = cache_event_count("tests.hot", CacheEvent.ERROR)
    misses = cache_event_count("tests.hot", CacheEvent.MISS)

    # when the new code, whose Card has a badge, reads the same key
    new = _version(release, "name", "badge")
    value = new.get_or_compute("card", lambda: release.Card(name="new", badge="sale"))

    # then it missed cleanly and recomputed a value of its own shape: no error counted,
    # the cache stays in service, and reading it again is a hit
    assert value.badge == "sale"
    assert cache_event_count("tests.hot", CacheEvent.MISS) - misses == 1
    assert cache_event_count("tests.hot", CacheEvent.ERROR) == errors
    assert not store.breaker.is_open()
    assert new.get_or_compute("card", lambda: pytest.fail("recomputed twice")).badge == "sale"


def test_old_and_new_code_serving_side_by_side_never_read_each_others_entries(release):
    # given both versions serving at once (gunicorn's old workers finishing beside the new)
    old = _version(release, "name")
    old_card_class = release.Card
    old_card = old.get_or_compute("card", lambda: release.Card(name="old"))
    new = _version(release, "name", "badge")
    new.get_or_compute("card", lambda: release.Card(name="new", badge="sale"))

    # when the old code (a process where Card has no badge) reads again
    release.Card = old_card_class
    again = old.get_or_compute("card", lambda: pytest.fail("the old entry was lost"))

    # then it still gets its own entry, not the new code's
    assert again == old_card
    assert again.name == "old"


def test_an_unchanged_shape_keeps_its_entries_across_a_new_version(release):
    cached = _version(release, "name")
    cached.get_or_compute("card", lambda: release.Card(name="kept"))

    # a new version of the code whose Card did not change builds the same keys
    redeployed = _version(release, "name")
    value = redeployed.get_or_compute("card", lambda: pytest.fail("recomputed"))

    assert value.name == "kept"


def test_a_deploy_names_only_the_namespaces_whose_shape_changed(release):
    old_registry, new_registry = CacheRegistry(), CacheRegistry()
    for registry, fields in ((old_registry, ("name",)), (new_registry, ("name", "badge"))):
        card = _card(release, *fields)
        registry._handles = {
            "tests.changed": OwnedCache(replace(HOT.spec, namespace="tests.changed", shape=card)),
            "tests.same": OwnedCache(replace(HOT.spec, namespace="tests.same", shape=Inner)),
        }

    first = old_registry.shapes_publish()
    changed = new_registry.shapes_publish()

    assert first == ()  # nothing published before: nothing to compare with
    assert changed == ("tests.changed",)
    assert new_registry.shapes_publish() == ()  # published: the next deploy starts from it


def test_every_store_namespace_that_holds_entries_declares_their_shape():
    from toolkit.cache import registry

    no_entries = "(the generation only; no entries)"
    undeclared = [
        spec.namespace
        for spec in registry.specs()
        if spec.shape is None and spec.key_schema != no_entries
    ]

    assert undeclared == []
    assert all(len(shape) == 8 for shape in registry.shapes().values())


def test_retiring_one_namespace_misses_its_entries_and_keeps_the_others():
    from tests.toolkit.caches import BATCH
    from tests.toolkit.caches import registry as tests_registry

    HOT.get_or_compute("kept?", lambda: "before")
    BATCH.set_many({1: "batch"}, version=BATCH.version())

    tests_registry.retire("tests.hot")

    assert HOT.get_or_compute("kept?", lambda: "recomputed") == "recomputed"
    assert BATCH.get_many([1]) == {1: "batch"}
    with pytest.raises(KeyError):
        tests_registry.retire("tests.nothing")
