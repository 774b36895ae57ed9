"""The embedded profile's diskcache is opened once per process, however many backend
objects Django makes for it: the integrations' fan-out runs each call in a copied
context on a pool thread, where Django makes a new cache object every time."""

import sys
import time
import types
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context

from django.core.cache import CacheHandler

from toolkit.cache import backends
from toolkit.cache.backends import PersistentDiskCache


def test_backends_on_one_directory_share_one_diskcache(tmp_path):
    params = {"SHARDS": 2, "DATABASE_TIMEOUT": 0.25, "OPTIONS": {"size_limit": 2**20}}

    first = PersistentDiskCache(str(tmp_path), params)
    second = PersistentDiskCache(str(tmp_path), params)
    elsewhere = PersistentDiskCache(str(tmp_path / "other"), params)
    first.set("k", "v")

    assert second._cache is first._cache
    assert second.get("k") == "v"
    assert elsewhere._cache is not first._cache


def test_a_pool_thread_in_a_copied_context_reuses_the_request_threads_diskcache(tmp_path):
    # Django's cache handler, as the embedded profile configures it (two aliases, one
    # directory); built here so that the test runs on every profile.
    disk = {"BACKEND": "toolkit.cache.backends.PersistentDiskCache", "LOCATION": str(tmp_path)}
    caches = CacheHandler({"default": disk, "toolkit": disk})
    in_request = caches["default"]._cache

    with ThreadPoolExecutor(max_workers=2) as pool:
        seen = [pool.submit(copy_context().run, lambda: caches["default"]._cache).result()]
        seen += [pool.submit(copy_context().run, lambda: caches["toolkit"]._cache).result()]

    assert all(cache is in_request for cache in seen)


def test_set_many_writes_every_entry_with_its_timeout_across_the_shards(tmp_path):
    cache = PersistentDiskCache(str(tmp_path), {"SHARDS": 4, "OPTIONS": {}})
    entries = {f"key-{n}": {"n": n} for n in range(40)}

    assert cache.set_many(entries, timeout=60) == []
    cache.set_many({"gone": 1}, timeout=-1)

    assert cache.get_many(list(entries)) == entries
    assert {cache._cache._hash(cache.make_key(k)) % 4 for k in entries} == {0, 1, 2, 3}
    assert 55 < cache._cache.get(cache.make_key("key-0"), expire_time=True)[1] - time.time() <= 60
    assert cache.get("gone") is None


def test_django_stops_closing_caches_after_requests_only_when_closing_does_nothing(monkeypatch, db):
    from django.conf import settings
    from django.core.cache import caches
    from django.core.signals import request_finished

    from toolkit.cache.backends import close_after_request_needed

    disk = {"BACKEND": "toolkit.cache.backends.PersistentDiskCache"}
    redis = {"BACKEND": "django_redis.cache.RedisCache"}
    memcached = {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache"}
    closing_redis = {**redis, "OPTIONS": {"CLOSE_CONNECTION": True}}

    assert not close_after_request_needed({"a": disk, "b": redis}, redis_close=False)
    assert close_after_request_needed({"a": disk, "b": redis}, redis_close=True)
    assert close_after_request_needed({"a": closing_redis}, redis_close=False)
    assert close_after_request_needed({"a": disk, "b": memcached}, redis_close=False)
    # this profile's caches close nothing: a finished request no longer closes them
    assert not close_after_request_needed(settings.CACHES, redis_close=False)
    closed = []
    monkeypatch.setattr(caches, "close_all", lambda: closed.append(True))
    request_finished.send(sender=None)
    assert closed == []


def _disk_cache(tmp_path, **options):
    return PersistentDiskCache(str(tmp_path), {"SHARDS": 4, "OPTIONS": options})


def test_get_many_reads_what_get_reads_one_query_per_shard(tmp_path, monkeypatch):
    cache = _disk_cache(tmp_path)
    entries = {f"key-{n}": {"n": n} for n in range(40)}
    cache.set_many(entries, timeout=60)
    cache.set("expired", 1, timeout=-1)
    cache.set("large", "x" * 100_000)  # past diskcache's inline size: a file of its own
    keys = [*entries, "missing", "expired", "large"]
    reads = []
    shard_read = backends._shard_read

    def counted(shard, batch):
        reads.append(batch)
        return shard_read(shard, batch)

    monkeypatch.setattr(backends, "_shard_read", counted)

    found = cache.get_many(keys)

    assert found == {key: cache.get(key) for key in keys if cache.get(key) is not None}
    assert found == {**entries, "large": "x" * 100_000}
    assert len(reads) == 4  # one query per shard
    assert sorted(key for batch in reads for key in batch) == sorted(map(cache.make_key, keys))


def test_get_many_leaves_out_an_entry_that_no_longer_decodes(tmp_path):
    cache = _disk_cache(tmp_path)
    cache.set_many({"good": 1, "also": 2}, timeout=60)
    moved = types.ModuleType("peakstore_moved_for_get_many")
    exec("class Gone:\n    pass\n", moved.__dict__)
    sys.modules[moved.__name__] = moved
    try:
        cache.set("moved", moved.Gone())
    finally:
        del sys.modules[moved.__name__]

    assert cache.get_many(["good", "moved", "also"]) == {"good": 1, "also": 2}


def test_get_many_takes_diskcache_s_own_path_when_reads_write(tmp_path):
    cache = _disk_cache(tmp_path, eviction_policy="least-recently-used")
    cache.set_many({"a": 1, "b": 2}, timeout=60)
    cache._cache.stats(enable=True)

    assert cache.get_many(["a", "b", "c"]) == {"a": 1, "b": 2}
    assert cache._cache.stats() == (2, 1)  # hits and misses still counted


def _rows(cache):
    """Every shard's Cache rows, without the times of the write, by key."""
    return {
        key: row
        for shard in cache._cache._shards
        for key, *row in shard._sql(
            "SELECT key, raw, expire_time IS NULL, access_count, tag, size, mode,"
            " filename IS NULL, value FROM Cache"
        ).fetchall()
    }


def test_set_many_writes_the_rows_diskcaches_own_set_writes(tmp_path):
    bulk, one_by_one = _disk_cache(tmp_path / "bulk"), _disk_cache(tmp_path / "set")
    entries = {f"key-{n}": {"n": n} for n in range(30)} | {"text": "é", "int": 7, "none": None}
    entries["large"] = "x" * 100_000  # past diskcache's inline size: a file of its own

    bulk.set_many(entries, timeout=60)
    for key, value in entries.items():
        one_by_one.set(key, value, timeout=60)

    assert _rows(bulk) == _rows(one_by_one)
    assert bulk.get_many(list(entries)) == entries
    assert bulk._cache.check() == []  # diskcache's count, size and files agree with the rows


def test_set_many_replaces_entries_and_their_files(tmp_path):
    cache = _disk_cache(tmp_path)
    cache.set_many({"large": "x" * 100_000, "small": 1, "other": 2}, timeout=60)
    files = sorted(p for p in tmp_path.rglob("*.val"))

    cache.set_many({"large": "y" * 100_000, "small": 3}, timeout=60)

    assert cache.get_many(["large", "small", "other"]) == {
        "large": "y" * 100_000,
        "small": 3,
        "other": 2,
    }
    assert len(cache._cache) == 3
    assert len(files) == 1
    assert not files[0].exists()  # the replaced value's file is gone
    assert len(list(tmp_path.rglob("*.val"))) == 1
    assert cache._cache.check() == []


def test_set_many_sweeps_expired_entries_as_its_sets_would(tmp_path):
    cache = PersistentDiskCache(str(tmp_path), {"SHARDS": 1, "OPTIONS": {"cull_limit": 0}})
    for n in range(12):  # expired already, and kept: nothing sweeps while cull_limit is 0
        cache._cache.set(cache.make_key(f"old-{n}"), n, expire=-1)
    cache._cache.reset("cull_limit", 2)
    assert len(cache._cache) == 12

    cache.set_many({"a": 1, "b": 2, "c": 3}, timeout=60)  # three sets sweep up to 2 each

    assert len(cache._cache) == 12 - 6 + 3
    assert cache._cache.check() == []
