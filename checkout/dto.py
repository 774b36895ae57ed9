"""Plain records checkout hands to the web layers."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pricing.interface import CouponResult, PromotionOutcome


@dataclass(frozen=True)
class CartLineView:
    id: int
    variant_id: int
    sku: str
    product_name: str
    product_slug: str
    variant_name: str
    image_url: str
    quantity: int
    unit_price: Decimal | None
    discount: Decimal
    total: Decimal
    promotion: str | None
    available: int

    @property
    def is_purchasable(self) -> bool:
        return self.unit_price is not None and self.available >= self.quantity


@dataclass(frozen=True)
class CartView:
    token: str
    is_open: bool
    lines: tuple[CartLineView, ...]
    subtotal: Decimal
    discount: Decimal
    total: Decimal
    currency: str
    coupon: CouponResult | None
    # Which promotions applied and why others did not (pricing's explanation).
    explanation: tuple[PromotionOutcome, ...] = ()
    # Off the whole cart (bundles, spend tiers), beyond the lines' own discounts.
    cart_discount: Decimal = Decimal("0.00")

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def is_purchasable(self) -> bool:
        return self.is_open and bool(self.lines) and all(line.is_purchasable for line in self.lines)


@dataclass(frozen=True)
class ShippingAddress:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str = ""


@dataclass(frozen=True)
class ShippingMethod:
    code: str
    label: str
    price: Decimal
    free_over: Decimal | None

    def price_for(self, subtotal: Decimal) -> Decimal:
        if self.free_over is not None and subtotal >= self.free_over:
            return Decimal("0.00")
        return self.price


@dataclass(frozen=True)
class OrderLineView:
    sku: str
    product_name: str
    variant_name: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    total: Decimal


@dataclass(frozen=True)
class OrderView:
    number: str
    access_token: str
    status: str
    status_label: str
    email: str
    shipping_address: ShippingAddress
    shipping_method: str
    lines: tuple[OrderLineView, ...]
    subtotal: Decimal
    discount: Decimal
    shipping_total: Decimal
    total: Decimal
    currency: str
    coupon_code: str
    created_at: datetime


@dataclass(frozen=True)
class OrderSettlement:
    """What reconciliation compares with the gateway and the ERP: an order's money state."""

    id: int
    number: str
    status: str
    total: Decimal
    currency: str
    created_at: datetime


@dataclass(frozen=True)
class DeadLetter:
    """An outbox message given up on: someone must requeue or discard it."""

    id: int
    topic: str
    dedupe_key: str
    attempts: int
    last_error: str
    dead_at: datetime
