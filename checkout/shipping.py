"""Shipping methods: the fixed table checkout offers and charges (no carrier is asked)."""

from decimal import Decimal

from checkout.dto import ShippingMethod

SHIPPING_METHODS: dict[str, ShippingMethod] = {
    method.code: method
    for method in (
        ShippingMethod("standard", "Standard, 3-5 days", Decimal("4.90"), Decimal("50.00")),
        ShippingMethod("express", "Express, next working day", Decimal("9.90"), None),
    )
}
