"""A Hypothesis state machine over cart operations: add, update, remove, coupon, checkout.

Whatever the sequence, totals are never negative, equal the sum of line totals minus
the coupon, and the stock ledger adds up.
"""

from contextlib import suppress
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from checkout.interface import (
    ShippingAddress,
    cart_add_line,
    cart_create,
    cart_remove_line,
    cart_set_coupon,
    cart_update_line,
    cart_view,
    order_place,
)
from inventory.interface import stock_discrepancies
from pricing.models import Coupon
from tests.factories import CouponFactory, PromotionFactory, stocked_product
from toolkit.errors import DomainError

ADDRESS = ShippingAddress(
    name="Alan Turing",
    line1="2 Bletchley Park",
    city="Milton Keynes",
    postal_code="MK3 6EB",
    country="GB",
)


class CartMachine(RuleBasedStateMachine):
    @initialize()
    def open_store(self):
        self.skus = [
            stocked_product(price=price, stock=stock).variants.get().sku
            for price, stock in (("9.99", 30), ("0.50", 5), ("120.00", 2))
        ]
        self.token = cart_create()

    @rule(index=st.integers(0, 2), quantity=st.integers(-2, 25))
    def add(self, index, quantity):
        with suppress(DomainError):
            cart_add_line(token=self.token, sku=self.skus[index], quantity=quantity)

    @precondition(lambda self: cart_view(token=self.token).lines)
    @rule(position=st.integers(0, 2), quantity=st.integers(0, 25))
    def update(self, position, quantity):
        lines = cart_view(token=self.token).lines
        line = lines[position % len(lines)]
        with suppress(DomainError):
            cart_update_line(token=self.token, line_id=line.id, quantity=quantity)

    @precondition(lambda self: cart_view(token=self.token).lines)
    @rule(position=st.integers(0, 2))
    def remove(self, position):
        lines = cart_view(token=self.token).lines
        cart_remove_line(token=self.token, line_id=lines[position % len(lines)].id)

    @rule(code=st.sampled_from(["BIGFIXED", "HALF", "", "NOPE"]))
    def coupon(self, code):
        with suppress(DomainError):
            cart_set_coupon(token=self.token, code=code)

    @rule()
    def checkout(self):
        try:
            order = order_place(
                cart_token=self.token,
                idempotency_key="state-machine",
                email="alan@example.com",
                shipping_address=ADDRESS,
                shipping_method="standard",
                payment_token="tok_ok",
            )
        except DomainError:
            return
        assert order.status == "paid"
        assert order.total == order.subtotal - order.discount + order.shipping_total
        self.token = cart_create()

    @invariant()
    def totals_add_up(self):
        if not hasattr(self, "token"):
            return
        view = cart_view(token=self.token)
        coupon_discount = view.coupon.discount if view.coupon else Decimal("0")
        assert view.total >= 0
        assert view.discount <= view.subtotal
        assert view.total == sum((line.total for line in view.lines), Decimal("0")) - (
            coupon_discount
        )

    @invariant()
    def ledger_adds_up(self):
        assert stock_discrepancies() == []


@pytest.mark.django_db
def test_cart_operations_keep_totals_and_stock_consistent():
    CouponFactory(code="BIGFIXED", kind=Coupon.Kind.FIXED, value=Decimal("500"))
    CouponFactory(code="HALF", value=Decimal("50"), max_uses=3)
    PromotionFactory(value=Decimal("15"))
    CartMachine.TestCase.settings = settings(
        max_examples=20,
        stateful_step_count=12,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    CartMachine.TestCase().runTest()
