"""The one place that talks to the cache server, so every failure is caught and counted.

The toolkit's alias (`settings.TOOLKIT_CACHE_ALIAS`) does not swallow exceptions (unlike
the default alias, where django-redis ignores them for sessions): each failure raises
`CacheUnavailable` here, after it is counted against the namespace that hit it. After a
failure the process leaves the server alone for `TOOLKIT_CACHE_RETRY_AFTER` seconds, so
a dead or hanging Redis costs one timeout per process and interval, not one per call.
"""

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from diskcache import DjangoCache
from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.locmem import LocMemCache
from django_redis.cache import RedisCache

from toolkit.cache.backends import UndecodableEntry
from toolkit.cache.metrics import CacheEvent, cache_event
from toolkit.settings_cache import setting

logger = logging.getLogger(__name__)

T = TypeVar("T")


class CacheUnavailable(Exception):
    """The cache server failed, or is being skipped after a recent failure."""


class _Breaker:
    """Skip the server for a while after a failure (per process; threads share it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open_until = 0.0

    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def trip(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + settings.TOOLKIT_CACHE_RETRY_AFTER

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0


breaker = _Breaker()


def backend() -> BaseCache:
    return caches[setting("TOOLKIT_CACHE_ALIAS")]


def call(namespace: str, operation: Callable[[BaseCache], T]) -> T:
    """Run one cache operation for `namespace`; raise CacheUnavailable if it fails."""
    if breaker.is_open():
        cache_event(namespace, CacheEvent.ERROR)
        raise CacheUnavailable("cache skipped after a recent failure")
    try:
        return operation(backend())
    except Exception as error:
        cache_event(namespace, CacheEvent.ERROR)
        breaker.trip()
        logger.warning("cache %s failed for %s: %r", settings.TOOLKIT_CACHE_ALIAS, namespace, error)
        raise CacheUnavailable(str(error)) from error


# Key space inspection for the audit. Django's backends have no portable way to list
# keys or read a key's expiry, so each supported backend gets a small adapter.

_DJANGO_KEY = re.compile(r"^[^:]*:\d+:(?P<key>.*)$")


def iter_keys() -> Iterator[str]:
    """Yield every key of this store's key space (its KEY_PREFIX), without the prefix."""
    cache = backend()
    if isinstance(cache, RedisCache):  # SCAN under the key prefix
        yield from cache.iter_keys("*")
    elif isinstance(cache, DjangoCache):
        yield from _unprefixed(iter(cache._cache))
    elif isinstance(cache, LocMemCache):
        yield from _unprefixed(list(cache._expire_info))  # type: ignore[attr-defined]  # private, not in the stubs
    else:
        raise NotImplementedError(f"cannot list the keys of {type(cache).__name__}")


def _unprefixed(raw_keys: Iterable[Any]) -> Iterator[str]:
    for raw in raw_keys:
        if isinstance(raw, str) and (match := _DJANGO_KEY.match(raw)):
            yield match.group("key")


_GONE = object()


def expires_in(key: str) -> float | None:
    """Return the seconds before `key` expires (0 if it is gone); None if it never does."""
    cache = backend()
    if isinstance(cache, RedisCache):
        ttl = cache.ttl(key)
        return None if ttl is None else float(ttl)
    if isinstance(cache, DjangoCache):
        try:
            value, expire_time = cache._cache.get(cache.make_key(key), _GONE, expire_time=True)
        except UndecodableEntry:  # every reader misses it (toolkit.cache.backends)
            return 0.0
        if value is _GONE:  # expired, listed until diskcache culls it
            return 0.0
    elif isinstance(cache, LocMemCache):
        expire_time = cache._expire_info.get(cache.make_key(key))  # type: ignore[attr-defined]  # as above
    else:
        raise NotImplementedError(f"cannot read expiry times of {type(cache).__name__}")
    return None if expire_time is None else expire_time - time.time()
