"""Cache backends the profiles configure.

Both read an entry that no longer decodes as a miss for that key. Entries are pickled,
so one written before a class moved or was renamed (a module move in a release) raises
ModuleNotFoundError or AttributeError when read back, in diskcache and django-redis
alike. Raised, that error would look like a cache outage to the owned caches (and trip
their process-wide skip), or break a raw `cache.get`. As a miss, the caller recomputes
and overwrites the entry with one the new code can read.
"""

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable
from typing import Any

from diskcache import DjangoCache, FanoutCache, Timeout
from diskcache.core import EVICTION_POLICY, Disk
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django_redis.client import DefaultClient

logger = logging.getLogger(__name__)

_MISSING = object()
# Keys per statement: under SQLite's smallest limit on a statement's parameters (999).
_KEYS_PER_STATEMENT = 500


class UndecodableEntry(Exception):
    """A stored value that the running code cannot turn back into an object."""


def _undecodable_logged(key: Any, error: UndecodableEntry) -> None:
    logger.info("cache entry %r no longer decodes (%s): read as a miss", key, error)


class _UndecodableAsErrorDisk(Disk):
    """diskcache's serializer, raising UndecodableEntry when a value no longer decodes."""

    def fetch(self, mode: int, filename: str, value: Any, read: bool) -> Any:
        try:
            return super().fetch(mode, filename, value, read)
        except OSError:
            raise  # the entry's file went away meanwhile: diskcache reads that as a miss
        except Exception as error:
            raise UndecodableEntry(repr(error)) from error


class PersistentDiskCache(DjangoCache):
    """diskcache's Django backend, keeping its SQLite connections between requests.

    Django closes every cache after each request. For diskcache that drops one SQLite
    connection per shard, and the next request reopens them (a handful of PRAGMAs each):
    on a warm cached page that reconnecting costs more than the page. The connections
    are per thread and safe to keep, as the database's are with CONN_MAX_AGE.

    One diskcache per directory and settings in a process, shared by every backend
    object Django makes for it. Django keeps cache objects per context, so each call the
    integrations' fan-out runs on its thread pool (in a copied context) made a new one,
    opening a SQLite connection and running its PRAGMAs per shard: 14% of a web
    worker's CPU under the campaign spike. diskcache keeps a connection per thread and
    reopens after a fork, so one object serves every thread of the process.

    An entry that no longer decodes is a miss (see the module docstring), in `get` and
    `get_many` alike: `get_many` leaves out just that key.
    """

    def __init__(self, directory: str, params: dict[str, Any]) -> None:
        BaseCache.__init__(self, params)
        options = {"disk": _UndecodableAsErrorDisk, **params.get("OPTIONS", {})}
        self._cache = _fanout_shared(
            directory, params.get("SHARDS", 8), params.get("DATABASE_TIMEOUT", 0.010), options
        )

    def get(self, key: Any, default: Any = None, version: Any = None, **kwargs: Any) -> Any:
        try:
            return super().get(key, default, version, **kwargs)
        except UndecodableEntry as error:
            _undecodable_logged(key, error)
            return default

    def get_many(self, keys: Iterable[Any], version: Any = None) -> dict[Any, Any]:
        """Read the entries one query per shard, not one per key.

        Django's `get_many` is a loop over `get`, and each diskcache `get` is a query of
        its own: a category page's miss read its 160-odd price and stock entries one by
        one, and the owned caches' reads were 17% of a web worker's CPU at the campaign
        spike's peak. This is diskcache's own read (`Cache.get` without statistics, under
        an eviction policy that writes nothing on a read) for many keys at once: the
        same expiry test, the same decoding; a shard that is busy past its timeout reads
        as misses, as diskcache's `FanoutCache.get` does.
        """
        fanout = self._cache
        wanted: dict[int, dict[str, Any]] = {}  # shard -> full key -> the caller's key
        for key in keys:
            full_key = self.make_key(key, version=version)  # as diskcache's `get` makes it
            wanted.setdefault(fanout._hash(full_key) % fanout._count, {})[full_key] = key
        found: dict[Any, Any] = {}
        for index, by_full_key in wanted.items():
            shard = fanout._shards[index]
            if shard.statistics or EVICTION_POLICY[shard.eviction_policy]["get"] is not None:
                # Reads that write (hit counts, access times): diskcache's own path.
                found.update(super().get_many(list(by_full_key.values()), version=version))
                continue
            full_keys = list(by_full_key)
            for start in range(0, len(full_keys), _KEYS_PER_STATEMENT):
                batch = full_keys[start : start + _KEYS_PER_STATEMENT]
                for full_key, value in _shard_read(shard, batch):
                    found[by_full_key[full_key]] = value
        return found

    def set_many(
        self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> list[Any]:
        """Write the entries one transaction and a few statements per shard.

        Django's `set_many` is a loop over `set`, and each diskcache `set` is a SQLite
        transaction of its own: a product grid's 24 card entries were 24 commits, 13% of
        a web worker's CPU under the campaign spike. Looping over diskcache's `set`
        inside one transaction per shard still ran five statements per entry (its
        lookup, the write, and an expiry sweep with a size check): 2.3 ms for the 72
        stock entries of a search page's miss, more than the query that read them,
        holding the shard's write lock all along. `_shard_write` does the same writes
        in bulk. The shards are diskcache's own (`FanoutCache` keeps no public way to
        reach them).
        """
        expire = self.get_backend_timeout(timeout)
        fanout = self._cache
        by_shard: dict[int, list[tuple[str, Any]]] = {}
        for key, value in data.items():
            full_key = self.make_and_validate_key(key, version=version)
            by_shard.setdefault(fanout._hash(full_key) % fanout._count, []).append(
                (full_key, value)
            )
        for index, entries in by_shard.items():
            for start in range(0, len(entries), _KEYS_PER_STATEMENT):
                _shard_write(
                    fanout._shards[index], entries[start : start + _KEYS_PER_STATEMENT], expire
                )
        return []

    def close(self, **kwargs: object) -> None:
        """Keep the connections: see the class docstring."""


def _shard_read(shard: Any, full_keys: list[str]) -> list[tuple[str, Any]]:
    """(key, value) of the live entries among `full_keys` in one diskcache shard."""
    placeholders = ",".join("?" * len(full_keys))
    try:
        rows = shard._sql(
            "SELECT key, mode, filename, value FROM Cache"
            f" WHERE key IN ({placeholders}) AND raw = 1"
            " AND (expire_time IS NULL OR expire_time > ?)",
            (*full_keys, time.time()),
        ).fetchall()
    except (Timeout, sqlite3.OperationalError):
        return []
    read = []
    for full_key, mode, filename, db_value in rows:
        try:
            read.append((full_key, shard._disk.fetch(mode, filename, db_value, False)))
        except OSError:
            continue  # the entry's file went away meanwhile: a miss, as in diskcache
        except UndecodableEntry as error:
            _undecodable_logged(full_key, error)
    return read


def _shard_write(shard: Any, entries: list[tuple[str, Any]], expire: float | None) -> None:
    """Store `entries` in one diskcache shard as its `set` would, in one transaction.

    Each row is what `Cache.set` writes (the same serialisation, store time, expiry and
    counters; an entry too large to keep inline gets its file, and a replaced entry's
    file is removed after the commit). What changes is the number of statements: one
    lookup of the existing rows, one batch of updates, one of inserts, and one expiry
    sweep of the limit the entries' own sets would have swept together.
    """
    now = time.time()
    expire_time = None if expire is None else now + expire
    rows = {}  # (db key, raw) -> (size, mode, filename, value)
    for full_key, value in entries:
        rows[shard._disk.put(full_key)] = shard._disk.store(value, False, key=full_key)
    placeholders = ",".join("?" * len(rows))
    with shard._transact(retry=True) as (sql, cleanup):
        existing = {
            (db_key, raw): (rowid, filename)
            for rowid, db_key, raw, filename in sql(
                f"SELECT rowid, key, raw, filename FROM Cache WHERE key IN ({placeholders})",
                [db_key for db_key, _ in rows],
            ).fetchall()
        }
        updates, inserts = [], []
        for (db_key, raw), (size, mode, filename, db_value) in rows.items():
            if (db_key, raw) in existing:
                rowid, old_filename = existing[db_key, raw]
                cleanup(old_filename)
                updates.append((now, expire_time, now, size, mode, filename, db_value, rowid))
            else:
                inserts.append((db_key, raw, now, expire_time, now, size, mode, filename, db_value))
        connection = shard._con
        connection.executemany(
            "UPDATE Cache SET store_time = ?, expire_time = ?, access_time = ?,"
            " access_count = 0, tag = NULL, size = ?, mode = ?, filename = ?, value = ?"
            " WHERE rowid = ?",
            updates,
        )
        connection.executemany(
            "INSERT INTO Cache(key, raw, store_time, expire_time, access_time, access_count,"
            " tag, size, mode, filename, value) VALUES (?, ?, ?, ?, ?, 0, NULL, ?, ?, ?, ?)",
            inserts,
        )
        shard._cull(now, sql, cleanup, limit=shard.cull_limit * len(rows))


_fanouts: dict[tuple[Any, ...], FanoutCache] = {}
_fanouts_lock = threading.Lock()


def _fanout_shared(directory: str, shards: int, timeout: float, options: dict) -> FanoutCache:
    """The process's diskcache for these settings, made on first use."""
    key = (directory, shards, timeout, tuple(sorted(options.items())))
    with _fanouts_lock:
        if (fanout := _fanouts.get(key)) is None:
            fanout = _fanouts[key] = FanoutCache(directory, shards, timeout, **options)
        return fanout


class UndecodableAsMissRedisClient(DefaultClient):
    """django-redis's client, reading an entry that no longer decodes as a miss."""

    def decode(self, value: Any) -> Any:
        try:
            return super().decode(value)
        except Exception as error:
            raise UndecodableEntry(repr(error)) from error

    def get(self, key: Any, default: Any = None, version: Any = None, client: Any = None) -> Any:
        try:
            return super().get(key, default, version, client)
        except UndecodableEntry as error:
            _undecodable_logged(key, error)
            return default

    def get_many(self, keys: Any, version: Any = None, client: Any = None) -> dict:
        try:
            return super().get_many(keys, version, client)
        except UndecodableEntry:
            # One value of the batch failed; read them one by one to keep the others.
            found = {key: self.get(key, _MISSING, version, client) for key in keys}
            return {key: value for key, value in found.items() if value is not _MISSING}


# Backends whose `close()` after a request does nothing as configured: diskcache's keeps
# its connections (above), django-redis closes only with CLOSE_CONNECTION, and the
# in-memory cache has nothing to close.
_CLOSE_IS_A_NO_OP = {
    "toolkit.cache.backends.PersistentDiskCache",
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}
_REDIS = "django_redis.cache.RedisCache"


def close_after_request_needed(caches: dict[str, dict[str, Any]], *, redis_close: bool) -> bool:
    """Whether any configured cache does something when Django closes it after a request.

    When none does, `ToolkitConfig.ready` drops Django's `close_caches` receiver: finding
    every cache to call a no-op on cost a warm page-cache hit 7 µs (a twentieth of it).
    `redis_close` is DJANGO_REDIS_CLOSE_CONNECTION, an alias's own option overriding it.
    """
    for config in caches.values():
        backend = config["BACKEND"]
        if backend == _REDIS:
            if config.get("OPTIONS", {}).get("CLOSE_CONNECTION", redis_close):
                return True
        elif backend not in _CLOSE_IS_A_NO_OP:
            return True
    return False
