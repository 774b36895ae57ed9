from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone
from kombu.exceptions import OperationalError

from checkout.interface import ShippingAddress, cart_add_line, cart_create, order_place
from checkout.models import Order, OutboxMessage
from checkout.outbox import (
    outbox_deliver,
    outbox_publish,
    outbox_undelivered_ids,
    publish_failures,
    retry_delay,
)
from checkout.services import orders_reconcile
from integrations.interface import PaymentDeclined
from inventory.models import Stock
from tests.factories import stocked_product

ADDRESS = ShippingAddress(
    name="Ada Lovelace",
    line1="1 Analytical Way",
    city="London",
    postal_code="N1 7AA",
    country="GB",
)


def buy(sku, *, payment_token="tok_ok"):
    token = cart_create()
    cart_add_line(token=token, sku=sku, quantity=1)
    return order_place(
        cart_token=token,
        idempotency_key="k",
        email="ada@example.com",
        shipping_address=ADDRESS,
        shipping_method="standard",
        payment_token=payment_token,
    )


@pytest.fixture
def sku_value(db):
    return stocked_product(stock=10).variants.get().sku


def make_due(message):
    """Skip a failed message's retry delay."""
    OutboxMessage.objects.filter(pk=message.pk).update(claimed_until=None)


def test_a_paid_order_writes_two_outbox_messages_delivered_after_commit(
    sku_value, django_capture_on_commit_callbacks, upstream_simulator
):
    with django_capture_on_commit_callbacks(execute=True):
        order = buy(sku_value)

    messages = OutboxMessage.objects.order_by("topic")
    assert [m.topic for m in messages] == ["order.confirmation_email", "order.erp_export"]
    assert all(m.delivered_at is not None for m in messages)
    assert len(mail.outbox) == 1
    assert (
        mail.outbox[0]
        .extra_headers["Message-ID"]
        .startswith(f"<order.confirmation_email:{order.number}@")
    )
    assert [export["reference"] for export in upstream_simulator.erp_orders()] == [order.number]


def test_a_message_is_delivered_once_however_often_it_is_handed_out(sku_value, upstream_simulator):
    order = buy(sku_value)
    message = OutboxMessage.objects.get(topic="order.erp_export")

    delivered = [outbox_deliver(message_id=message.pk) for _ in range(3)]

    assert delivered == [True, False, False]
    # the ERP's acknowledgement is recorded on the order
    assert Order.objects.get(number=order.number).erp_booked_at is not None
    assert upstream_simulator.erp_orders(reference=order.number) != []
    assert len(upstream_simulator.erp_orders()) == 1


def test_a_failed_delivery_is_kept_for_retry_and_recorded(sku_value, upstream_simulator):
    buy(sku_value)
    message = OutboxMessage.objects.get(topic="order.erp_export")
    upstream_simulator.set_fault("erp", down=True)

    with pytest.raises(Exception, match="erp"):
        outbox_deliver(message_id=message.pk)

    message.refresh_from_db()
    assert Order.objects.get().erp_booked_at is None
    assert message.delivered_at is None
    assert message.attempts == 1
    assert "erp" in message.last_error
    # not due again before its retry delay, whoever asks
    upstream_simulator.reset()
    assert message.claimed_until >= timezone.now() + retry_delay(1) - timedelta(seconds=5)
    assert not outbox_deliver(message_id=message.pk)
    assert outbox_undelivered_ids(older_than=timedelta(0)) == [
        OutboxMessage.objects.get(topic="order.confirmation_email").pk
    ]
    make_due(message)
    assert outbox_deliver(message_id=message.pk)


def test_lost_deliveries_are_found_by_the_sweep(sku_value):
    buy(sku_value)

    assert len(outbox_undelivered_ids(older_than=timedelta(0))) == 2
    assert outbox_undelivered_ids(older_than=timedelta(hours=1)) == []


def audit_output(*args: str) -> tuple[bool, str]:
    out = StringIO()
    try:
        call_command("audit_orders", *args, stdout=out)
    except CommandError:
        return False, out.getvalue()
    return True, out.getvalue()


def test_audit_is_clean_after_paid_declined_and_pending_orders(sku_value, settings):
    settings.INTEGRATIONS_PAYMENT_TIMEOUT = 0.3
    buy(sku_value)
    with pytest.raises(PaymentDeclined):
        buy(sku_value, payment_token="tok_decline")
    assert buy(sku_value, payment_token="tok_timeout").status == "pending_payment"

    clean, output = audit_output()

    assert clean, output
    assert "1 paid orders" in " ".join(output.split())
    assert "1 pending orders" in " ".join(output.split())


def test_audit_fails_on_a_ledger_that_does_not_add_up(sku_value):
    buy(sku_value)
    Stock.objects.update(on_hand=999)

    clean, output = audit_output()

    assert not clean
    assert "stock ledger" in output


def test_audit_fails_on_an_order_paid_without_a_capture(sku_value, upstream_simulator):
    order = buy(sku_value)
    upstream_simulator.forget()

    clean, output = audit_output()

    assert not clean
    assert f"{order.number}: paid without a capture" in output


def test_audit_since_checks_only_the_payments_of_later_orders(sku_value, upstream_simulator):
    # given an order paid without a capture (its gateway record lost), placed an hour ago
    earlier = buy(sku_value)
    upstream_simulator.forget()
    Order.objects.filter(number=earlier.number).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    # and one placed now whose capture does not match its total
    later = buy(sku_value)
    Order.objects.filter(number=later.number).update(total=1)

    clean, output = audit_output("--since", "30m")
    since = (timezone.now() - timedelta(minutes=30)).replace(tzinfo=None).isoformat()
    clean_iso, output_iso = audit_output("--since", since)
    clean_all, output_all = audit_output()

    assert not clean
    assert not clean_iso
    for text in (output, output_iso):
        assert f"{later.number}: captured" in text
        assert earlier.number not in text
    assert not clean_all
    assert f"{earlier.number}: paid without a capture" in output_all


def test_reconciliation_since_settles_only_orders_placed_since_then(sku_value, settings):
    settings.INTEGRATIONS_PAYMENT_TIMEOUT = 0.3
    earlier = buy(sku_value, payment_token="tok_timeout")
    Order.objects.filter(number=earlier.number).update(
        created_at=timezone.now() - timedelta(hours=1)
    )
    later = buy(sku_value, payment_token="tok_timeout")

    report = orders_reconcile(older_than=timedelta(0), since=timezone.now() - timedelta(minutes=5))

    assert report.paid == 1
    assert Order.objects.get(number=later.number).status == Order.Status.PAID
    assert Order.objects.get(number=earlier.number).status == Order.Status.PENDING_PAYMENT


def test_audit_since_refuses_what_is_not_a_time(db):
    with pytest.raises(CommandError, match="ISO 8601 time or an age"):
        call_command("audit_orders", "--since", "yesterday", stdout=StringIO())


def test_audit_fails_when_the_capture_differs_from_the_order_total(sku_value):
    order = buy(sku_value)
    Order.objects.filter(number=order.number).update(total=1)

    clean, output = audit_output()

    assert not clean
    assert f"{order.number}: captured {order.total} of 1.00" in output


def test_audit_fails_on_a_cart_that_became_two_live_orders(sku_value):
    # given two paid orders, each captured once, that came from one cart (a double
    # submit the idempotency guards did not stop)
    first, second = buy(sku_value), buy(sku_value)
    cart_token = Order.objects.get(number=first.number).cart_token
    Order.objects.filter(number=second.number).update(cart_token=cart_token, idempotency_key="k2")

    clean, output = audit_output()

    assert not clean
    assert f"cart {cart_token[:8]}: 2 live orders for one cart" in output


def test_audit_fails_on_an_order_stuck_pending(sku_value, settings):
    settings.INTEGRATIONS_PAYMENT_TIMEOUT = 0.3
    order = buy(sku_value, payment_token="tok_timeout")
    Order.objects.filter(number=order.number).update(created_at=timezone.now() - timedelta(hours=1))

    clean, output = audit_output()

    assert not clean
    assert f"{order.number}: pending past the reconciliation window" in output


def test_a_paid_order_with_the_broker_down_is_paid_and_left_for_the_sweep(
    sku_value, django_capture_on_commit_callbacks, monkeypatch
):
    # given a broker that refuses every publish
    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("checkout.outbox.outbox_deliver_task.apply_async", refuse)
    failures_before = publish_failures._value.get()

    # when a buyer pays
    with django_capture_on_commit_callbacks(execute=True):
        order = buy(sku_value)

    # then the order is paid, nothing raised, and both side effects wait for the sweep
    assert order.status == "paid"
    assert publish_failures._value.get() == failures_before + 2
    assert len(outbox_undelivered_ids(older_than=timedelta(0))) == 2


def test_a_publish_is_one_attempt_without_retries(sku_value, monkeypatch):
    calls = []
    monkeypatch.setattr(
        "checkout.outbox.outbox_deliver_task.apply_async",
        lambda args, **options: calls.append((args, options)),
    )

    assert outbox_publish(42)
    assert calls == [((42,), {"retry": False})]


def fail_until_dead(message, upstream_simulator, attempts):
    upstream_simulator.set_fault("erp", down=True)
    for _ in range(attempts):
        make_due(message)
        with pytest.raises(Exception, match="erp"):
            outbox_deliver(message_id=message.pk)
    upstream_simulator.reset()
    message.refresh_from_db()


def test_a_message_that_keeps_failing_is_dead_lettered_and_shown_by_the_audit(
    sku_value, upstream_simulator, settings
):
    # given a message that failed as many times as allowed
    settings.CHECKOUT_OUTBOX_MAX_ATTEMPTS = 3
    buy(sku_value)
    message = OutboxMessage.objects.get(topic="order.erp_export")
    fail_until_dead(message, upstream_simulator, attempts=3)

    # then it is dead: never handed out again, by the sweep or a delivery
    assert message.dead_at is not None
    assert message.attempts == 3
    assert message.pk not in outbox_undelivered_ids(older_than=timedelta(0))
    make_due(message)
    assert not outbox_deliver(message_id=message.pk)
    assert upstream_simulator.erp_orders() == []
    # and the audit names it, with the way out
    clean, output = audit_output()
    assert not clean
    assert f"outbox: {message.dedupe_key}: dead-lettered after 3 attempts" in output
    assert f"outbox_requeue {message.pk}" in output


def test_a_dead_letter_requeued_is_delivered_by_the_sweep(sku_value, upstream_simulator, settings):
    settings.CHECKOUT_OUTBOX_MAX_ATTEMPTS = 2
    order = buy(sku_value)
    message = OutboxMessage.objects.get(topic="order.erp_export")
    fail_until_dead(message, upstream_simulator, attempts=2)
    listed = StringIO()
    call_command("outbox_requeue", stdout=listed)

    out = StringIO()
    call_command("outbox_requeue", str(message.pk), stdout=out)

    assert message.dedupe_key in listed.getvalue()
    assert "requeued 1 message(s)" in out.getvalue()
    message.refresh_from_db()
    assert (message.dead_at, message.attempts) == (None, 0)
    assert message.pk in outbox_undelivered_ids(older_than=timedelta(0))
    assert outbox_deliver(message_id=message.pk)
    assert [export["reference"] for export in upstream_simulator.erp_orders()] == [order.number]
    assert audit_output()[0]


def test_attempts_that_ended_unrecorded_still_count_toward_the_limit(sku_value, settings):
    # given a message whose last attempts were killed at the hard time limit
    settings.CHECKOUT_OUTBOX_MAX_ATTEMPTS = 3
    buy(sku_value)
    message = OutboxMessage.objects.get(topic="order.confirmation_email")
    OutboxMessage.objects.filter(pk=message.pk).update(attempts=3)

    # when it is handed out again
    delivered = outbox_deliver(message_id=message.pk)

    # then it is dead-lettered without running
    message.refresh_from_db()
    assert not delivered
    assert message.dead_at is not None
    assert "time limit" in message.last_error
    assert mail.outbox == []


def test_requeue_refuses_ids_with_all(db):
    with pytest.raises(CommandError, match="not both"):
        call_command("outbox_requeue", "1", "--all")


@pytest.mark.django_db
def test_the_backlog_counts_waiting_messages_and_its_oldest_age():
    from checkout.outbox import backlog, oldest_age, outbox_backlog_publish

    OutboxMessage.objects.create(topic="t", dedupe_key="t:1", payload={})
    OutboxMessage.objects.create(topic="t", dedupe_key="t:2", payload={}, dead_at=timezone.now())
    OutboxMessage.objects.create(
        topic="t", dedupe_key="t:3", payload={}, delivered_at=timezone.now()
    )
    OutboxMessage.objects.filter(dedupe_key="t:1").update(
        created_at=timezone.now() - timedelta(minutes=5)
    )

    assert outbox_backlog_publish() == 1
    assert backlog._value.get() == 1  # the gauge the dashboard and the alert read
    assert 299 <= oldest_age._value.get() <= 330
