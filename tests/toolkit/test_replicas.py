"""The replica router's rules, the fence, and lag measured on a real streaming standby.

The rules need no database (outside `django_db`, no transaction is open); the pair
tests measure a throwaway primary and standby (`pg_pair`)."""

import time

import psycopg
import pytest
from django.db import transaction
from django.test import override_settings

from toolkit import replicas
from toolkit.replicas import LagReading, ReplicaRouter, replica_for_read, replica_reads

REPLICA = "replica_0"


@pytest.fixture
def one_replica(monkeypatch):
    """One configured replica whose reading the test sets; the fence starts at 0."""
    readings: dict[str, LagReading] = {}
    monkeypatch.setattr(replicas.monitor, "reading", lambda alias: readings.get(alias))
    with override_settings(TOOLKIT_DB_REPLICAS=(REPLICA,), TOOLKIT_REPLICA_MAX_LAG=5.0):
        yield readings


def _reading(*, lag: float | None, replay: int | None = 1000) -> LagReading:
    return LagReading(REPLICA, time.time(), lag, replay, 1000)


def test_no_replica_configured_reads_the_primary():
    with replica_reads():
        assert replica_for_read("catalog") is None


def test_a_caught_up_replica_serves_catalog_reads_inside_replica_reads(one_replica):
    one_replica[REPLICA] = _reading(lag=0.0)
    with replica_reads():
        assert replica_for_read("catalog") == REPLICA
        assert replica_for_read("pricing") == REPLICA
    # Outside a read-only route, and for apps that read their own writes: the primary
    assert replica_for_read("catalog") is None
    with replica_reads():
        assert replica_for_read("checkout") is None
        assert replica_for_read("sessions") is None


@pytest.mark.django_db(transaction=True)
def test_reads_inside_a_transaction_stay_on_the_primary(one_replica):
    one_replica[REPLICA] = _reading(lag=0.0)
    with replica_reads(), transaction.atomic():
        assert replica_for_read("catalog") is None


def test_a_replica_lagging_past_the_limit_or_unreachable_is_out_of_rotation(one_replica):
    with replica_reads():
        one_replica[REPLICA] = _reading(lag=5.5)
        assert replica_for_read("catalog") is None
        one_replica[REPLICA] = _reading(lag=None, replay=None)  # did not answer
        assert replica_for_read("catalog") is None
        one_replica[REPLICA] = _reading(lag=4.9)
        assert replica_for_read("catalog") == REPLICA


def test_a_replica_behind_the_fence_is_not_read_until_it_replays_past_it(one_replica, metric_delta):
    metric_delta.watch("peakstore_db_reads_routed_total", target="primary", reason="fenced")
    one_replica[REPLICA] = _reading(lag=0.0, replay=1000)
    replicas._fence_max(1500)  # an invalidating write the replica has not replayed
    with replica_reads():
        assert replica_for_read("catalog") is None
        one_replica[REPLICA] = _reading(lag=0.0, replay=1500)
        assert replica_for_read("catalog") == REPLICA
    assert metric_delta("peakstore_db_reads_routed_total", target="primary", reason="fenced") == 1


def test_the_fence_only_moves_forward(one_replica):
    replicas._fence_max(2000)
    replicas._fence_max(1000)  # a slower writer's older position
    assert replicas.fence_read() == 2000


@pytest.mark.django_db(transaction=True)
def test_related_reads_follow_the_instance_they_start_from(product, one_replica):
    one_replica[REPLICA] = _reading(lag=0.0)
    product._state.db = "default"
    with replica_reads():
        assert ReplicaRouter().db_for_read(type(product), instance=product) == "default"
        assert ReplicaRouter().db_for_read(type(product)) == REPLICA
    assert ReplicaRouter().db_for_write(type(product)) == "default"
    assert ReplicaRouter().allow_migrate(REPLICA, "catalog") is False


def test_the_monitor_measures_once_per_interval(monkeypatch):
    monitor = replicas._Monitor()
    measured = []

    def measure(alias: str) -> LagReading:
        measured.append(alias)
        reading = _reading(lag=0.0)
        monitor._readings[alias] = reading
        return reading

    monkeypatch.setattr(monitor, "_measure", measure)
    with override_settings(TOOLKIT_REPLICA_CHECK_INTERVAL=60.0):
        for _ in range(5):
            assert monitor.reading(REPLICA) is not None
    assert measured == [REPLICA]


# On a real pair ----------------------------------------------------------------------------


def _measure(pg_pair) -> LagReading:
    with (
        psycopg.connect(pg_pair.primary_url, autocommit=True) as primary,
        psycopg.connect(pg_pair.standby_url, autocommit=True) as standby,
    ):
        return replicas.lag_measure(primary=primary, replica=standby, alias=REPLICA)


def _write(pg_pair) -> None:
    with psycopg.connect(pg_pair.primary_url, autocommit=True) as primary:
        primary.execute("CREATE TABLE IF NOT EXISTS lag_probe (at timestamptz)")
        primary.execute("INSERT INTO lag_probe VALUES (now())")


def test_lag_is_zero_on_a_caught_up_standby(pg_pair):
    _write(pg_pair)
    pg_pair.wait_caught_up()

    reading = _measure(pg_pair)

    assert reading.error == ""
    assert reading.lag_seconds == 0.0
    assert reading.lag_bytes == 0
    assert reading.in_rotation(max_lag=0.0)


def test_a_paused_standby_measures_behind_and_leaves_rotation(pg_pair):
    _write(pg_pair)
    pg_pair.wait_caught_up()
    pg_pair.replay_pause()
    try:
        # When the primary writes while the standby does not replay
        _write(pg_pair)
        time.sleep(0.3)  # a lag to measure: the age of the last transaction replayed
        reading = _measure(pg_pair)

        # Then the standby is behind by bytes and by time, and paused
        assert reading.paused
        assert (reading.lag_bytes or 0) > 0
        assert (reading.lag_seconds or 0) > 0
        assert not reading.in_rotation(max_lag=(reading.lag_seconds or 0) / 2)
    finally:
        pg_pair.replay_resume()

    # And once it replays again it catches up to no lag
    pg_pair.wait_caught_up()
    assert _measure(pg_pair).lag_seconds == 0.0


def test_an_unreachable_replica_is_out_of_rotation(pg_pair):
    with psycopg.connect(pg_pair.primary_url, autocommit=True) as primary:
        # The primary is not in recovery: it has no replay position.
        reading = replicas.lag_measure(primary=primary, replica=primary, alias=REPLICA)
    assert reading.lag_seconds is None
    assert not reading.in_rotation(max_lag=1e9)
