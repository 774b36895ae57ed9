"""Plain records pricing hands to other apps."""

from dataclasses import dataclass
from datetime import datetime
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
class PromotionOutcome:
    """One line of a cart's explanation: a promotion that applied, or why it did not."""

    name: str
    applied: bool
    amount: Decimal
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
    # Off the whole cart (bundles, tiered spend), on top of the lines' own discounts.
    cart_discount: Decimal = Decimal("0.00")
    explanation: tuple[PromotionOutcome, ...] = ()
    # True when the per-cart evaluation bound stopped the engine early: some promotions
    # were not considered, so the cart may be charged more than the best price, never less.
    bound_hit: bool = False
    # Rule checks made for this cart (what the bound counts).
    evaluations: int = 0


@dataclass(frozen=True)
class PriceInput:
    variant_id: int
    amount: Decimal


@dataclass(frozen=True)
class PromotionInput:
    """A promotion to create; the fields mean what `pricing.engine.PromotionRule` says."""

    name: str
    kind: str
    value: Decimal
    target: str = "all"
    target_ref: str = ""
    priority: int = 0
    mechanic: str = "discount"
    exclusive: bool = False
    stackable: bool = False
    segment: str = ""
    buy_quantity: int = 0
    get_quantity: int = 0
    bundle_skus: tuple[str, ...] = ()
    tiers: tuple[tuple[Decimal, Decimal], ...] = ()
    valid_from: datetime | None = None
    valid_until: datetime | None = None


@dataclass(frozen=True)
class CouponInput:
    code: str
    kind: str
    value: Decimal
    max_uses: int | None = None
    min_spend: Decimal = Decimal("0")
