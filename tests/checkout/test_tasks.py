"""Checkout's periodic tasks are bounded: time limits under their leases, and never two
runs at once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from checkout import outbox, tasks
from storefront.celery import app
from toolkit.models import Lease
from toolkit.once import one_at_a_time


@pytest.mark.django_db
def test_a_sweep_or_reconciliation_does_nothing_while_another_runs():
    with one_at_a_time("checkout.outbox_dispatch_pending", ttl=timedelta(minutes=1)):
        assert tasks.outbox_dispatch_pending() == -1
    with one_at_a_time("checkout.orders_reconcile_pending", ttl=timedelta(minutes=1)):
        assert tasks.orders_reconcile_pending() is None

    assert tasks.outbox_dispatch_pending() == 0
    assert tasks.orders_reconcile_pending() == {"paid": 0, "released": 0, "pending": 0}


def test_every_task_has_soft_and_hard_time_limits():
    assert 0 < app.conf.task_soft_time_limit < app.conf.task_time_limit
    for name in (
        "checkout.outbox.outbox_deliver_task",
        "checkout.tasks.outbox_dispatch_pending",
        "checkout.tasks.orders_reconcile_pending",
    ):
        task = app.tasks[name]
        assert 0 < task.soft_time_limit < task.time_limit, name


def test_a_deliverys_lease_outlasts_its_hard_time_limit():
    # A handler killed at the limit has let go before another worker may claim the message.
    delivery = app.tasks["checkout.outbox.outbox_deliver_task"]
    assert outbox.LEASE.total_seconds() > delivery.time_limit


@pytest.mark.django_db
def test_a_sweeps_lease_outlasts_its_hard_time_limit(monkeypatch):
    held = []

    def undelivered(**_):
        held.append(Lease.objects.get(name="checkout.outbox_dispatch_pending").held_until)
        return []

    monkeypatch.setattr(tasks, "outbox_undelivered_ids", undelivered)
    started = timezone.now()

    tasks.outbox_dispatch_pending()

    limit = timedelta(seconds=app.tasks["checkout.tasks.outbox_dispatch_pending"].time_limit)
    assert len(held) == 1
    assert held[0] > started + limit


def test_a_publish_from_a_request_is_bounded():
    # One connect gives up after 2 s; a failed publish is retried once (Celery's default
    # would retry three times); the outbox publishes with no retry at all.
    assert app.conf.broker_connection_timeout <= 2
    assert app.conf.task_publish_retry_policy["max_retries"] <= 1
