"""Keyed namespaces (`CacheSpec.keyed`): an invalidation that names keys retires those
keys' entries, and only those.

Runs on the configured cache (diskcache files, or Redis on the services profile). Bumps
run as they would after a commit (`django_capture_on_commit_callbacks`).
"""

from functools import partial

import pytest

from tests.toolkit.caches import KEYED
from toolkit.cache import CacheSpec, Stampede, owned, store


class Source:
    """The system of record: a value per id, and the ids each read asked for."""

    def __init__(self) -> None:
        self.values = {1: "one", 2: "two", 3: "three"}
        self.asked: list[list[int]] = []
        self.during = None  # runs between the read and the return: a write mid-compute

    def __call__(self, missing: list[int]) -> dict[int, str]:
        self.asked.append(sorted(missing))
        found = {key: self.values[key] for key in missing if key in self.values}
        if self.during is not None:
            self.during()
        return found


@pytest.fixture
def change(invalidate):
    return partial(invalidate, KEYED)


def test_a_change_retires_the_entries_of_its_keys_and_no_other(change):
    source = Source()
    assert KEYED.get_many_or_compute([1, 2, 3], source) == {1: "one", 2: "two", 3: "three"}

    source.values[2] = "TWO"
    change([2])

    assert KEYED.get_many_or_compute([1, 2, 3], source) == {1: "one", 2: "TWO", 3: "three"}
    assert source.asked == [[1, 2, 3], [2]]
    assert KEYED.get_many_or_compute([1, 2, 3], source)[2] == "TWO"  # and cached again
    assert source.asked == [[1, 2, 3], [2]]


def test_a_change_that_names_no_keys_retires_every_entry(change):
    source = Source()
    KEYED.get_many_or_compute([1, 2], source)

    change()

    KEYED.get_many_or_compute([1, 2], source)
    assert source.asked == [[1, 2], [1, 2]]


def test_a_bulk_change_past_the_limit_retires_every_entry(change, monkeypatch):
    monkeypatch.setattr(owned, "SCOPED_INVALIDATION_MAX", 2)
    source = Source()
    KEYED.get_many_or_compute([1, 2, 3], source)

    change([7, 8, 9])

    KEYED.get_many_or_compute([1, 2, 3], source)
    assert source.asked == [[1, 2, 3], [1, 2, 3]]


def test_a_change_committed_while_the_value_is_read_retires_what_was_stored(change):
    # given a read of key 1 during which a write to key 1 commits
    source = Source()

    def write() -> None:
        source.values[1] = "ONE"
        change([1])

    source.during = write
    assert KEYED.get_many_or_compute([1], source) == {1: "one"}  # read before the write
    source.during = None

    # then what that read stored is never served
    assert KEYED.get_many_or_compute([1], source) == {1: "ONE"}


def test_the_read_only_view_does_not_return_a_retired_entry(change):
    source = Source()
    KEYED.get_many_or_compute([1, 2], source)

    change([1])

    assert KEYED.get_many([1, 2]) == {2: "two"}


def test_while_nothing_is_invalidated_a_hit_reads_no_counter(change, monkeypatch):
    KEYED.get_many_or_compute([1, 2], Source())
    change([3])  # moves the epoch: the next read checks the counters once
    KEYED.get_many_or_compute([1, 2], Source())
    read = []
    backend = store.backend()
    real = backend.get_many
    monkeypatch.setattr(
        backend, "get_many", lambda keys, *a, **k: read.append(list(keys)) or real(keys, *a, **k)
    )

    assert KEYED.get_many_or_compute([1, 2], Source()) == {1: "one", 2: "two"}

    assert not any(key.startswith("tests.keyed:gen:") for keys in read for key in keys)


def test_an_entry_whose_counter_cannot_be_read_is_not_served(change, monkeypatch):
    source = Source()
    KEYED.get_many_or_compute([1], source)
    change([2])  # the epoch moves, so the entry's counter must be read to serve it
    backend = store.backend()
    real = backend.get_many

    def counters_unreadable(keys, *args, **kwargs):
        if any(":gen:" in key for key in keys):
            raise ConnectionError("connection lost")
        return real(keys, *args, **kwargs)

    monkeypatch.setattr(backend, "get_many", counters_unreadable)

    assert KEYED.get_many_or_compute([1], source) == {1: "one"}
    assert source.asked == [[1], [1]]  # read from the source, not trusted from the cache


def test_entries_that_cannot_be_read_are_computed_and_nothing_is_stored(monkeypatch):
    source = Source()
    KEYED.get_many_or_compute([1], source)
    backend = store.backend()
    real_get_many, writes = backend.get_many, []

    def entries_unreadable(keys, *args, **kwargs):
        if any(key.startswith("tests.keyed:v") for key in keys):
            raise ConnectionError("connection lost")
        return real_get_many(keys, *args, **kwargs)

    monkeypatch.setattr(backend, "get_many", entries_unreadable)
    monkeypatch.setattr(backend, "set_many", lambda *args, **kwargs: writes.append(args))

    assert KEYED.get_many_or_compute([1, 2], source) == {1: "one", 2: "two"}
    assert writes == []


def test_a_keyed_namespace_is_read_in_batches():
    with pytest.raises(ValueError, match="batch"):
        CacheSpec(
            namespace="tests.nope",
            owner="tests",
            entity="-",
            key_schema="-",
            ttl=1,
            invalidated_by=("a test",),
            staleness_tolerance=0,
            stampede=Stampede.SINGLE_FLIGHT,
            keyed=True,
        )
