"""The simulated payment gateway's API: idempotency, capture rules, void, reconciliation reads."""

import uuid

import httpx
import pytest


@pytest.fixture
def gateway(upstream_simulator):
    with httpx.Client(base_url=upstream_simulator.url, timeout=5) as client:
        yield client


@pytest.fixture
def reference():
    return f"test-{uuid.uuid4().hex[:12]}"


def authorize(gateway, reference, *, token="tok_ok", amount="19.90", key=None):
    return gateway.post(
        "/payment/authorizations",
        json={"token": token, "amount": amount, "currency": "EUR", "reference": reference},
        headers={"Idempotency-Key": key or f"{reference}:authorize"},
    )


def capture(gateway, authorization_id, *, amount, key):
    return gateway.post(
        f"/payment/authorizations/{authorization_id}/capture",
        json={"amount": amount},
        headers={"Idempotency-Key": key},
    )


def test_authorization_is_created_and_replayed_for_the_same_key_and_body(gateway, reference):
    first = authorize(gateway, reference)
    again = authorize(gateway, reference)

    assert first.status_code == 201
    assert first.json() == {
        "id": first.json()["id"],
        "status": "authorized",
        "amount": "19.90",
        "currency": "EUR",
        "reference": reference,
    }
    assert (again.status_code, again.json()) == (201, first.json())
    payments = gateway.get("/payment/payments", params={"reference": reference}).json()
    assert [p["status"] for p in payments["payments"]] == ["authorized"]


def test_the_same_key_with_a_different_body_is_refused(gateway, reference):
    authorize(gateway, reference, amount="19.90")

    reused = authorize(gateway, reference, amount="99.00")

    assert (reused.status_code, reused.json()) == (422, {"error": "idempotency_key_reused"})
    assert (
        len(gateway.get("/payment/payments", params={"reference": reference}).json()["payments"])
        == 1
    )


def test_writes_without_an_idempotency_key_are_refused(gateway, reference):
    response = gateway.post(
        "/payment/authorizations",
        json={"token": "tok_ok", "amount": "1.00", "currency": "EUR", "reference": reference},
    )

    assert (response.status_code, response.json()) == (400, {"error": "idempotency_key_required"})


@pytest.mark.parametrize("amount", ["0", "-1.00", "1.001", "NaN", "abc", 12])
def test_amounts_must_be_positive_decimal_strings(gateway, reference, amount):
    response = authorize(gateway, reference, amount=amount)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_a_declined_card_is_402_and_leaves_no_payment(gateway, reference):
    response = authorize(gateway, reference, token="tok_decline")

    assert (response.status_code, response.json()) == (402, {"error": "card_declined"})
    assert gateway.get("/payment/payments", params={"reference": reference}).json() == {
        "payments": []
    }


def test_capture_is_once_per_key_and_listed_for_the_audit(gateway, reference):
    authorization_id = authorize(gateway, reference).json()["id"]

    first = capture(gateway, authorization_id, amount="19.90", key=f"{reference}:capture")
    again = capture(gateway, authorization_id, amount="19.90", key=f"{reference}:capture")
    other_key = capture(gateway, authorization_id, amount="19.90", key=f"{reference}:other")

    assert first.status_code == 200
    assert first.json()["status"] == "captured"
    assert first.json()["captured_amount"] == "19.90"
    assert again.json() == first.json()
    assert (other_key.status_code, other_key.json()) == (409, {"error": "already_captured"})
    captures = gateway.get("/payment/captures").json()["captures"]
    assert [
        (c["reference"], c["captured_amount"]) for c in captures if c["reference"] == reference
    ] == [(reference, "19.90")]


def test_capture_never_exceeds_the_authorized_amount(gateway, reference):
    authorization_id = authorize(gateway, reference, amount="10.00").json()["id"]

    too_much = capture(gateway, authorization_id, amount="10.01", key=f"{reference}:capture-1")
    partial = capture(gateway, authorization_id, amount="7.50", key=f"{reference}:capture-2")

    assert (too_much.status_code, too_much.json()) == (
        422,
        {"error": "amount_exceeds_authorization"},
    )
    assert partial.json()["captured_amount"] == "7.50"


def test_void_releases_an_authorization_which_then_cannot_be_captured(gateway, reference):
    authorization_id = authorize(gateway, reference).json()["id"]

    voided = gateway.post(f"/payment/authorizations/{authorization_id}/void")
    twice = gateway.post(f"/payment/authorizations/{authorization_id}/void")
    late = capture(gateway, authorization_id, amount="19.90", key=f"{reference}:capture")

    assert voided.json() == {"id": authorization_id, "status": "voided"}
    assert twice.status_code == 200
    assert (late.status_code, late.json()) == (409, {"error": "authorization_voided"})


def test_a_captured_authorization_cannot_be_voided(gateway, reference):
    authorization_id = authorize(gateway, reference).json()["id"]
    capture(gateway, authorization_id, amount="19.90", key=f"{reference}:capture")

    response = gateway.post(f"/payment/authorizations/{authorization_id}/void")

    assert (response.status_code, response.json()) == (409, {"error": "already_captured"})


def test_tok_timeout_charges_but_its_answer_is_lost(gateway, reference):
    with pytest.raises(httpx.ReadTimeout):
        gateway.post(
            "/payment/authorizations",
            json={
                "token": "tok_timeout",
                "amount": "5.00",
                "currency": "EUR",
                "reference": reference,
            },
            headers={"Idempotency-Key": f"{reference}:authorize"},
            timeout=0.5,
        )

    [payment] = gateway.get("/payment/payments", params={"reference": reference}).json()["payments"]
    assert (payment["status"], payment["captured_amount"]) == ("captured", "5.00")
