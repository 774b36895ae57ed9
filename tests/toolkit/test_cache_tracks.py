"""Key-by-key invalidation (`CacheSpec.tracks`): an entry retires with a change to a key
its compute read, and with nothing else.

Runs on the configured cache (diskcache files, or Redis on the services profile). Bumps
run as they would after a commit (`django_capture_on_commit_callbacks`).
"""

from functools import partial

import pytest

from tests.toolkit.caches import SOURCE, TRACKING
from toolkit.cache import owned, store


class Build:
    """A compute that reads some records of tests.source and counts its calls."""

    def __init__(self, *ids: int, during=None) -> None:
        self.ids = ids
        self.during = during  # runs between the read and the return: a write mid-compute
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        SOURCE.reads(self.ids)
        if self.during is not None:
            self.during()
        return f"built {self.calls}"


@pytest.fixture
def change(invalidate):
    return partial(invalidate, SOURCE)


def test_an_entry_outlives_changes_to_keys_it_did_not_read(change):
    build = Build(1, 2)
    assert TRACKING.get_or_compute("page", build) == "built 1"

    change([3, 4])

    assert TRACKING.get_or_compute("page", build) == "built 1"
    assert build.calls == 1


def test_an_entry_retires_with_a_change_to_a_key_it_read(change):
    build = Build(1, 2)
    TRACKING.get_or_compute("page", build)

    change([2])

    assert TRACKING.get_or_compute("page", build) == "built 2"
    assert TRACKING.get_or_compute("page", build) == "built 2"  # and is cached again


def test_a_change_that_names_no_keys_retires_every_entry(change):
    build = Build(1)
    TRACKING.get_or_compute("page", build)

    change()

    assert TRACKING.get_or_compute("page", build) == "built 2"


def test_a_change_that_names_an_empty_set_bumps_nothing(change):
    before = TRACKING.generations()
    build = Build(1)
    TRACKING.get_or_compute("page", build)

    change([])

    assert TRACKING.generations() == before
    assert TRACKING.get_or_compute("page", build) == "built 1"


def test_a_bulk_change_past_the_limit_retires_every_entry(change, monkeypatch):
    monkeypatch.setattr(owned, "SCOPED_INVALIDATION_MAX", 2)
    build = Build(1)
    TRACKING.get_or_compute("page", build)

    change([7, 8, 9])

    assert TRACKING.get_or_compute("page", build) == "built 2"


def test_a_change_committed_while_the_entry_computes_retires_what_it_stored(change):
    # given a compute that reads key 1, and a write to key 1 landing before it returns
    build = Build(1, during=lambda: change([1]))
    TRACKING.get_or_compute("page", build)
    build.during = None

    # then what it stored (possibly built from the old record) is not served
    assert TRACKING.get_or_compute("page", build) == "built 2"


def test_a_retired_entry_is_never_served_stale_while_another_request_recomputes(change):
    build = Build(1)
    TRACKING.get_or_compute("page", build)
    change([1])
    # another request holds the recompute lock
    _, _, version = TRACKING._current()
    assert TRACKING._lock(TRACKING.full_key("page", version))

    # this one waits for it (up to the lock timeout), then computes itself: never "built 1"
    assert TRACKING.get_or_compute("page", build) == "built 2"


def test_the_fast_path_peek_sees_a_change_too(change):
    build = Build(1)
    TRACKING.get_or_compute("page", build)
    assert TRACKING.peek("page").value == "built 1"

    change([1])

    assert TRACKING.peek("page").value is None
    change([5])  # an unrelated change moves the epoch; a current entry is still found
    TRACKING.get_or_compute("page", build)
    change([5])
    assert TRACKING.peek("page").value == "built 2"


def test_a_hot_entry_is_read_once_an_epoch_then_only_the_epoch_is(change, monkeypatch):
    TRACKING.get_or_compute("page", Build(1))
    assert TRACKING.peek("page").value == "built 1"  # read, and kept by this process
    # The epoch too: the cleared cache had none, and the first reader to need it made it.
    assert TRACKING.peek("page").value == "built 1"
    backend, read = store.backend(), []
    for name in ("get", "get_many"):
        real = getattr(backend, name)
        monkeypatch.setattr(
            backend, name, lambda keys, *a, real=real, **k: read.append(keys) or real(keys, *a, **k)
        )

    assert TRACKING.peek("page").value == "built 1"
    # Not the entry, not even the epoch: kept until the cache says it moved
    # (toolkit.cache.tracking).
    assert read == []

    change([5])  # moves the epoch: the kept copy is not trusted, the entry is read again
    assert TRACKING.peek("page").value == "built 1"
    full_key = TRACKING.full_key("page", TRACKING._current()[2])
    assert any(keys == full_key or full_key in keys for keys in read[1:])


def test_a_kept_copy_past_its_freshness_is_read_afresh(change):
    TRACKING.get_or_compute("page", Build(1))
    TRACKING.peek("page")
    full_key = TRACKING.full_key("page", TRACKING._current()[2])
    epoch, entry = owned._entries_seen[full_key]
    # another process refreshed the entry in the store; this one's copy went stale
    owned._entries_seen[full_key] = (epoch, ("stale copy", entry[1], 0.0, *entry[3:]))

    assert TRACKING.peek("page").value == "built 1"


def test_a_compute_that_could_not_record_its_reads_stores_nothing(monkeypatch):
    def counters_unreadable(namespace, operation):
        raise store.CacheUnavailable(namespace)

    def build() -> str:
        with monkeypatch.context() as patched:
            patched.setattr(store, "call", counters_unreadable)
            SOURCE.reads([1])
        return "unrecorded"

    assert TRACKING.get_or_compute("page", build) == "unrecorded"
    assert TRACKING.peek("page").value is None


def test_reads_outside_a_tracking_compute_cost_nothing(monkeypatch):
    calls = []
    monkeypatch.setattr(store, "call", lambda *args: calls.append(args))

    SOURCE.reads([1, 2, 3])

    assert calls == []
