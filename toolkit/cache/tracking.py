"""One cache key kept in process memory until the cache says it changed.

Every page-cache hit reads the cache-wide epoch (`toolkit.cache.owned`). Read from the
cache each time, that is a loopback round trip on Redis (about 170 µs of a 320 µs warm
hit on the project's 2-core machine, `bench_page_hit`) and a SQLite read on diskcache
(about 25 µs of a 160 µs hit: 5% of a web worker's CPU under `wrk`). Each process keeps
the value instead, and learns of a change without asking for the key:

- On Redis, from the server. A connection with `CLIENT TRACKING on` is sent an
  invalidation for every key it read, when any client changes that key. This process
  keeps the epoch it read on such a connection and, before each use, polls that
  connection without waiting: anything pending (an invalidation, a flush, a closed
  socket) drops the kept value and the key is read again.
- On diskcache, from a marker: eight bytes in a file in the cache's directory, mapped
  into every process that uses the directory. A writer puts new random bytes there after
  its change (`fence`); a reader compares them with the bytes it saw when it read the
  key (a memory read). Random, not a counter: two writers need no lock, and a marker
  never comes back to a value a reader holds. Only writers that announce their change
  move the marker: the epoch's (`toolkit.cache.owned`, `toolkit.cache.registry`, the
  tests' cache clear). A writer killed between its write and its marker, or anything
  else that writes the key, is seen within `DISK_HOLD_S`, when the kept value expires.

redis-py has a client-side cache, but it refuses servers older than Redis 7.4 (Debian 12
ships 7.0) and caches every read command of a client; this is the one-key case, on one
dedicated RESP3 connection per process.

Why the next request anywhere sees a bump, on Redis: Redis queues the invalidation while
it runs the writing command and writes it out in the same turn of its event loop as the
writer's reply, before it reads the writer's next command. `fence` is that next
command: a bump that ends with one more round trip has, when it returns, put the
invalidation into every tracking reader's socket, and a reader polls its socket before
it uses what it kept. On diskcache, `fence` moves the marker after the write has
committed, and a reader looks at the marker before it reads the key: bytes it saw
before a change are never the bytes after it. A bump made by this process forgets its
own copy at once.

A network that drops this connection without closing it leaves the copy in place; the
writers' own Redis is then out of reach of this process too, and what the copy guards
lasts no longer than its entries' TTL (a hot page's copy past its freshness is read from
the cache again, which fails over to the database).
"""

from __future__ import annotations

import logging
import mmap
import os
import threading
import time
from typing import Any

from django.core.cache import BaseCache
from django_redis.cache import RedisCache
from redis import Redis
from redis.exceptions import RedisError, ResponseError

from toolkit.cache.backends import PersistentDiskCache

logger = logging.getLogger(__name__)

# How long a process trusts a diskcache key it kept while the marker stands still: what
# a change made without moving the marker waits at most to be seen.
DISK_HOLD_S = 1.0
# The marker's file, in the cache's own directory: every process of a store shares it.
MARKER_NAME = "tracked-keys.marker"
_MARKER_SIZE = 8


class TrackedKey:
    """The value of one key of a django-redis or diskcache cache, read at most once per
    change. Redis's state is guarded by a lock (one connection, one reply at a time);
    diskcache's is one tuple swapped whole, read without one on every hit."""

    def __init__(self, key: str) -> None:
        self.key = key
        self._lock = threading.Lock()
        self._client: Redis | None = None
        self._pid = 0
        self._held = False
        self._value: Any = None
        self._refused = False  # the server has no CLIENT TRACKING: read every time
        # On diskcache: (the marker, its bytes before the read, the value, trusted until).
        self._kept: tuple[_Marker, bytes, Any, float] | None = None

    def read(self, cache: BaseCache) -> Any:
        """The key's value: kept in memory while the cache has said nothing since it was read.

        Any other backend is read every time. A failure of the tracking connection costs
        one plain read (which may fail in turn, for the caller to handle): a closed socket
        is not an outage.
        """
        if isinstance(cache, PersistentDiskCache):
            return self._read_marked(cache)
        if self._refused or not isinstance(cache, RedisCache):
            return cache.get(self.key)
        with self._lock:
            try:
                return self._read(cache)
            except ResponseError as error:
                self._refused = True
                self._disconnect()
                logger.warning("no client tracking on this cache server: %s; read per use", error)
            except RedisError:
                self._disconnect()
        return cache.get(self.key)

    def forget(self) -> None:
        """Drop the kept value: this process changed the key (or cleared the cache)."""
        self._held = False
        self._kept = None

    def _read_marked(self, cache: PersistentDiskCache) -> Any:
        marker = _marker(cache.directory)
        if marker is None:
            return cache.get(self.key)
        seen = marker.read()
        now = time.monotonic()
        kept = self._kept
        if kept is not None and kept[0] is marker and kept[1] == seen and now < kept[3]:
            return kept[2]
        value = cache.get(self.key)
        # A change committed after `seen` was read moves the marker past it: the next
        # read sees that and reads again.
        self._kept = None if value is None else (marker, seen, value, now + DISK_HOLD_S)
        return value

    def _read(self, cache: RedisCache) -> Any:
        client = self._connection(cache)
        connection = client.connection
        assert connection is not None  # single_connection_client
        if connection.can_read(timeout=0):  # an invalidation (or a closed socket)
            self._held = False
            # One at a time: every flush of any database sends one to every tracking
            # connection, and the parser skips those ahead of a reply by recursing.
            while connection.can_read(timeout=0):
                connection.read_response(push_request=True)
        if self._held:
            return self._value
        # An invalidation that comes after the reply is for a change made after this
        # read, and the next poll finds it.
        connection.send_command("GET", cache.make_key(self.key))
        raw = connection.read_response()
        value = None if raw is None else cache.client.decode(raw)
        self._value, self._held = value, value is not None
        return value

    def _connection(self, cache: RedisCache) -> Redis:
        if self._client is not None and self._pid == os.getpid():
            return self._client
        self._client, self._pid, self._held = None, os.getpid(), False  # a forked child's own
        options = cache._params.get("OPTIONS", {})  # the alias's timeouts, as its reads
        client = Redis.from_url(
            cache.client._server[0],  # the primary: the one the bumps are written to
            protocol=3,
            single_connection_client=True,
            socket_timeout=options.get("SOCKET_TIMEOUT"),
            socket_connect_timeout=options.get("SOCKET_CONNECT_TIMEOUT"),
        )
        assert client.connection is not None
        # Every (re)connect starts untracked and may have missed invalidations. The
        # client connected already: the callback runs from the next connect on.
        client.connection.register_connect_callback(self._on_connect)
        self._client = client  # first: a refusal below is disconnected by the caller
        self._on_connect(client.connection)
        return client

    def _on_connect(self, connection: Any) -> None:
        self._held = False
        connection.send_command("CLIENT", "TRACKING", "ON")
        connection.read_response()

    def _disconnect(self) -> None:
        self._held = False
        client, self._client = self._client, None
        if client is not None and client.connection is not None:
            client.connection.disconnect()


def fence(cache: Any) -> None:
    """After a change: every process's next read sees it (the module's docstring).

    One round trip on Redis, a memory write on diskcache, nothing on any other backend.
    """
    if isinstance(cache, RedisCache):
        cache.client.get_client(write=True).ping()
    elif isinstance(cache, PersistentDiskCache) and (marker := _marker(cache.directory)):
        marker.move()


class _Marker:
    """Eight bytes of a file, mapped shared: every process that maps it sees one value."""

    def __init__(self, path: str) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            # Only a new file grows: truncating to its own size never zeroes a marker.
            if os.fstat(fd).st_size < _MARKER_SIZE:
                os.ftruncate(fd, _MARKER_SIZE)
            self._map = mmap.mmap(fd, _MARKER_SIZE)
        finally:
            os.close(fd)  # the mapping keeps the file

    def read(self) -> bytes:
        return self._map[:_MARKER_SIZE]

    def move(self) -> None:
        self._map[:_MARKER_SIZE] = os.urandom(_MARKER_SIZE)


_markers: dict[str, _Marker | None] = {}
_markers_lock = threading.Lock()


def _marker(directory: str) -> _Marker | None:
    """The marker of the diskcache in `directory`; None when it cannot be made (read
    every time then)."""
    try:
        return _markers[directory]
    except KeyError:
        pass
    with _markers_lock:
        if directory not in _markers:
            try:
                _markers[directory] = _Marker(os.path.join(directory, MARKER_NAME))
            except OSError as error:
                _markers[directory] = None
                logger.warning("no change marker in %s: %s; read per use", directory, error)
        return _markers[directory]
