"""Shipping methods: the codes checkout offers, at the home market's published prices.

Orders are charged the carrier's rate for their country (`checkout.charges`); this table
is what the forms show and what serves where the carrier client knows nothing.
"""

from decimal import Decimal

from checkout.dto import ShippingMethod

SHIPPING_METHODS: dict[str, ShippingMethod] = {
    method.code: method
    for method in (
        ShippingMethod("standard", "Standard, 3-5 days", Decimal("4.90"), Decimal("50.00")),
        ShippingMethod("express", "Express, next working day", Decimal("9.90"), None),
    )
}
