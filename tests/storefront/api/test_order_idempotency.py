"""Idempotency-Key semantics on POST /api/v1/orders/ (Stripe / IETF draft)."""

from datetime import timedelta

from django.utils import timezone

from checkout.idempotency import idempotency_records_purge, request_fingerprint
from checkout.interface import orders_reconcile
from checkout.models import IdempotencyRecord, Order
from storefront.api.serializers import OrderCreateSerializer
from tests.storefront.api.conftest import assert_error
from tests.storefront.api.test_orders import filled_cart, order_body, place  # noqa: F401


def test_same_key_same_body_replays_status_and_body(api, filled_cart):  # noqa: F811
    first = place(api, order_body(filled_cart), key="k-1")
    again = place(api, order_body(filled_cart), key="k-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1


def test_a_stored_decline_is_replayed_not_retried(api, filled_cart):  # noqa: F811
    body = order_body(filled_cart, payment_token="tok_decline")

    first = place(api, body, key="k-2")
    again = place(api, body, key="k-2")

    assert_error(first, 402, "payment_declined")
    assert again.json() == first.json()
    assert again.status_code == 402
    assert Order.objects.count() == 1


def test_same_key_with_another_body_is_422(api, filled_cart):  # noqa: F811
    place(api, order_body(filled_cart), key="k-3")

    response = place(api, order_body(filled_cart, email="someone@else.example"), key="k-3")

    assert_error(response, 422, "idempotency_key_reused")


def test_keys_are_scoped_to_the_cart(api, filled_cart, cart_token, sku):  # noqa: F811
    other_cart = api.post("/api/v1/carts/").json()["token"]
    api.post(f"/api/v1/carts/{other_cart}/lines/", {"sku": sku, "quantity": 1}, format="json")

    first = place(api, order_body(filled_cart), key="shared-key")
    second = place(api, order_body(other_cart), key="shared-key")

    assert first.status_code == second.status_code == 201
    assert first.json()["number"] != second.json()["number"]


def claim_key(cart_token, key, body, *, lease_seconds):
    """Leave a key claimed as the view would, as if its request were still running."""
    serializer = OrderCreateSerializer(data=body)
    assert serializer.is_valid(), serializer.errors
    IdempotencyRecord.objects.create(
        scope=f"cart:{cart_token}",
        key=key,
        fingerprint=request_fingerprint(serializer.validated_data),
        locked_until=timezone.now() + timedelta(seconds=lease_seconds),
        expires_at=timezone.now() + timedelta(days=1),
    )


def test_a_request_in_flight_answers_409(api, filled_cart):  # noqa: F811
    body = order_body(filled_cart)
    claim_key(filled_cart, "busy", body, lease_seconds=60)

    response = place(api, body, key="busy")

    assert_error(response, 409, "idempotency_request_in_flight")
    assert not Order.objects.exists()


def test_a_key_whose_request_died_can_be_retried_after_its_lease(api, filled_cart):  # noqa: F811
    body = order_body(filled_cart)
    claim_key(filled_cart, "crashed", body, lease_seconds=-1)

    response = place(api, body, key="crashed")

    assert response.status_code == 201
    assert IdempotencyRecord.objects.get(key="crashed").state == "completed"


def test_expired_records_are_purged(api, filled_cart):  # noqa: F811
    place(api, order_body(filled_cart), key="old")
    place(api, order_body(filled_cart), key="new")
    IdempotencyRecord.objects.filter(key="old").update(expires_at=timezone.now())

    assert idempotency_records_purge() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


# Retries after an outcome that is not final: answered again, never a failed order as 201.


def test_a_retry_after_payments_were_down_makes_a_new_attempt(api, filled_cart, upstream_simulator):  # noqa: F811
    body = order_body(filled_cart)
    upstream_simulator.set_fault("payment", down=True)
    first = place(api, body, key="k-503")
    upstream_simulator.reset()

    again = place(api, body, key="k-503")

    assert_error(first, 503, "payment_unavailable")
    assert again.status_code == 201, again.json()
    assert again.json()["status"] == "paid"
    assert again["Location"] == f"/api/v1/orders/{again.json()['number']}/"
    attempts = dict(Order.objects.values_list("status", "number"))
    assert set(attempts) == {"payment_failed", "paid"}
    assert attempts["paid"] == again.json()["number"]


def test_a_retry_while_payments_are_still_down_is_503_again(api, filled_cart, upstream_simulator):  # noqa: F811
    body = order_body(filled_cart)
    upstream_simulator.set_fault("payment", down=True)

    answers = [place(api, body, key="k-down") for _ in range(3)]

    for answer in answers:
        assert_error(answer, 503, "payment_unavailable")
        assert "Location" not in answer
    assert set(Order.objects.values_list("status", flat=True)) == {"payment_failed"}


def test_a_retry_after_503_with_another_body_is_422(api, filled_cart, upstream_simulator):  # noqa: F811
    upstream_simulator.set_fault("payment", down=True)
    place(api, order_body(filled_cart), key="k-503-other")
    upstream_simulator.reset()

    response = place(api, order_body(filled_cart, email="else@example.com"), key="k-503-other")

    assert_error(response, 422, "idempotency_key_reused")
    assert not Order.objects.filter(status="paid").exists()


def test_a_decline_is_replayed_as_402_even_once_its_record_is_gone(api, filled_cart):  # noqa: F811
    body = order_body(filled_cart, payment_token="tok_decline")
    place(api, body, key="k-gone")
    IdempotencyRecord.objects.all().delete()  # purged after its retention

    again = place(api, body, key="k-gone")

    assert_error(again, 402, "payment_declined")
    assert list(Order.objects.values_list("status", flat=True)) == ["payment_declined"]


def test_a_pending_order_is_read_again_on_retry_not_replayed_stale(
    api,
    filled_cart,  # noqa: F811
    upstream_simulator,
    settings,
):
    # given an order left pending by a gateway that hung, and then released by
    # reconciliation because no charge was made
    settings.INTEGRATIONS_PAYMENT_TIMEOUT = 0.2
    body = order_body(filled_cart)
    upstream_simulator.set_fault("payment", hang=True)
    pending = place(api, body, key="k-pending")
    upstream_simulator.reset()
    still_pending = place(api, body, key="k-pending")
    report = orders_reconcile(older_than=timedelta(0))

    # when the client retries with the same key
    again = place(api, body, key="k-pending")

    # then the retry is a new attempt, never the stale "created" answer
    assert pending.status_code == 201
    assert pending.json()["status"] == "pending_payment"
    assert still_pending.json()["number"] == pending.json()["number"]
    assert report.released == 1
    assert again.status_code == 201
    assert again.json()["status"] == "paid"
    assert again.json()["number"] != pending.json()["number"]
    assert Order.objects.get(number=pending.json()["number"]).status == "payment_failed"


def test_no_retry_ever_answers_201_for_a_failed_order(api, filled_cart, upstream_simulator):  # noqa: F811
    body = order_body(filled_cart)
    upstream_simulator.set_fault("payment", down=True)
    answers = [place(api, body, key="k-never") for _ in range(2)]
    upstream_simulator.reset()
    answers += [place(api, body, key="k-never") for _ in range(2)]

    created = [answer.json() for answer in answers if answer.status_code == 201]
    assert created
    assert all(order["status"] == "paid" for order in created)
    assert len({order["number"] for order in created}) == 1
    assert Order.objects.filter(status="paid").count() == 1
