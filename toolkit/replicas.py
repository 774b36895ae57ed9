"""Read replicas: which reads go to a streaming standby, and when it must not serve them.

PostgreSQL's own streaming replication keeps the standbys (`DATABASE_REPLICA_URL`, one
or more, comma-separated); this module only decides, per query, where a read goes. A
read goes to a replica when all of these hold, and to the primary otherwise:

- the request asked for replica reads (`replica_reads()`: the storefront wraps the
  read-only routes of catalog, search and the API's GETs in it; carts, checkout, orders,
  the back office, Celery tasks and commands never do);
- the model belongs to an app whose reads may lag (`TOOLKIT_REPLICA_APPS`);
- no transaction is open on the primary (a transaction that writes reads its own writes);
- the replica is in rotation: its measured lag is within `TOOLKIT_REPLICA_MAX_LAG`;
- the replica has replayed the last invalidating write (the fence, below).

Lag is measured, not assumed: every `TOOLKIT_REPLICA_CHECK_INTERVAL` seconds the first
process that needs a reading asks the primary for `pg_current_wal_lsn()` and the replica
for `pg_last_wal_replay_lsn()` and `pg_last_xact_replay_timestamp()`, on connections of
its own (so a page's query count never includes them). Lag is 0 when the replica has
replayed what the primary had written, else the age of the last transaction it
replayed: with replay paused, it grows with the clock. A replica that lags past the
limit, or does not answer, leaves rotation until a reading finds it within the limit.

The fence keeps a lagging replica from refilling a cache with the value a write just
replaced. Every owned-cache invalidation (`toolkit.cache`) first records the primary's
WAL position after the commit in the cache server (an atomic max), then bumps the
generations. A reader that misses the new generation reads the fence after it, and
uses a replica only if the replica's last measured replay position is past the fence:
so for one check interval or so after each write, and for as long as the replica has
not replayed it, such reads go to the primary. One cache read per routed query is the
cost; a warm page runs no query, so it pays nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from toolkit.caches import REPLICA_FENCE

logger = logging.getLogger(__name__)

FENCE = REPLICA_FENCE
FENCE_TTL = 24 * 3600
# A max that two writers cannot undo: the later, lower one never overwrites.
_FENCE_MAX_SCRIPT = (
    "local now = tonumber(redis.call('get', KEYS[1]) or '0') "
    "if tonumber(ARGV[1]) > now then redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2]) end "
    "return 1"
)

READS_ROUTED = Counter(
    "peakstore_db_reads_routed",
    "Routing decisions for reads that could go to a replica, by where they went and why: "
    "replica, or primary because the replica was lagging, fenced (it had not replayed "
    "the last invalidating write), unavailable, or the fence was unreadable.",
    ["target", "reason"],
)

_replica_reads: ContextVar[bool] = ContextVar("toolkit_replica_reads", default=False)


@contextmanager
def replica_reads() -> Iterator[None]:
    """Let the reads inside run on a replica, where the rules above allow it."""
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


def replica_aliases() -> tuple[str, ...]:
    """The database aliases of the configured replicas (none in the embedded profile)."""
    return settings.TOOLKIT_DB_REPLICAS


# Lag readings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LagReading:
    """One measurement of a replica: how far behind it was, and whether it may serve."""

    alias: str
    measured_at: float  # time.time()
    lag_seconds: float | None  # None: the replica or the primary did not answer
    replay_lsn: int | None  # bytes into the WAL the replica has replayed
    primary_lsn: int | None
    paused: bool = False
    error: str = ""

    @property
    def lag_bytes(self) -> int | None:
        if self.replay_lsn is None or self.primary_lsn is None:
            return None
        return max(0, self.primary_lsn - self.replay_lsn)

    def in_rotation(self, max_lag: float) -> bool:
        return self.lag_seconds is not None and self.lag_seconds <= max_lag


PRIMARY_POSITION_SQL = "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"
REPLICA_POSITION_SQL = (
    "SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn, "
    "EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()), "
    "pg_is_wal_replay_paused()"
)


def lag_measure(*, primary: Any, replica: Any, alias: str) -> LagReading:
    """Measure one replica against the primary, on two open DB-API connections.

    The primary is read first: a replica that has replayed up to that position has
    everything committed before the measurement began. Two queries, one on each server.
    """
    now = time.time()
    try:
        with primary.cursor() as cursor:
            cursor.execute(PRIMARY_POSITION_SQL)
            primary_lsn = int(cursor.fetchone()[0])
        with replica.cursor() as cursor:
            cursor.execute(REPLICA_POSITION_SQL)
            replay, age, paused = cursor.fetchone()
    except Exception as error:  # any failure takes the replica out
        return LagReading(alias, now, None, None, None, error=f"{type(error).__name__}: {error}")
    if replay is None:  # not a standby, or it has replayed nothing yet
        return LagReading(alias, now, None, None, primary_lsn, error="not replaying WAL")
    replay_lsn = int(replay)
    lag = 0.0 if replay_lsn >= primary_lsn else max(0.0, float(age or 0.0))
    return LagReading(alias, now, lag, replay_lsn, primary_lsn, paused=bool(paused))


class _Monitor:
    """This process's latest reading of each replica, refreshed by whoever needs it.

    One thread measures at a time; the others keep using the previous reading while it
    does. The connections are the monitor's own, opened from the aliases' settings.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._readings: dict[str, LagReading] = {}
        self._connections: dict[str, Any] = {}

    def reading(self, alias: str) -> LagReading | None:
        reading = self._readings.get(alias)
        if (
            reading is None
            or time.time() - reading.measured_at >= settings.TOOLKIT_REPLICA_CHECK_INTERVAL
        ):
            if self._lock.acquire(blocking=reading is None):
                try:
                    reading = self._measure(alias)
                finally:
                    self._lock.release()
            else:
                reading = self._readings.get(alias)
        return reading

    def forget(self) -> None:
        """Drop every reading and connection (tests, and after a fork)."""
        with self._lock:
            for connection in self._connections.values():
                with suppress(Exception):  # already broken
                    connection.close()
            self._connections.clear()
            self._readings.clear()

    def _connection(self, alias: str) -> Any:
        connection = self._connections.get(alias)
        if connection is None or connection.closed:
            wrapper = connections.create_connection(alias)
            connection = wrapper.get_new_connection(wrapper.get_connection_params())
            connection.autocommit = True
            self._connections[alias] = connection
        return connection

    def _measure(self, alias: str) -> LagReading:
        try:
            primary = self._connection(DEFAULT_DB_ALIAS)
            replica = self._connection(alias)
        except Exception as error:  # unreachable: out of rotation
            reading = LagReading(alias, time.time(), None, None, None, error=str(error))
        else:
            reading = lag_measure(primary=primary, replica=replica, alias=alias)
        if reading.error:
            # A broken connection is opened anew at the next reading.
            for name in (DEFAULT_DB_ALIAS, alias):
                if (connection := self._connections.pop(name, None)) is not None:
                    with suppress(Exception):  # already broken
                        connection.close()
            logger.warning("replica %s out of rotation: %s", alias, reading.error)
        self._readings[alias] = reading
        return reading


monitor = _Monitor()


def replica_readings() -> list[LagReading]:
    """The current reading of every replica (measured now if older than the interval)."""
    return [reading for alias in replica_aliases() if (reading := monitor.reading(alias))]


class ReplicaLagCollector(Collector):
    """Lag, position and rotation of each replica, read when /metrics is scraped."""

    def collect(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "peakstore_db_replica_lag_seconds",
            "How far a read replica is behind the primary (age of its last replayed "
            "transaction while it has not replayed everything; -1 when unreachable).",
            labels=["alias"],
        )
        lag_bytes = GaugeMetricFamily(
            "peakstore_db_replica_lag_bytes",
            "WAL bytes the primary has written that the replica has not replayed.",
            labels=["alias"],
        )
        rotation = GaugeMetricFamily(
            "peakstore_db_replica_in_rotation",
            "1 while the replica serves routed reads, 0 while it lags past the limit "
            "or does not answer.",
            labels=["alias"],
        )
        for reading in replica_readings():
            lag.add_metric(
                [reading.alias], -1 if reading.lag_seconds is None else reading.lag_seconds
            )
            if reading.lag_bytes is not None:
                lag_bytes.add_metric([reading.alias], reading.lag_bytes)
            in_rotation = reading.in_rotation(settings.TOOLKIT_REPLICA_MAX_LAG)
            rotation.add_metric([reading.alias], 1 if in_rotation else 0)
        yield from (lag, lag_bytes, rotation)


# The fence ------------------------------------------------------------------------------


def fence_advance() -> None:
    """Record the primary's WAL position now as the fence (call after the write commits).

    No-op without replicas. Called by every owned-cache invalidation before it bumps a
    generation, so a reader that sees the new generation also sees the new fence. One
    query on the primary and one cache write.
    """
    if not replica_aliases():
        return
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute(PRIMARY_POSITION_SQL)
            position = int(cursor.fetchone()[0])
    except Exception:
        # Without a position no replica can be shown to be past this write: fence them
        # all off until the next write records one (reads then go to the primary).
        logger.exception("could not read the primary's WAL position; replicas fenced off")
        position = 2**62
    _fence_max(position)


def _fence_max(position: int) -> None:
    from django.core.cache import cache

    key = FENCE.key()
    client = getattr(getattr(cache, "client", None), "get_client", None)
    if client is not None:  # django-redis: an atomic max on the server
        try:
            client(write=True).eval(_FENCE_MAX_SCRIPT, 1, cache.make_key(key), position, FENCE_TTL)
        except Exception:
            logger.exception("could not record the replica fence; replicas fenced off")
            return
        return
    # One process (the embedded profile has no replicas; tests with a local cache).
    if position > (cache.get(key) or 0):
        cache.set(key, position, FENCE_TTL)


def fence_read() -> int | None:
    """The fence now (0 when no write recorded one); None when the cache cannot say."""
    try:
        from django.core.cache import cache

        return int(cache.get(FENCE.key(), 0))
    except Exception:  # unreadable: reads go to the primary
        return None


# The router -----------------------------------------------------------------------------


def _count(target: str, reason: str) -> None:
    READS_ROUTED.labels(target=target, reason=reason).inc()


def replica_for_read(app_label: str) -> str | None:
    """The replica alias a read of `app_label` may use now, or None for the primary."""
    aliases = replica_aliases()
    if not aliases or not _replica_reads.get() or app_label not in settings.TOOLKIT_REPLICA_APPS:
        return None
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return None
    max_lag = settings.TOOLKIT_REPLICA_MAX_LAG
    readings = [reading for alias in aliases if (reading := monitor.reading(alias))]
    usable = [reading for reading in readings if reading.in_rotation(max_lag)]
    if not usable:
        _count(
            "primary",
            "lagging"
            if readings and all(r.lag_seconds is not None for r in readings)
            else "unavailable",
        )
        return None
    fence = fence_read()
    if fence is None:
        _count("primary", "fence_unreadable")
        return None
    caught_up = [reading for reading in usable if (reading.replay_lsn or 0) >= fence]
    if not caught_up:
        _count("primary", "fenced")
        return None
    # The least lagging of those past the fence: with one replica, that one.
    chosen = min(caught_up, key=lambda reading: reading.lag_seconds or 0.0)
    _count("replica", "replica")
    return chosen.alias


class ReplicaRouter:
    """Django's database router for `replica_for_read`; every write goes to the primary."""

    def db_for_read(self, model: type, **hints: Any) -> str | None:
        instance = hints.get("instance")
        if instance is not None and instance._state.db:
            return instance._state.db  # related objects come from where their parent did
        return replica_for_read(model._meta.app_label)  # type: ignore[attr-defined]

    def db_for_write(self, model: type, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # every alias holds the same data

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if db in replica_aliases() else None
