"""Checkout's public interface: the only module other apps may import."""

from checkout.dto import (
    CartLineView,
    CartView,
    OrderLineView,
    OrderView,
    ShippingAddress,
    ShippingMethod,
)
from checkout.selectors import CartNotFound, OrderNotFound, cart_view, order_view
from checkout.services import (
    CartEmpty,
    CartLineNotFound,
    CartNotOpen,
    InvalidCoupon,
    InvalidQuantity,
    UnknownShippingMethod,
    UnknownSku,
    cart_add_line,
    cart_create,
    cart_remove_line,
    cart_set_coupon,
    cart_update_line,
    order_place,
)
from checkout.shipping import SHIPPING_METHODS

__all__ = [
    "SHIPPING_METHODS",
    "CartEmpty",
    "CartLineNotFound",
    "CartLineView",
    "CartNotFound",
    "CartNotOpen",
    "CartView",
    "InvalidCoupon",
    "InvalidQuantity",
    "OrderLineView",
    "OrderNotFound",
    "OrderView",
    "ShippingAddress",
    "ShippingMethod",
    "UnknownShippingMethod",
    "UnknownSku",
    "cart_add_line",
    "cart_create",
    "cart_remove_line",
    "cart_set_coupon",
    "cart_update_line",
    "cart_view",
    "order_place",
    "order_view",
]
