"""Payments and ERP bookings: every injected capture and lost export is found, the
exports are sent again within policy, and money differences become exceptions."""

import pytest

from checkout.interface import ShippingAddress, cart_add_line, cart_create, order_place
from checkout.models import Order, OutboxMessage
from integrations.interface import drift_inject
from reconciliation.interface import reconcile
from reconciliation.models import DataException

pytestmark = pytest.mark.django_db

ADDRESS = ShippingAddress(
    name="Ada Lovelace", line1="1 Analytical Way", city="London", postal_code="N1", country="gb"
)


@pytest.fixture
def paid_orders(agreed_store, django_capture_on_commit_callbacks, settings):
    """Twenty paid orders, each captured at the gateway and booked by the ERP."""
    settings.RECONCILIATION_POLICY = {
        **settings.RECONCILIATION_POLICY,
        "orders": {"max_repairs": 50},
    }
    skus = list(
        Order._meta.apps.get_model("catalog", "Variant")
        .objects.order_by("pk")
        .values_list("sku", flat=True)
    )
    in_stock = [sku for sku in skus if _on_hand(sku) >= 3][:20]
    for index, sku in enumerate(in_stock):
        token = cart_create()
        cart_add_line(token=token, sku=sku, quantity=1)
        with django_capture_on_commit_callbacks(execute=True):
            order_place(
                cart_token=token,
                idempotency_key=f"order-{index}",
                email="ada@example.com",
                shipping_address=ADDRESS,
                shipping_method="standard",
                payment_token="tok_ok",
            )
    assert Order.objects.filter(status="paid").count() == 20
    return agreed_store


def _on_hand(sku):
    from inventory.interface import stock_levels
    from tests.reconciliation.conftest import variant_id_of

    level = stock_levels(variant_ids=[variant_id_of(sku)]).get(variant_id_of(sku))
    return level.on_hand if level else 0


def test_orders_that_agree_leave_nothing_to_reconcile(paid_orders):
    for routine in ("payments", "orders"):
        run = reconcile(routine=routine)

        assert (run.status, run.differences) == ("finished", 0)


def test_payment_drift_is_found_in_full_and_opened_one_exception_each(paid_orders):
    injected = drift_inject("payment-captures", 0.05)["injected"]

    run = reconcile(routine="payments")
    again = reconcile(routine="payments")

    assert run.differences == len(injected) == 2  # one missing, one unknown
    assert run.repaired == 0  # money moves only when a person decides
    expected = {
        ("payment.missing_capture", f"order:{d['key']}")
        if d["change"] == "missing"
        else ("payment.unknown_capture", f"capture:{d['key']}")
        for d in injected
    }
    assert set(DataException.objects.values_list("kind", "entity")) == expected
    assert again.exceptions_opened == 0
    assert DataException.objects.count() == 2


def test_a_lost_erp_booking_is_found_and_sent_again(
    paid_orders, django_capture_on_commit_callbacks
):
    injected = drift_inject("erp-orders", 0.05)["injected"]
    lost = {d["key"] for d in injected}

    with django_capture_on_commit_callbacks(execute=True):
        run = reconcile(routine="orders")

    assert run.differences == len(lost) == 1
    assert run.repaired == 1
    for number in lost:
        assert paid_orders.erp_orders(reference=number) != []
    assert reconcile(routine="orders").differences == 0


def test_an_export_still_in_the_outbox_is_not_a_difference(paid_orders):
    drift_inject("erp-orders", 0.05)
    OutboxMessage.objects.filter(topic="order.erp_export").update(delivered_at=None)

    run = reconcile(routine="orders")

    assert (run.compared, run.differences) == (0, 0)


def test_dead_letters_appear_in_the_queue(paid_orders):
    OutboxMessage.objects.filter(topic="order.confirmation_email").update(
        dead_at="2026-01-01T00:00:00Z", last_error="smtp refused"
    )

    run = reconcile(routine="orders")

    assert run.by_classification == {"stale": 20}
    assert DataException.objects.filter(kind="outbox.dead_letter").count() == 20


def test_the_order_audit_lists_what_an_open_exception_owns_as_known_until_it_closes(paid_orders):
    from checkout.audit import orders_audit

    drift_inject("payment-captures", 0.05)
    before = orders_audit()
    reconcile(routine="payments")

    during = orders_audit()
    DataException.objects.update(state=DataException.State.RESOLVED)
    after = orders_audit()

    assert len(before.findings) == 2
    assert not before.acknowledged
    assert during.ok
    assert set(during.acknowledged) == set(before.findings)
    assert set(after.findings) == set(before.findings)
    assert not after.acknowledged
