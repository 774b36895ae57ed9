"""The simulator's fault profiles do what they say, and the same seed gives the same faults."""

import math
import statistics
import time

import httpx
import pytest

from integrations.simulator.faults import FaultProfile, InvalidProfile, _lognormal_s
from integrations.simulator.server import CONTROL_HEADER
from tests.simulator import running_simulator

CAPTURES = "/payment/captures"  # a cheap payment route that changes nothing


@pytest.fixture
def gateway(upstream_simulator):
    with httpx.Client(
        base_url=upstream_simulator.url, headers={CONTROL_HEADER: "1"}, timeout=5
    ) as client:
        yield client


def outcomes(client, calls):
    """Send `calls` GETs and return each one's status, or "reset" if the connection died."""
    results = []
    for _ in range(calls):
        try:
            results.append(client.get(CAPTURES).status_code)
        except httpx.TransportError:
            results.append("reset")
    return results


def test_profiles_are_listed_set_and_reset(upstream_simulator, gateway):
    profile = upstream_simulator.set_fault("payment", latency_ms=[20, 80], error_rate=0.1)

    assert profile["latency_ms"] == [20.0, 80.0]
    assert gateway.get("/_faults").json()["profiles"]["payment"] == profile
    upstream_simulator.reset()
    assert gateway.get("/_faults").json()["profiles"]["payment"] == FaultProfile().to_json()


@pytest.mark.parametrize(
    "profile",
    [
        {"error_rate": 1.5},
        {"reset_rate": -0.1},
        {"latency_ms": [300, 100]},
        {"latency_ms": "fast"},
        {"hang": "yes"},
        {"drip_ms": 10**9},
        {"surprise": True},
    ],
)
def test_invalid_profiles_are_refused(gateway, profile):
    response = gateway.put("/_faults/payment", json=profile)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_profile"


def test_an_unknown_dependency_is_404(gateway):
    assert gateway.put("/_faults/nonexistent", json={}).status_code == 404


def test_the_control_api_and_health_ignore_faults(upstream_simulator, gateway):
    upstream_simulator.set_fault("payment", down=True)

    assert gateway.get("/health").json() == {"status": "ok"}
    assert gateway.get("/_faults").status_code == 200


def test_latency_samples_fit_the_requested_median_and_p99():
    # The sampling itself, without the clock: a standard normal draw maps onto the
    # lognormal with that p50 and p99.
    assert _lognormal_s((100, 1000), 0.0) == pytest.approx(0.100)
    assert _lognormal_s((100, 1000), 2.3263) == pytest.approx(1.0, rel=1e-3)
    assert _lognormal_s((100, 100), 3.0) == pytest.approx(0.100)
    assert _lognormal_s(None, 3.0) == 0.0


def test_latency_delays_every_answer_by_at_least_its_floor(upstream_simulator, gateway):
    upstream_simulator.set_fault("payment", latency_ms=[150, 150])

    durations = []
    for _ in range(3):
        started = time.monotonic()
        assert gateway.get(CAPTURES).status_code == 200
        durations.append(time.monotonic() - started)

    assert min(durations) >= 0.15


def test_latency_spreads_around_its_median(upstream_simulator, gateway):
    upstream_simulator.set_fault("payment", latency_ms=[40, 400])

    durations = []
    for _ in range(30):
        started = time.monotonic()
        gateway.get(CAPTURES)
        durations.append(time.monotonic() - started)

    # Lower bounds only (a delay is a floor the simulator guarantees; an upper bound
    # would measure the machine): every answer waited, and the tail waited far longer.
    assert statistics.median(durations) >= 0.02
    assert max(durations) >= 0.1


def test_error_rate_answers_503_for_about_that_share(upstream_simulator, gateway):
    calls, rate = 300, 0.3
    upstream_simulator.set_fault("payment", error_rate=rate)

    errors = outcomes(gateway, calls).count(503)

    # Four standard deviations of a binomial: a healthy simulator never misses this.
    tolerance = 4 * math.sqrt(calls * rate * (1 - rate))
    assert abs(errors - calls * rate) <= tolerance
    assert upstream_simulator.stats("payment")["error"] == errors


def test_fail_next_fails_that_many_requests_then_recovers(upstream_simulator, gateway):
    upstream_simulator.set_fault("payment", fail_next=2)

    assert outcomes(gateway, 4) == [503, 503, 200, 200]


def test_down_answers_503_at_once(upstream_simulator, gateway):
    upstream_simulator.set_fault("payment", down=True, latency_ms=[500, 500])

    response = gateway.get(CAPTURES)

    assert (response.status_code, response.json()) == (503, {"error": "dependency_down"})
    assert upstream_simulator.stats("payment") == {"requests": 1, "down": 1}


def test_reset_rate_drops_connections_without_an_answer(upstream_simulator, gateway):
    upstream_simulator.set_fault("payment", reset_rate=1)

    assert outcomes(gateway, 3) == ["reset"] * 3
    assert upstream_simulator.stats("payment") == {"requests": 3, "reset": 3}


def test_hang_holds_one_request_without_blocking_others(upstream_simulator, gateway):
    upstream_simulator.set_fault("payment", hang=True)

    with pytest.raises(httpx.ReadTimeout):
        gateway.get(CAPTURES, timeout=0.3)
    # Other routes, and the same route once healthy, answer while the hang is held.
    assert gateway.get("/health").status_code == 200
    upstream_simulator.reset()
    assert gateway.get(CAPTURES).status_code == 200


def test_a_hanging_authorization_is_never_processed(upstream_simulator, gateway):
    upstream_simulator.set_fault("payment", hang=True)

    with pytest.raises(httpx.ReadTimeout):
        gateway.post(
            "/payment/authorizations",
            json={"token": "tok_ok", "amount": "1.00", "currency": "EUR", "reference": "hung-1"},
            headers={"Idempotency-Key": "hung-1:authorize"},
            timeout=0.3,
        )
    upstream_simulator.reset()

    assert gateway.get("/payment/payments", params={"reference": "hung-1"}).json() == {
        "payments": []
    }


def test_drip_sends_every_piece_in_time_but_the_whole_late(upstream_simulator, gateway):
    upstream_simulator.set_fault("payment", drip_ms=600)

    started = time.monotonic()
    # A per-read timeout well under the drip's total is never hit...
    response = gateway.get(CAPTURES, timeout=httpx.Timeout(5, read=0.5))

    assert response.status_code == 200
    # ...yet the answer took the whole drip.
    assert time.monotonic() - started >= 0.6


def test_the_same_seed_gives_the_same_faults(upstream_simulator, gateway):
    def run():
        upstream_simulator.reset()
        upstream_simulator.set_fault("payment", error_rate=0.5, reset_rate=0.2)
        return outcomes(gateway, 40)

    first, second = run(), run()

    assert first == second
    assert {503, 200, "reset"} <= set(first)


def test_a_different_seed_gives_different_faults(upstream_simulator, gateway):
    upstream_simulator.set_fault("payment", error_rate=0.5)
    default_seed = outcomes(gateway, 40)

    with running_simulator(seed=7) as other, httpx.Client(base_url=other.url) as client:
        other.set_fault("payment", error_rate=0.5)
        seven = outcomes(client, 40)
        other.reset()
        other.set_fault("payment", error_rate=0.5)
        seven_again = outcomes(client, 40)

    assert seven == seven_again
    assert seven != default_seed


def test_from_json_keeps_left_out_fields_healthy():
    assert FaultProfile.from_json({"hang": True}) == FaultProfile(hang=True)
    with pytest.raises(InvalidProfile):
        FaultProfile.from_json({"fail_next": -1})
