"""Plain records pricing hands to other apps."""

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class PricingLine:
    """A cart line as the engine sees it: what is bought and what rules could target."""

    variant_id: int
    sku: str
    quantity: int
    brand_id: int
    category_path: str


@dataclass(frozen=True)
class PricedLine:
    variant_id: int
    quantity: int
    unit_price: Decimal
    discount: Decimal
    total: Decimal
    promotion: str | None


@dataclass(frozen=True)
class CouponResult:
    code: str
    discount: Decimal
    applied: bool
    reason: str


@dataclass(frozen=True)
class CartPricing:
    lines: tuple[PricedLine, ...]
    subtotal: Decimal
    discount: Decimal
    total: Decimal
    currency: str
    coupon: CouponResult | None
    unpriced_variant_ids: tuple[int, ...]


@dataclass(frozen=True)
class PriceInput:
    variant_id: int
    amount: Decimal


@dataclass(frozen=True)
class PromotionInput:
    name: str
    kind: str
    value: Decimal
    target: str
    target_ref: str = ""
    priority: int = 0


@dataclass(frozen=True)
class CouponInput:
    code: str
    kind: str
    value: Decimal
    max_uses: int | None = None
    min_spend: Decimal = Decimal("0")
