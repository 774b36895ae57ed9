"""What the clients of degradable dependencies return: plain values, cached as they are."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal


@dataclass(frozen=True)
class ShippingRate:
    code: str
    name: str
    price: Decimal
    free_over: Decimal | None


@dataclass(frozen=True)
class ShippingQuote:
    country: str
    rates: tuple[ShippingRate, ...]
    source: Literal["live", "last_known", "built_in"]


@dataclass(frozen=True)
class TaxRate:
    country: str
    postal_code: str
    rate: Decimal
    source: Literal["live", "last_known", "built_in"]
