"""Stock levels follow the ERP, the system of record, without restocking unbooked sales."""

import pytest

from checkout.interface import ShippingAddress, cart_add_line, cart_create, order_place
from checkout.models import Order, OutboxMessage
from checkout.outbox import outbox_deliver
from integrations.interface import ErpUnavailable, erp_stock_levels
from inventory.caches import AVAILABILITY
from inventory.interface import (
    availability_for_variants,
    stock_allocate,
    stock_discrepancies,
    stock_levels,
    stock_sync_from_erp,
)
from inventory.models import StockMovement
from inventory.tasks import stock_sync_from_erp_task
from tests.factories import stocked_product
from toolkit.cache.owned import epoch_read


@pytest.fixture
def variants(db):
    product = stocked_product(variants=3, stock=500)
    return {v.pk: v.sku for v in product.variants.order_by("pk")}


def on_hand(variant_ids):
    return {v: level.on_hand for v, level in stock_levels(variant_ids=variant_ids).items()}


def test_a_sync_sets_on_hand_to_the_erps_and_writes_the_ledger(
    variants, django_capture_on_commit_callbacks
):
    booked = erp_stock_levels(skus=list(variants.values()))
    cached_before = availability_for_variants(variant_ids=list(variants))

    with django_capture_on_commit_callbacks(execute=True):
        changed = stock_sync_from_erp(variant_skus=variants)

    # the simulator's levels are at most 250, the store started with 500 of each
    assert changed == 3
    assert on_hand(list(variants)) == {v: booked[sku] for v, sku in variants.items()}
    assert StockMovement.objects.filter(reason="ERP stock sync").count() == 3
    assert stock_discrepancies() == []
    # the availability cache's entries for them were retired: it reads the new levels
    assert cached_before != {v: booked[sku] for v, sku in variants.items()}
    assert availability_for_variants(variant_ids=list(variants)) == {
        v: booked[sku] for v, sku in variants.items()
    }


def test_a_sync_that_changes_nothing_bumps_no_generation(
    variants, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        stock_sync_from_erp(variant_skus=variants)
    generations, epoch = AVAILABILITY.generations(), epoch_read()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        changed = stock_sync_from_erp(variant_skus=variants)

    assert changed == 0
    assert callbacks == []
    assert (AVAILABILITY.generations(), epoch_read()) == (generations, epoch)


def test_units_sold_but_not_yet_booked_by_the_erp_stay_off_the_shelf(variants):
    stock_sync_from_erp(variant_skus=variants)
    variant_id, sku = next((v, s) for v, s in variants.items() if on_hand([v])[v] >= 2)
    booked = on_hand([variant_id])[variant_id]
    # given a paid order of 2 units whose ERP export has not been delivered yet
    token = cart_create()
    cart_add_line(token=token, sku=sku, quantity=2)
    order = order_place(
        cart_token=token,
        idempotency_key="k",
        email="ada@example.com",
        shipping_address=ShippingAddress("Ada", "1 Way", "Berlin", "10115", "DE"),
        shipping_method="standard",
        payment_token="tok_ok",
    )
    assert order.status == "paid"

    # when the ERP (which has not booked it) is synced, the sale is not undone
    assert stock_sync_from_erp(variant_skus=variants) == 0
    assert on_hand([variant_id])[variant_id] == booked - 2

    # and once the export is delivered (the ERP books and ships the units, and
    # acknowledges), the ERP's own level agrees: nothing changes either
    message = OutboxMessage.objects.get(topic="order.erp_export")
    assert outbox_deliver(message_id=message.pk)
    assert Order.objects.get(number=order.number).erp_booked_at is not None
    assert stock_sync_from_erp(variant_skus=variants) == 0
    assert on_hand([variant_id])[variant_id] == booked - 2


def test_on_hand_never_drops_below_what_orders_hold(variants, monkeypatch):
    variant_id = next(iter(variants))
    monkeypatch.setattr(
        "inventory.services.erp_stock_levels", lambda *, skus: dict.fromkeys(skus, 0)
    )
    stock_allocate(quantities={variant_id: 3}, reference="PS-HELD")

    stock_sync_from_erp(variant_skus=variants)

    level = stock_levels(variant_ids=[variant_id])[variant_id]
    assert (level.on_hand, level.allocated) == (3, 3)
    assert stock_discrepancies() == []


def test_the_task_walks_the_catalog_in_batches(variants, settings):
    settings.INVENTORY_ERP_SYNC_BATCH = 2

    assert stock_sync_from_erp_task() == {"checked": 3, "changed": 3}
    assert stock_sync_from_erp_task() == {"checked": 3, "changed": 0}


def test_an_erp_that_is_down_changes_nothing(variants, upstream_simulator):
    upstream_simulator.set_fault("erp", down=True)

    with pytest.raises(ErpUnavailable):
        stock_sync_from_erp(variant_skus=variants)

    assert set(on_hand(list(variants)).values()) == {500}
