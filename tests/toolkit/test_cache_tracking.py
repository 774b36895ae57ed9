"""The epoch kept in process memory on Redis (`toolkit.cache.tracking`): read once per
change, and never served after a change another client made and fenced.

Runs against a real Redis (REDIS_URL, else the loopback default) under a key prefix of
its own, on every profile; outside CI it skips when no Redis answers.
"""

import os
import uuid

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django_redis.cache import RedisCache
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from tests.conftest import IN_CI
from toolkit.cache.tracking import TrackedKey, fence

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
KEY = "toolkit:cache-epoch"


def _redis_cache() -> RedisCache:
    return RedisCache(
        REDIS_URL,
        {
            "KEY_PREFIX": f"tracking-test-{uuid.uuid4().hex[:8]}",
            "OPTIONS": {"SOCKET_TIMEOUT": 1, "SOCKET_CONNECT_TIMEOUT": 1},
        },
    )


@pytest.fixture
def cache():
    """A writer: another client of the same Redis, as another process would be."""
    try:
        Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except RedisConnectionError as error:
        if IN_CI:
            raise
        pytest.skip(f"needs Redis at {REDIS_URL} ({error}); CI runs it")
    writer = _redis_cache()
    yield writer
    writer.delete(KEY)


@pytest.fixture
def round_trips(monkeypatch):
    """Count the commands the reader sends on its own connection."""
    sent: list[tuple] = []

    def counting(reader: TrackedKey) -> list[tuple]:
        connection = reader._client.connection
        real = connection.send_command
        monkeypatch.setattr(
            connection, "send_command", lambda *a, **k: sent.append(a) or real(*a, **k)
        )
        return sent

    return counting


def test_a_kept_value_is_served_without_a_round_trip(cache, round_trips):
    reader = TrackedKey(KEY)
    cache.set(KEY, 41)
    assert reader.read(cache) == 41
    sent = round_trips(reader)

    assert [reader.read(cache) for _ in range(100)] == [41] * 100
    assert sent == []


def test_a_change_another_client_fenced_is_seen_by_the_very_next_read(cache, round_trips):
    reader = TrackedKey(KEY)
    cache.set(KEY, 1)
    assert reader.read(cache) == 1
    sent = round_trips(reader)

    for expected in range(2, 202):  # no sleep anywhere: the fence is the only wait
        cache.incr(KEY)
        fence(cache)
        assert reader.read(cache) == expected
    assert len(sent) == 200  # one GET per change, none more


def test_a_flush_and_a_deleted_key_are_changes_too(cache):
    reader = TrackedKey(KEY)
    cache.set(KEY, 7)
    assert reader.read(cache) == 7

    cache.delete(KEY)
    fence(cache)
    assert reader.read(cache) is None

    cache.set(KEY, 8)
    fence(cache)
    assert reader.read(cache) == 8


def test_invalidations_piled_up_while_the_process_was_idle_are_all_read(cache):
    reader = TrackedKey(KEY)
    cache.set(KEY, 1)
    assert reader.read(cache) == 1
    # Every flush of any database is sent to every tracking connection, whatever it
    # read: an idle worker's socket fills with them. Database 15, which nothing uses.
    idle = Redis.from_url(REDIS_URL, db=15)
    for _ in range(1500):
        idle.flushdb()
    cache.set(KEY, 2)
    fence(cache)

    assert reader.read(cache) == 2
    assert reader.read(cache) == 2


def test_a_dropped_connection_is_read_through_and_tracked_again(cache):
    reader = TrackedKey(KEY)
    cache.set(KEY, 3)
    assert reader.read(cache) == 3
    admin = Redis.from_url(REDIS_URL)
    admin.client_kill_filter(_id=reader._client.client_id())  # Redis restarted, say

    cache.set(KEY, 4)  # the reader's connection is gone: no invalidation reaches it
    assert reader.read(cache) == 4  # the closed socket is noticed: read, not trusted
    assert reader.read(cache) == 4  # reconnected, tracking again

    cache.set(KEY, 5)
    fence(cache)
    assert reader.read(cache) == 5


def test_this_process_forgets_its_copy_when_it_moves_the_key_itself(cache, round_trips):
    reader = TrackedKey(KEY)
    cache.set(KEY, 10)
    assert reader.read(cache) == 10
    sent = round_trips(reader)

    reader.forget()
    assert reader.read(cache) == 10
    assert len(sent) == 1  # forgotten: read again, whatever the socket holds


def test_other_backends_are_read_every_time():
    local = LocMemCache("tracking-test", {})
    local.set(KEY, 1)
    reader = TrackedKey(KEY)
    assert reader.read(local) == 1
    local.set(KEY, 2)
    assert reader.read(local) == 2
    assert reader._client is None


def test_a_server_without_client_tracking_is_read_every_time(cache, monkeypatch):
    def refuse(self, connection):
        raise ResponseError("ERR unknown command 'CLIENT', as on a server without tracking")

    monkeypatch.setattr(TrackedKey, "_on_connect", refuse)
    reader = TrackedKey(KEY)
    cache.set(KEY, 1)
    assert reader.read(cache) == 1

    cache.set(KEY, 2)  # no fence: nothing would tell this reader
    assert reader.read(cache) == 2
    assert reader._refused
    assert reader._client is None  # its connection closed, not left open
