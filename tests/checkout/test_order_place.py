from decimal import Decimal

import pytest
from django.core import mail

from checkout.interface import (
    CartNotFound,
    CartNotOpen,
    InvalidCoupon,
    InvalidQuantity,
    OrderNotFound,
    ShippingAddress,
    UnknownShippingMethod,
    UnknownSku,
    cart_add_line,
    cart_create,
    cart_remove_line,
    cart_set_coupon,
    cart_update_line,
    cart_view,
    order_place,
    order_view,
)
from checkout.models import Cart, Order
from integrations.interface import PaymentDeclined, PaymentUnavailable
from inventory.interface import InsufficientStock, stock_levels
from pricing.models import Coupon
from tests.factories import CouponFactory, stocked_product

ADDRESS = ShippingAddress(
    name="Ada Lovelace",
    line1="1 Analytical Way",
    city="London",
    postal_code="N1 7AA",
    country="gb",
)


def place(token, *, key="key-1", payment_token="tok_ok", method="standard"):
    return order_place(
        cart_token=token,
        idempotency_key=key,
        email="ada@example.com",
        shipping_address=ADDRESS,
        shipping_method=method,
        payment_token=payment_token,
    )


@pytest.fixture
def cart(sku):
    token = cart_create()
    cart_add_line(token=token, sku=sku, quantity=2)
    return token


def variant_stock(sku_value):
    from catalog.interface import variants_by_skus

    variant_id = variants_by_skus(skus=[sku_value])[sku_value].id
    return stock_levels(variant_ids=[variant_id])[variant_id]


def test_adding_the_same_sku_twice_merges_lines(cart, sku):
    cart_add_line(token=cart, sku=sku, quantity=3)

    view = cart_view(token=cart)
    assert [(line.sku, line.quantity) for line in view.lines] == [(sku, 5)]
    assert view.subtotal == Decimal("99.50")


@pytest.mark.parametrize("quantity", [0, -5, 10**9, 21, True, 1.5, "2"])
def test_quantity_outside_the_caps_is_refused(cart, sku, quantity):
    with pytest.raises(InvalidQuantity):
        cart_add_line(token=cart, sku=sku, quantity=quantity)


def test_unknown_sku_and_cart_are_refused(cart):
    with pytest.raises(UnknownSku):
        cart_add_line(token=cart, sku="NOPE", quantity=1)
    with pytest.raises(CartNotFound):
        cart_add_line(token="not-a-cart", sku="NOPE", quantity=1)


def test_cannot_add_more_than_is_available(cart, sku):
    with pytest.raises(InsufficientStock):
        cart_add_line(token=cart, sku=sku, quantity=9)


def test_update_and_remove_lines(cart):
    line = cart_view(token=cart).lines[0]

    cart_update_line(token=cart, line_id=line.id, quantity=1)
    assert cart_view(token=cart).lines[0].quantity == 1
    cart_remove_line(token=cart, line_id=line.id)
    assert cart_view(token=cart).lines == ()


def test_unknown_coupon_is_refused_and_known_one_discounts(cart):
    CouponFactory(code="TENOFF", value=Decimal("10"))

    with pytest.raises(InvalidCoupon):
        cart_set_coupon(token=cart, code="BOGUS")
    view = cart_set_coupon(token=cart, code="tenoff")

    assert view.coupon.applied
    assert view.total == Decimal("35.82")


def test_paid_order_sells_stock_and_sends_confirmation(
    cart, sku, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        order = place(cart)

    assert order.status == "paid"
    assert order.total == Decimal("39.80") + Decimal("4.90")
    assert order.shipping_address.country == "GB"
    level = variant_stock(sku)
    assert (level.on_hand, level.allocated) == (8, 0)
    assert Cart.objects.get(token=cart).status == Cart.Status.CHECKED_OUT
    assert len(mail.outbox) == 1
    assert order.number in mail.outbox[0].subject
    with pytest.raises(CartNotOpen):
        place(cart, key="key-2")


def test_same_idempotency_key_returns_the_first_order(cart):
    first = place(cart)
    again = place(cart)

    assert again == first
    assert Order.objects.count() == 1


def test_declined_payment_keeps_the_cart_and_releases_everything(cart, sku):
    CouponFactory(code="ONCE", max_uses=1)
    cart_set_coupon(token=cart, code="ONCE")

    with pytest.raises(PaymentDeclined):
        place(cart, payment_token="tok_decline")

    assert Order.objects.get().status == Order.Status.PAYMENT_DECLINED
    assert cart_view(token=cart).is_open
    assert variant_stock(sku).allocated == 0
    assert Coupon.objects.get(code="ONCE").used == 0


def test_payment_outage_fails_closed(cart, sku):
    with pytest.raises(PaymentUnavailable):
        place(cart, payment_token="tok_unavailable")

    assert Order.objects.get().status == Order.Status.PAYMENT_FAILED
    assert cart_view(token=cart).is_open
    assert variant_stock(sku).allocated == 0


def test_payment_timeout_leaves_the_order_pending_with_stock_held(cart, sku):
    order = place(cart, payment_token="tok_timeout")

    assert order.status == "pending_payment"
    assert variant_stock(sku).allocated == 2


def test_unknown_shipping_method_is_refused_before_anything_happens(cart):
    with pytest.raises(UnknownShippingMethod):
        place(cart, method="teleport")

    assert not Order.objects.exists()


def test_order_is_visible_only_with_its_token(cart):
    order = place(cart)

    assert order_view(number=order.number, access_token=order.access_token).number == order.number
    with pytest.raises(OrderNotFound):
        order_view(number=order.number, access_token="guess")


@pytest.mark.parametrize("lines", [1, 30])
def test_cart_view_query_count_does_not_grow(db, lines, django_assert_num_queries):
    token = cart_create()
    for _ in range(lines):
        product = stocked_product()
        cart_add_line(token=token, sku=product.variants.get().sku, quantity=1)
    cart_view(token=token)  # compiles the promotion index, kept until a promotion write

    # cart, lines, variants, prices, stock (no coupon set)
    with django_assert_num_queries(5):
        view = cart_view(token=token)
    assert len(view.lines) == lines
