"""The payment client against the simulator: results, errors, timeouts and retry policy."""

import socket
import uuid
from decimal import Decimal

import pytest

from integrations.interface import (
    PaymentDeclined,
    PaymentRejected,
    PaymentState,
    PaymentTimeout,
    PaymentUnavailable,
    payment_authorize,
    payment_capture,
    payment_captures,
    payment_lookup,
    payment_void,
)

# Tests that wait for a timeout shorten it, so the suite does not sit out real budgets.
# They assert outcomes and attempt counts, never durations: timing belongs in benchmarks.
SHORT_TIMEOUT = 0.4


@pytest.fixture
def reference():
    return f"order-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def short_timeout(settings):
    settings.INTEGRATIONS_PAYMENT_TIMEOUT = SHORT_TIMEOUT


def authorize(reference, *, token="tok_ok", amount="19.90"):
    return payment_authorize(
        token=token, amount=Decimal(amount), currency="EUR", reference=reference
    )


def test_authorize_then_capture_is_one_capture_for_the_reference(reference):
    authorization = authorize(reference)

    capture = payment_capture(
        authorization_id=authorization.id, amount=authorization.amount, reference=reference
    )
    again = payment_capture(
        authorization_id=authorization.id, amount=authorization.amount, reference=reference
    )

    assert (authorization.amount, authorization.currency) == (Decimal("19.90"), "EUR")
    assert capture == again
    assert capture.captured_amount == Decimal("19.90")
    assert payment_lookup(reference=reference) == PaymentState(
        status="captured", authorization_id=authorization.id, captured_amount=Decimal("19.90")
    )
    assert [c.captured_amount for c in payment_captures() if c.reference == reference] == [
        Decimal("19.90")
    ]


def test_authorizing_a_reference_twice_returns_the_first_authorization(reference):
    assert authorize(reference) == authorize(reference)


def test_void_releases_the_authorization(reference):
    authorization = authorize(reference)

    payment_void(authorization_id=authorization.id, reference=reference)

    assert payment_lookup(reference=reference).status == "voided"
    with pytest.raises(PaymentRejected) as rejected:
        payment_capture(authorization_id=authorization.id, amount=Decimal("1"), reference=reference)
    assert rejected.value.gateway_error == "authorization_voided"


def test_a_reference_the_gateway_never_saw_is_none(reference):
    assert payment_lookup(reference=reference) == PaymentState(
        status="none", authorization_id=None, captured_amount=Decimal(0)
    )


def test_a_decline_is_payment_declined_and_never_retried(upstream_simulator, reference):
    with pytest.raises(PaymentDeclined) as declined:
        authorize(reference, token="tok_decline")

    assert (declined.value.code, declined.value.status) == ("payment_declined", 402)
    assert upstream_simulator.stats("payment")["requests"] == 1


def test_a_reused_reference_with_another_amount_is_rejected_and_never_retried(
    upstream_simulator, reference
):
    authorize(reference, amount="10.00")

    with pytest.raises(PaymentRejected) as rejected:
        authorize(reference, amount="20.00")

    assert (rejected.value.gateway_status, rejected.value.gateway_error) == (
        422,
        "idempotency_key_reused",
    )
    assert upstream_simulator.stats("payment")["requests"] == 2


def test_capturing_more_than_authorized_is_rejected(reference):
    authorization = authorize(reference, amount="10.00")

    with pytest.raises(PaymentRejected):
        payment_capture(
            authorization_id=authorization.id, amount=Decimal("10.01"), reference=reference
        )


def test_errors_are_retried_three_times_then_unavailable(upstream_simulator, reference):
    upstream_simulator.set_fault("payment", error_rate=1)

    with pytest.raises(PaymentUnavailable) as unavailable:
        authorize(reference)

    assert (unavailable.value.code, unavailable.value.status) == ("payment_unavailable", 503)
    assert upstream_simulator.stats("payment") == {"requests": 3, "error": 3}


def test_a_recovering_gateway_is_retried_until_it_answers(upstream_simulator, reference):
    upstream_simulator.set_fault("payment", fail_next=2)

    authorization = authorize(reference)

    assert payment_lookup(reference=reference).authorization_id == authorization.id
    assert upstream_simulator.stats("payment") == {"requests": 4, "error": 2, "served": 2}


def test_resets_are_retried_then_unavailable(upstream_simulator, reference):
    upstream_simulator.set_fault("payment", reset_rate=1)

    with pytest.raises(PaymentUnavailable):
        authorize(reference)

    assert upstream_simulator.stats("payment") == {"requests": 3, "reset": 3}


def test_a_gateway_that_is_down_fails_fast(upstream_simulator, reference):
    upstream_simulator.set_fault("payment", down=True)

    with pytest.raises(PaymentUnavailable):
        authorize(reference)

    # Three immediate 503s, then it gives up: no waiting for a timeout.
    assert upstream_simulator.stats("payment") == {"requests": 3, "down": 3}


def test_a_refused_connection_fails_fast(settings, reference):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings.INTEGRATIONS_UPSTREAM_URL = f"http://127.0.0.1:{closed_port}"

    with pytest.raises(PaymentUnavailable):
        authorize(reference)


@pytest.mark.usefixtures("short_timeout")
def test_a_hanging_gateway_is_a_timeout_within_the_budget_and_charges_nothing(
    upstream_simulator, reference
):
    upstream_simulator.set_fault("payment", hang=True)

    with pytest.raises(PaymentTimeout):
        authorize(reference)

    # Every attempt hung; a retry starts only while the budget has room for one, which
    # depends on how fast this machine noticed the first timeout: at most two fit.
    stats = upstream_simulator.stats("payment")
    assert set(stats) == {"requests", "hang"}
    assert stats["hang"] == stats["requests"] <= 2
    upstream_simulator.reset()
    assert payment_lookup(reference=reference).status == "none"


@pytest.mark.usefixtures("short_timeout")
def test_a_lost_answer_is_a_timeout_and_reconciliation_finds_the_charge(reference):
    with pytest.raises(PaymentTimeout):
        authorize(reference, token="tok_timeout")

    state = payment_lookup(reference=reference)
    assert (state.status, state.captured_amount) == ("captured", Decimal("19.90"))


@pytest.mark.usefixtures("short_timeout")
def test_a_hanging_read_is_unavailable_not_a_timeout(upstream_simulator, reference):
    # A read changes nothing, so there is no unknown outcome to reconcile.
    upstream_simulator.set_fault("payment", hang=True)

    with pytest.raises(PaymentUnavailable):
        payment_lookup(reference=reference)


@pytest.mark.usefixtures("short_timeout")
def test_a_slow_drip_is_cut_off_at_the_budget(upstream_simulator, reference):
    # Each piece arrives within the read timeout; the whole would take 5 s.
    upstream_simulator.set_fault("payment", drip_ms=5000)

    with pytest.raises(PaymentTimeout):
        authorize(reference)


def test_latency_below_the_timeout_is_waited_for(upstream_simulator, reference):
    upstream_simulator.set_fault("payment", latency_ms=[50, 100])

    assert authorize(reference).reference == reference
    assert upstream_simulator.stats("payment") == {"requests": 1, "served": 1}
