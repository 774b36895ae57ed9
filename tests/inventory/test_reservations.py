from datetime import timedelta

import pytest
from django.utils import timezone

from checkout.interface import cart_add_line, cart_create, cart_remove_line, cart_view
from inventory.interface import (
    InsufficientStock,
    availability_for_variants,
    stock_reservations_purge,
)
from inventory.models import Reservation
from tests.factories import stocked_product


@pytest.fixture
def hot_sku(db):
    return stocked_product(stock=5).variants.get()


def test_a_cart_holds_what_it_added_and_others_see_less(hot_sku):
    holder = cart_create()
    cart_add_line(token=holder, sku=hot_sku.sku, quantity=3)

    assert availability_for_variants(variant_ids=[hot_sku.pk]) == {hot_sku.pk: 2}
    assert cart_view(token=holder).lines[0].available == 5
    with pytest.raises(InsufficientStock) as error:
        cart_add_line(token=cart_create(), sku=hot_sku.sku, quantity=3)
    assert error.value.details == {"available": {hot_sku.sku: 2}}


def test_removing_a_line_lets_its_units_go(hot_sku):
    holder = cart_create()
    line = cart_add_line(token=holder, sku=hot_sku.sku, quantity=5).lines[0]

    cart_remove_line(token=holder, line_id=line.id)

    assert availability_for_variants(variant_ids=[hot_sku.pk]) == {hot_sku.pk: 5}


def test_a_bot_holding_many_carts_cannot_keep_stock_past_the_ttl(hot_sku):
    # given bot carts that took every unit
    for _ in range(5):
        cart_add_line(token=cart_create(), sku=hot_sku.sku, quantity=1)
    buyer = cart_create()
    with pytest.raises(InsufficientStock):
        cart_add_line(token=buyer, sku=hot_sku.sku, quantity=1)

    # when their reservations expire (nobody touched the carts)
    Reservation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    # then a real buyer gets the unit, and the purge removes the dead rows
    cart_add_line(token=buyer, sku=hot_sku.sku, quantity=1)
    assert stock_reservations_purge() == 5
    assert Reservation.objects.count() == 1


def test_cart_activity_renews_every_reservation_of_the_cart(hot_sku, settings):
    other = stocked_product(stock=5).variants.get()
    holder = cart_create()
    cart_add_line(token=holder, sku=hot_sku.sku, quantity=1)
    Reservation.objects.update(expires_at=timezone.now() + timedelta(seconds=5))

    cart_add_line(token=holder, sku=other.sku, quantity=1)

    expiries = Reservation.objects.values_list("expires_at", flat=True)
    min_expiry = timezone.now() + timedelta(seconds=settings.INVENTORY_RESERVATION_TTL - 60)
    assert all(expiry > min_expiry for expiry in expiries)


def test_ttl_zero_turns_reservations_off(hot_sku, settings):
    settings.INVENTORY_RESERVATION_TTL = 0

    cart_add_line(token=cart_create(), sku=hot_sku.sku, quantity=5)

    assert not Reservation.objects.exists()
    assert availability_for_variants(variant_ids=[hot_sku.pk]) == {hot_sku.pk: 5}
