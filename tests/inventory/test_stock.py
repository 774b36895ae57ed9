import pytest
from django.db import IntegrityError, transaction
from django.db.models import Sum

from inventory.interface import (
    InsufficientStock,
    InvalidStockChange,
    StockReceipt,
    availability_for_variants,
    stock_adjust,
    stock_allocate,
    stock_levels,
    stock_receive,
    stock_release,
    stock_reserve,
    stock_sell,
)
from inventory.models import Reservation, Stock, StockMovement
from tests.factories import VariantFactory


def ledger_matches_stock(variant_id: int) -> bool:
    totals = StockMovement.objects.filter(variant_id=variant_id).aggregate(
        on_hand=Sum("on_hand_delta"), allocated=Sum("allocated_delta")
    )
    row = Stock.objects.get(variant_id=variant_id)
    return (totals["on_hand"] or 0, totals["allocated"] or 0) == (row.on_hand, row.allocated)


@pytest.fixture
def variant(db):
    variant = VariantFactory()
    stock_receive(receipts=[StockReceipt(variant_id=variant.pk, quantity=10)], reference="po-1")
    return variant


def test_allocate_sell_and_release_keep_the_ledger_balanced(variant):
    stock_allocate(quantities={variant.pk: 4}, reference="order-1")
    stock_allocate(quantities={variant.pk: 3}, reference="order-2")
    stock_sell(quantities={variant.pk: 4}, reference="order-1")
    stock_release(quantities={variant.pk: 3}, reference="order-2")

    level = stock_levels(variant_ids=[variant.pk])[variant.pk]
    assert (level.on_hand, level.allocated) == (6, 0)
    assert availability_for_variants(variant_ids=[variant.pk]) == {variant.pk: 6}
    assert ledger_matches_stock(variant.pk)
    assert list(
        StockMovement.objects.filter(variant_id=variant.pk)
        .order_by("id")
        .values_list("kind", flat=True)
    ) == ["receipt", "allocation", "allocation", "sale", "release"]


def test_allocation_is_all_or_nothing(variant):
    other = VariantFactory()
    stock_receive(receipts=[StockReceipt(variant_id=other.pk, quantity=1)])

    with pytest.raises(InsufficientStock) as error:
        stock_allocate(quantities={variant.pk: 2, other.pk: 5}, reference="order-1")

    assert error.value.details["available"] == {other.pk: 1}
    assert stock_levels(variant_ids=[variant.pk])[variant.pk].allocated == 0


def test_allocating_a_variant_without_stock_row_is_insufficient(db):
    unstocked = VariantFactory()

    with pytest.raises(InsufficientStock):
        stock_allocate(quantities={unstocked.pk: 1}, reference="order-1")


def test_adjust_sets_and_adds_with_a_reason(variant):
    assert stock_adjust(variant_id=variant.pk, set_to=25, reason="stock count") == 25
    assert stock_adjust(variant_id=variant.pk, add=-5, reason="damaged") == 20
    assert ledger_matches_stock(variant.pk)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"set_to": 5, "add": 1, "reason": "both"},
        {"reason": "neither"},
        {"set_to": 5, "reason": "  "},
        {"set_to": 1, "reason": "below allocated"},
    ],
)
def test_adjust_refuses_invalid_changes(variant, kwargs):
    stock_allocate(quantities={variant.pk: 3}, reference="order-1")

    with pytest.raises(InvalidStockChange):
        stock_adjust(variant_id=variant.pk, **kwargs)


def test_database_refuses_allocation_beyond_on_hand(variant):
    with pytest.raises(IntegrityError), transaction.atomic():
        Stock.objects.filter(variant_id=variant.pk).update(allocated=11)


def test_an_order_counts_its_cart_holds_as_its_own_and_other_carts_against_it(
    variant, django_assert_num_queries
):
    stock_reserve(holder="other-cart", variant_id=variant.pk, quantity=3)
    stock_reserve(holder="buyer-cart", variant_id=variant.pk, quantity=2)

    with pytest.raises(InsufficientStock) as short:
        stock_allocate(quantities={variant.pk: 8}, reference="order-1", holder="buyer-cart")
    # A savepoint, the row locked, both carts' holds in one sum, the row, the ledger, the
    # buyer's holds consumed, the savepoint released.
    with django_assert_num_queries(7):
        stock_allocate(quantities={variant.pk: 7}, reference="order-2", holder="buyer-cart")

    assert short.value.available == {variant.pk: 7}
    assert Reservation.objects.filter(holder="buyer-cart").count() == 0
    assert availability_for_variants(variant_ids=[variant.pk], holder="other-cart") == {
        variant.pk: 3
    }
    assert ledger_matches_stock(variant.pk)
