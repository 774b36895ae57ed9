"""Each fault preset does what its name says, and the `faults` command drives them."""

import json

import httpx
import pytest
from django.core.management import call_command

from integrations.fault_presets import PRESETS, faults_preset_apply
from integrations.interface import (
    PaymentUnavailable,
    payment_captures,
    recommendations_for_product,
    reviews_for_product,
)
from integrations.simulator.faults import FaultProfile
from integrations.simulator.server import CONTROL_HEADER

HEALTHY = FaultProfile().to_json()


def profiles(simulator) -> dict:
    return httpx.get(f"{simulator.url}/_faults").json()["profiles"]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_preset_sets_what_it_names_and_makes_the_rest_healthy(upstream_simulator, name):
    upstream_simulator.set_fault("tax", down=True)  # left over from before

    faults_preset_apply(name)

    for dependency, profile in profiles(upstream_simulator).items():
        expected = FaultProfile.from_json(PRESETS[name].get(dependency, {})).to_json()
        assert profile == expected, dependency


def test_the_simulator_applies_a_preset_by_name_and_refuses_one_it_does_not_know(
    upstream_simulator,
):
    control = {CONTROL_HEADER: "1"}
    applied = httpx.post(f"{upstream_simulator.url}/_faults/preset/payment-down", headers=control)
    unknown = httpx.post(f"{upstream_simulator.url}/_faults/preset/no-such-preset", headers=control)

    assert applied.status_code == 200
    assert applied.json()["profiles"]["payment"]["down"] is True
    assert (unknown.status_code, unknown.json()["error"]) == (404, "unknown_preset")


def test_healthy_answers_everything(upstream_simulator):
    faults_preset_apply("partial-outage")
    faults_preset_apply("healthy")

    assert all(profile == HEALTHY for profile in profiles(upstream_simulator).values())
    assert reviews_for_product(slug="trail-runner") is not None


def test_optional_down_hangs_recommendations_and_reviews_only(upstream_simulator, db):
    faults_preset_apply("optional-down")

    assert recommendations_for_product(slug="trail-runner") is None
    assert reviews_for_product(slug="trail-runner") is None
    assert upstream_simulator.stats("reviews")["hang"] >= 1
    assert payment_captures() is not None  # payment untouched


def test_payment_down_makes_payment_unavailable(upstream_simulator):
    faults_preset_apply("payment-down")

    with pytest.raises(PaymentUnavailable):
        payment_captures()
    assert upstream_simulator.stats("payment")["down"] >= 1


def test_flaky_payment_fails_some_calls_and_serves_others(upstream_simulator):
    faults_preset_apply("flaky-payment")
    with httpx.Client(base_url=upstream_simulator.url, timeout=5) as gateway:
        statuses = [gateway.get("/payment/captures").status_code for _ in range(20)]

    assert 503 in statuses
    assert 200 in statuses


def test_slow_erp_delays_the_erp_only(upstream_simulator):
    faults_preset_apply("slow-erp")

    assert profiles(upstream_simulator)["erp"]["latency_ms"] == [800.0, 3000.0]
    assert profiles(upstream_simulator)["payment"] == HEALTHY


def test_the_faults_command_sets_shows_and_applies_presets(upstream_simulator, capsys):
    call_command("faults", "set", "reviews", "--latency-ms", "50,400", "--error-rate", "0.1")
    assert profiles(upstream_simulator)["reviews"]["latency_ms"] == [50.0, 400.0]

    call_command("faults", "preset", "optional-down")
    capsys.readouterr()
    call_command("faults", "status")

    status = json.loads(capsys.readouterr().out)
    assert status["profiles"]["recommendations"]["hang"] is True
    assert status["profiles"]["reviews"]["error_rate"] == 0.0  # the preset replaced it
