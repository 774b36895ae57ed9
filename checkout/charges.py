"""What an order pays besides its goods: shipping, from the carrier, and the VAT it contains.

Asked once per order, before its transaction (never while holding a lock), through the
integrations clients, which serve a live answer for five minutes without asking again
(a destination's rates do not change from one order to the next), each degradable: the
carrier's live rates, else the last table it gave for the country, else its built-in
home table; for a country the carrier client knows nothing of, the store's own table
(`SHIPPING_METHODS`). The tax service's rate for the destination, else the last one it
gave there, else the built-in standard rate; for a country with no known rate, none
(the order records no VAT). The order records which
source each came from, so an order charged from a fallback can be found later.

Prices are shown and charged with VAT included (an EU shop's B2C prices): the rate does
not change the total, it says how much of it is VAT.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from checkout.dto import ShippingMethod
from checkout.shipping import SHIPPING_METHODS
from integrations.interface import ShippingUnavailable, TaxUnavailable, shipping_rates, tax_rate

ShippingSource = Literal["live", "last_known", "built_in", "store_table"]
TaxSource = Literal["live", "last_known", "built_in", "none"]
CENT = Decimal("0.01")


@dataclass(frozen=True)
class OrderCharges:
    """The shipping methods on offer to a destination and its VAT rate, with sources."""

    methods: dict[str, ShippingMethod]
    shipping_source: ShippingSource
    tax_rate: Decimal | None
    tax_source: TaxSource

    def tax_included(self, total: Decimal) -> Decimal:
        """The VAT contained in a total charged with VAT included; 0 without a rate."""
        if self.tax_rate is None:
            return Decimal("0.00")
        return (total - total / (1 + self.tax_rate)).quantize(CENT, rounding=ROUND_HALF_UP)


def order_charges_quote(*, country: str, postal_code: str) -> OrderCharges:
    """Ask the carrier and the tax service about a destination, falling back as above.

    Two upstream calls, each bounded by its client's budget (0.8 s); neither raises.
    """
    try:
        quote = shipping_rates(country=country)
        methods = {
            rate.code: ShippingMethod(rate.code, rate.name, rate.price, rate.free_over)
            for rate in quote.rates
        }
        shipping_source: ShippingSource = quote.source
    except ShippingUnavailable:
        methods, shipping_source = dict(SHIPPING_METHODS), "store_table"
    try:
        tax = tax_rate(country=country, postal_code=postal_code)
        rate: Decimal | None = tax.rate
        tax_source: TaxSource = tax.source
    except TaxUnavailable:
        rate, tax_source = None, "none"
    return OrderCharges(methods, shipping_source, rate, tax_source)
