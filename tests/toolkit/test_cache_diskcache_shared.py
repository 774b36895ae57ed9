"""The embedded profile's diskcache is opened once per process, however many backend
objects Django makes for it: the integrations' fan-out runs each call in a copied
context on a pool thread, where Django makes a new cache object every time."""

import time
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context

from django.core.cache import CacheHandler

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
