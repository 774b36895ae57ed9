"""One Redis key kept in process memory until Redis says it changed (client-side caching).

Every page-cache hit reads the cache-wide epoch (`toolkit.cache.owned`). On Redis that
read is a loopback round trip: about 170 µs of a 320 µs warm hit on the project's
2-core machine (`bench_page_hit`), where diskcache's local read costs about 10 µs. Redis's
server-assisted client-side caching removes it: a connection with `CLIENT TRACKING on`
is sent an invalidation for every key it read, when any client changes that key. This
process keeps the epoch it read on such a connection and, before each use, polls that
connection without waiting: anything pending (an invalidation, a flush, a closed
socket) drops the kept value and the key is read again.

redis-py has a client-side cache, but it refuses servers older than Redis 7.4 (Debian 12
ships 7.0) and caches every read command of a client; this is the one-key case, on one
dedicated RESP3 connection per process.

Why the next request anywhere sees a bump: Redis queues the invalidation while it runs
the writing command and writes it out in the same turn of its event loop as the
writer's reply, before it reads the writer's next command. `fence` is that next
command: a bump that ends with one more round trip has, when it returns, put the
invalidation into every tracking reader's socket, and a reader polls its socket before
it uses what it kept. A bump made by this process forgets its own copy at once.

A network that drops this connection without closing it leaves the copy in place; the
writers' own Redis is then out of reach of this process too, and what the copy guards
lasts no longer than its entries' TTL (a hot page's copy past its freshness is read from
the cache again, which fails over to the database).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from django.core.cache import BaseCache
from django_redis.cache import RedisCache
from redis import Redis
from redis.exceptions import RedisError, ResponseError

logger = logging.getLogger(__name__)


class TrackedKey:
    """The value of one key of a django-redis cache, read at most once per change."""

    def __init__(self, key: str) -> None:
        self.key = key
        self._lock = threading.Lock()
        self._client: Redis | None = None
        self._pid = 0
        self._held = False
        self._value: Any = None
        self._refused = False  # the server has no CLIENT TRACKING: read every time

    def read(self, cache: BaseCache) -> Any:
        """The key's value: kept in memory while Redis has sent nothing since it was read.

        Any other backend is read every time (diskcache's read is local). A failure of
        the tracking connection costs one plain read (which may fail in turn, for the
        caller to handle): a closed socket is not an outage.
        """
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
    """One round trip after a change: see the module's docstring. Free off Redis."""
    if isinstance(cache, RedisCache):
        cache.client.get_client(write=True).ping()
