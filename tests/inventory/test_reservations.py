from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from checkout.interface import cart_add_line, cart_create, cart_remove_line, cart_view
from inventory.interface import (
    InsufficientStock,
    ReservationLimit,
    availability_for_variants,
    stock_reservations_purge,
)
from inventory.models import Reservation
from tests.concurrency import run_concurrently
from tests.factories import stocked_product

LIFETIME = 30 * 60


@pytest.fixture(autouse=True)
def _lifetime(settings):
    settings.INVENTORY_RESERVATION_TTL = 15 * 60
    settings.INVENTORY_RESERVATION_MAX_LIFETIME = LIFETIME


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
    cart_add_line(token=holder, sku=hot_sku.sku, quantity=5)
    line = cart_view(token=holder).lines[0]

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

    # then a real buyer gets the unit
    cart_add_line(token=buyer, sku=hot_sku.sku, quantity=1)
    # and the purge removes the dead rows once they have been dead for a lifetime
    assert stock_reservations_purge() == 0
    Reservation.objects.exclude(holder=buyer).update(
        expires_at=timezone.now() - timedelta(seconds=LIFETIME + 1)
    )
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


def _held_since_moved_back(holder: str, seconds: int) -> None:
    """Pretend the cart's first hold happened `seconds` ago."""
    Reservation.objects.filter(holder=holder).update(
        held_since=timezone.now() - timedelta(seconds=seconds)
    )


def test_activity_renews_holds_only_until_the_lifetime_from_the_first_hold(hot_sku):
    other = stocked_product(stock=5).variants.get()
    holder = cart_create()
    cart_add_line(token=holder, sku=hot_sku.sku, quantity=1)
    _held_since_moved_back(holder, LIFETIME - 60)

    # the cart keeps busy: a new line, a changed quantity
    cart_add_line(token=holder, sku=other.sku, quantity=1)
    cart_add_line(token=holder, sku=hot_sku.sku, quantity=1)

    first = Reservation.objects.filter(holder=holder).order_by("held_since").first().held_since
    lifetime_ends = first + timedelta(seconds=LIFETIME)
    rows = Reservation.objects.filter(holder=holder)
    assert {row.held_since for row in rows} == {first}  # the new line inherits the clock
    assert all(row.expires_at <= lifetime_ends for row in rows)
    assert all(row.expires_at > timezone.now() for row in rows)


def test_a_cart_past_its_lifetime_keeps_its_lines_but_holds_nothing(hot_sku):
    holder = cart_create()
    cart_add_line(token=holder, sku=hot_sku.sku, quantity=2)
    _held_since_moved_back(holder, LIFETIME + 1)

    # activity after the lifetime: the add succeeds, the units are free for everyone
    cart_add_line(token=holder, sku=hot_sku.sku, quantity=1)

    assert cart_view(token=holder).lines[0].quantity == 3
    assert availability_for_variants(variant_ids=[hot_sku.pk]) == {hot_sku.pk: 5}
    cart_add_line(token=cart_create(), sku=hot_sku.sku, quantity=5)


def test_the_purge_keeps_a_cart_from_starting_its_clock_over(hot_sku, settings):
    holder = cart_create()
    cart_add_line(token=holder, sku=hot_sku.sku, quantity=1)
    _held_since_moved_back(holder, LIFETIME + 120)
    Reservation.objects.filter(holder=holder).update(
        expires_at=timezone.now() - timedelta(seconds=120)
    )

    stock_reservations_purge()
    cart_add_line(token=holder, sku=hot_sku.sku, quantity=1)

    assert availability_for_variants(variant_ids=[hot_sku.pk]) == {hot_sku.pk: 5}


def test_renewal_never_revives_a_hold_that_expired(hot_sku):
    other = stocked_product(stock=5).variants.get()
    holder = cart_create()
    cart_add_line(token=holder, sku=hot_sku.sku, quantity=5)
    Reservation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    taker = cart_create()
    cart_add_line(token=taker, sku=hot_sku.sku, quantity=5)  # the units went elsewhere

    cart_add_line(token=holder, sku=other.sku, quantity=1)

    expired = Reservation.objects.get(holder=holder, variant=hot_sku)
    assert expired.expires_at < timezone.now()
    assert availability_for_variants(variant_ids=[hot_sku.pk], holder=taker) == {hot_sku.pk: 5}


# One client's share of a SKU (INVENTORY_RESERVATION_MAX_SHARE, _SHARE_FLOOR).


@pytest.fixture
def big_sku(db, settings):
    settings.INVENTORY_RESERVATION_MAX_SHARE = 0.1
    settings.INVENTORY_RESERVATION_SHARE_FLOOR = 5
    return stocked_product(stock=100).variants.get()  # a client may hold 10


def test_one_client_holds_at_most_its_share_over_all_its_carts(big_sku):
    cart_add_line(token=cart_create(), sku=big_sku.sku, quantity=6, client="bot")

    second = cart_create()
    with pytest.raises(ReservationLimit) as refused:
        cart_add_line(token=second, sku=big_sku.sku, quantity=5, client="bot")

    assert refused.value.code == "reservation_limit"
    assert refused.value.status == 409
    assert refused.value.details == {"maximum": 10, "available": 4}
    cart_add_line(token=second, sku=big_sku.sku, quantity=4, client="bot")
    cart_add_line(token=cart_create(), sku=big_sku.sku, quantity=10, client="shopper")


def test_a_cart_without_a_client_is_capped_on_its_own(big_sku):
    token = cart_create()
    with pytest.raises(ReservationLimit):
        cart_add_line(token=token, sku=big_sku.sku, quantity=11)
    cart_add_line(token=token, sku=big_sku.sku, quantity=10)


def test_expired_holds_do_not_count_against_the_client(big_sku):
    cart_add_line(token=cart_create(), sku=big_sku.sku, quantity=10, client="shopper")
    Reservation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    cart_add_line(token=cart_create(), sku=big_sku.sku, quantity=10, client="shopper")


def test_the_floor_lets_anyone_hold_a_few_units_of_a_small_stock(hot_sku, settings):
    settings.INVENTORY_RESERVATION_MAX_SHARE = 0.1
    settings.INVENTORY_RESERVATION_SHARE_FLOOR = 5

    cart_add_line(token=cart_create(), sku=hot_sku.sku, quantity=5, client="shopper")

    assert availability_for_variants(variant_ids=[hot_sku.pk]) == {hot_sku.pk: 0}


@pytest.mark.django_db(transaction=True)
def test_racing_carts_of_one_client_never_pass_its_share(settings):
    if connection.vendor != "postgresql":
        pytest.skip("the race needs PostgreSQL's row locks (services profile); CI runs it")
    settings.INVENTORY_RESERVATION_MAX_SHARE = 0.1
    settings.INVENTORY_RESERVATION_SHARE_FLOOR = 5
    variant = stocked_product(stock=100).variants.get()
    tokens = [cart_create() for _ in range(30)]

    results = run_concurrently(
        lambda i: cart_add_line(token=tokens[i], sku=variant.sku, quantity=1, client="bot"),
        calls=30,
    )

    refused = [r for r in results if isinstance(r, ReservationLimit)]
    assert len(refused) == 20, Counter(type(r).__name__ for r in results)
    assert Reservation.objects.filter(client="bot").aggregate(Sum("quantity")) == {
        "quantity__sum": 10
    }
