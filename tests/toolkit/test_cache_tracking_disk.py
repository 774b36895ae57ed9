"""The epoch kept in process memory on diskcache (`toolkit.cache.tracking`): read once
per change, and never served after a change another process made and marked.

The writer is another process on the same cache directory, as a Celery worker or a
second web worker is: the marker is shared through the file, not through this process.
"""

import subprocess
import sys
import textwrap

import pytest

from toolkit.cache import tracking
from toolkit.cache.backends import PersistentDiskCache
from toolkit.cache.tracking import TrackedKey, fence

KEY = "toolkit:cache-epoch"

# Reads a line per change from stdin, makes it as the store's bumps do (a write, then
# the fence) and answers once both are done.
WRITER = textwrap.dedent(
    """
    import sys
    from toolkit.cache.backends import PersistentDiskCache
    from toolkit.cache.tracking import fence

    cache = PersistentDiskCache(sys.argv[1], {"SHARDS": 2})
    for line in sys.stdin:
        if line.strip() == "mark":
            cache.incr(sys.argv[2])
            fence(cache)
        else:  # "quiet": a change that moves no marker
            cache.incr(sys.argv[2])
        print("done", flush=True)
    """
)


def _disk_cache(directory) -> PersistentDiskCache:
    return PersistentDiskCache(str(directory), {"SHARDS": 2})


def _kept(cache: PersistentDiskCache, value: int) -> TrackedKey:
    """A reader that has read (and kept) `value`, freshly written."""
    cache.set(KEY, value)
    reader = TrackedKey(KEY)
    assert reader.read(cache) == value
    return reader


@pytest.fixture
def writer(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path), KEY],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    def change(how: str = "mark") -> None:
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(f"{how}\n")
        process.stdin.flush()
        assert process.stdout.readline().strip() == "done"

    yield change
    assert process.stdin is not None
    process.stdin.close()
    assert process.wait(timeout=30) == 0


@pytest.fixture
def reads(monkeypatch):
    """Count the cache's reads of the key."""

    def counting(cache: PersistentDiskCache) -> list[str]:
        read: list[str] = []
        real = cache.get
        monkeypatch.setattr(
            cache, "get", lambda key, *a, **k: read.append(key) or real(key, *a, **k)
        )
        return read

    return counting


def test_a_kept_value_is_served_without_a_read(tmp_path, reads):
    cache = _disk_cache(tmp_path)
    reader = _kept(cache, 41)
    read = reads(cache)

    assert [reader.read(cache) for _ in range(100)] == [41] * 100
    assert read == []


def test_a_change_another_process_marked_is_seen_by_the_very_next_read(tmp_path, writer, reads):
    cache = _disk_cache(tmp_path)
    reader = _kept(cache, 1)
    read = reads(cache)

    for expected in range(2, 52):  # no sleep anywhere: the marker is the only signal
        writer("mark")
        assert reader.read(cache) == expected
        assert reader.read(cache) == expected
    assert len(read) == 50  # one read per change, none more


def test_a_change_that_moves_no_marker_is_seen_once_the_hold_runs_out(
    tmp_path, writer, monkeypatch
):
    cache = _disk_cache(tmp_path)
    cache.set(KEY, 1)
    now = [1000.0]
    monkeypatch.setattr(tracking.time, "monotonic", lambda: now[0])
    reader = TrackedKey(KEY)
    assert reader.read(cache) == 1

    writer("quiet")  # a writer killed before its marker, say
    assert reader.read(cache) == 1
    now[0] += tracking.DISK_HOLD_S
    assert reader.read(cache) == 2


def test_a_deleted_key_is_read_until_it_is_back(tmp_path):
    cache = _disk_cache(tmp_path)
    reader = _kept(cache, 7)

    cache.delete(KEY)
    fence(cache)
    assert reader.read(cache) is None
    cache.set(KEY, 8)  # nothing kept for a missing key: no fence needed to see it
    assert reader.read(cache) == 8


def test_this_process_forgets_its_copy_when_it_moves_the_key_itself(tmp_path, reads):
    cache = _disk_cache(tmp_path)
    reader = _kept(cache, 10)
    read = reads(cache)

    reader.forget()
    assert reader.read(cache) == 10
    assert len(read) == 1


def test_two_caches_never_answer_with_each_others_value(tmp_path):
    one, other = _disk_cache(tmp_path / "one"), _disk_cache(tmp_path / "other")
    one.set(KEY, 1)
    other.set(KEY, 2)
    reader = TrackedKey(KEY)  # both markers are new: the same (zero) bytes

    assert [reader.read(one), reader.read(other), reader.read(one)] == [1, 2, 1]
