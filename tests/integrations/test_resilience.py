"""Circuit breakers open, short-circuit, probe and close; bulkheads turn calls away."""

import threading

import pytest
from prometheus_client import REGISTRY

from integrations import reviews
from integrations.resilience import (
    Breaker,
    Bulkhead,
    BulkheadFull,
    CircuitOpen,
    Criticality,
    DependencySpec,
    bulkhead_for,
    dependency_call,
)
from integrations.reviews import reviews_for_product
from integrations.upstream import UpstreamUnavailable

SPEC = DependencySpec(
    name="widgets",
    criticality=Criticality.OPTIONAL,
    fallback="none",
    failure_threshold=3,
    reset_timeout_s=10.0,
    half_open_probes=2,
    max_concurrent=2,
    bulkhead_wait_s=0.01,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def breaker(clock):
    return Breaker(SPEC, clock=clock)


def fail(breaker: Breaker) -> None:
    breaker.record_failure(breaker.before_call())


def calls(dependency: str, outcome: str) -> float:
    labels = {"dependency": dependency, "outcome": outcome}
    return REGISTRY.get_sample_value("peakstore_dependency_calls_total", labels) or 0.0


def test_the_breaker_opens_after_its_threshold_of_failures_in_a_row(breaker):
    fail(breaker)
    fail(breaker)
    assert breaker.state() == "closed"

    fail(breaker)

    assert breaker.state() == "open"
    with pytest.raises(CircuitOpen):
        breaker.before_call()


def test_a_success_clears_the_failure_count(breaker):
    fail(breaker)
    fail(breaker)
    breaker.record_success(breaker.before_call())
    fail(breaker)
    fail(breaker)

    assert breaker.state() == "closed"


def test_half_open_lets_a_limited_number_of_probes_through(breaker, clock):
    for _ in range(3):
        fail(breaker)
    clock.now += SPEC.reset_timeout_s

    assert breaker.state() == "half_open"
    probes = [breaker.before_call(), breaker.before_call()]
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    assert all(permit.probe for permit in probes)


def test_a_successful_probe_closes_the_breaker(breaker, clock):
    for _ in range(3):
        fail(breaker)
    clock.now += SPEC.reset_timeout_s

    breaker.record_success(breaker.before_call())

    assert breaker.state() == "closed"
    assert not breaker.before_call().probe


def test_a_failed_probe_opens_it_for_another_period(breaker, clock):
    for _ in range(3):
        fail(breaker)
    clock.now += SPEC.reset_timeout_s

    breaker.record_failure(breaker.before_call())

    assert breaker.state() == "open"
    clock.now += SPEC.reset_timeout_s
    assert breaker.state() == "half_open"


def test_probes_lost_with_their_worker_free_their_slots_in_the_next_window(breaker, clock):
    for _ in range(3):
        fail(breaker)
    clock.now += SPEC.reset_timeout_s
    breaker.before_call()
    breaker.before_call()  # both probes taken, neither ever reports

    clock.now += SPEC.reset_timeout_s

    assert breaker.before_call().probe


def test_the_state_is_shared_by_every_breaker_of_a_dependency(breaker, clock):
    for _ in range(3):
        fail(breaker)

    # Another process builds its own Breaker; the state comes from the shared cache.
    assert Breaker(SPEC, clock=clock).state() == "open"


def test_the_bulkhead_turns_away_calls_beyond_its_cap():
    bulkhead = Bulkhead(SPEC)
    release = threading.Event()

    def hold() -> None:
        with bulkhead.slot():
            release.wait(5)

    holders = [threading.Thread(target=hold) for _ in range(SPEC.max_concurrent)]
    for holder in holders:
        holder.start()
    try:
        while bulkhead._slots._value:  # until every slot is held
            threading.Event().wait(0.005)
        with pytest.raises(BulkheadFull), bulkhead.slot():
            pass
    finally:
        release.set()
        for holder in holders:
            holder.join()

    with bulkhead.slot():
        pass  # free again


def test_a_full_bulkhead_rejects_without_calling_and_counts_it():
    called = []
    bulkhead = bulkhead_for(SPEC)
    before = calls("widgets", "rejected")
    for _ in range(SPEC.max_concurrent):
        bulkhead._slots.acquire()
    try:
        with pytest.raises(BulkheadFull):
            dependency_call(SPEC, lambda: called.append(1))
    finally:
        for _ in range(SPEC.max_concurrent):
            bulkhead._slots.release()

    assert called == []
    assert calls("widgets", "rejected") == before + 1


def test_only_upstream_failures_count_against_the_breaker():
    def unavailable():
        raise UpstreamUnavailable("widgets: down")

    for _ in range(SPEC.failure_threshold):
        with pytest.raises(UpstreamUnavailable):
            dependency_call(SPEC, unavailable)

    with pytest.raises(CircuitOpen):
        dependency_call(SPEC, lambda: "never called")


def test_a_hanging_service_opens_its_breaker_and_is_then_not_called(upstream_simulator):
    upstream_simulator.set_fault("reviews", hang=True)
    short_circuited = calls("reviews", "short_circuited")

    for _ in range(reviews.SPEC.failure_threshold):
        assert reviews_for_product(slug="trail-runner") is None
    reached = upstream_simulator.stats("reviews")["requests"]
    assert Breaker(reviews.SPEC).state() == "open"

    assert reviews_for_product(slug="trail-runner") is None

    assert upstream_simulator.stats("reviews")["requests"] == reached
    assert calls("reviews", "short_circuited") == short_circuited + 1
    gauge = REGISTRY.get_sample_value(
        "peakstore_dependency_breaker_state", {"dependency": "reviews"}
    )
    assert gauge == 2


def test_a_recovered_service_closes_the_breaker_through_one_probe(upstream_simulator, monkeypatch):
    upstream_simulator.set_fault("reviews", down=True)
    for _ in range(reviews.SPEC.failure_threshold):
        reviews_for_product(slug="trail-runner")
    upstream_simulator.reset()
    # Skip the open period instead of sleeping through it.
    later = Breaker(reviews.SPEC).clock() + reviews.SPEC.reset_timeout_s
    monkeypatch.setattr("integrations.resilience.wall_clock", lambda: later)

    assert reviews_for_product(slug="trail-runner") is not None

    assert Breaker(reviews.SPEC).state() == "closed"
    assert upstream_simulator.stats("reviews")["requests"] == 1
