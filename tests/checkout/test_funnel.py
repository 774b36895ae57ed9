"""The checkout funnel: each step once, when its write commits."""

import uuid

import pytest
from rest_framework.test import APIClient

from checkout.metrics import FunnelStep

FUNNEL = "peakstore_checkout_funnel_total"
ADDRESS = {"name": "Ada", "line1": "1 Way", "city": "London", "postal_code": "N1", "country": "gb"}


@pytest.fixture
def funnel(metric_delta):
    for step in FunnelStep:
        metric_delta.watch(FUNNEL, step=step.value)
    return lambda: {step.value: metric_delta(FUNNEL, step=step.value) for step in FunnelStep}


def _purchase(api, sku, *, payment_token="tok_ok", key=None):
    token = api.post("/api/v1/carts/").json()["token"]
    api.post(f"/api/v1/carts/{token}/lines/", {"sku": sku, "quantity": 1}, format="json")
    body = {"cart": token, "email": "a@example.com", "shipping_address": ADDRESS}
    headers = {"Idempotency-Key": key or str(uuid.uuid4())}
    order = api.post(
        "/api/v1/orders/", {**body, "payment_token": payment_token}, format="json", headers=headers
    )
    return order, body, headers


def test_a_completed_purchase_counts_each_step_once(
    sku, funnel, django_capture_on_commit_callbacks
):
    api = APIClient()
    with django_capture_on_commit_callbacks(execute=True):
        order, body, headers = _purchase(api, sku)
        # The buyer's client retries the same request: the same order, nothing counted.
        replay = api.post(
            "/api/v1/orders/", {**body, "payment_token": "tok_ok"}, format="json", headers=headers
        )

    assert order.status_code == 201
    assert replay.json()["number"] == order.json()["number"]
    assert funnel() == {
        "cart_created": 1,
        "line_added": 1,
        "checkout_started": 1,
        "order_placed": 1,
        "payment_declined": 0,
        "payment_failed": 0,
        "order_completed": 1,
    }


def test_a_declined_card_counts_a_decline_and_no_completion(
    sku, funnel, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order, _, _ = _purchase(APIClient(), sku, payment_token="tok_decline")

    assert order.status_code == 402
    counts = funnel()
    assert counts["order_placed"] == 1
    assert counts["payment_declined"] == 1
    assert counts["order_completed"] == 0


def test_nothing_counts_before_the_transaction_commits(sku, funnel):
    # Without running on-commit callbacks (the test's transaction never commits), the
    # steps are not counted: a rolled-back write is not a buyer's step.
    _purchase(APIClient(), sku)

    assert set(funnel().values()) == {0}
