"""The pricing engine: pure functions over plain records, no ORM.

First cut: each line gets the single best matching promotion (no stacking), then a
coupon applies to the discounted subtotal. Totals are clamped so they never go negative.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from pricing.dto import CartPricing, CouponResult, PricedLine, PricingLine

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class PromotionRule:
    name: str
    kind: str  # "percent" | "fixed"
    value: Decimal
    target: str  # "all" | "sku" | "category" | "brand"
    target_ref: str
    priority: int

    def matches(self, line: PricingLine) -> bool:
        if self.target == "all":
            return True
        if self.target == "sku":
            return line.sku == self.target_ref
        if self.target == "category":
            return line.category_path.startswith(self.target_ref)
        if self.target == "brand":
            return str(line.brand_id) == self.target_ref
        return False

    def unit_discount(self, unit_price: Decimal) -> Decimal:
        if self.kind == "percent":
            off = unit_price * min(self.value, Decimal(100)) / Decimal(100)
        else:
            off = self.value
        return money(min(off, unit_price))


@dataclass(frozen=True)
class CouponRule:
    code: str
    kind: str
    value: Decimal
    min_spend: Decimal
    has_uses_left: bool


def _price_line(
    line: PricingLine, unit_price: Decimal, promotions: Sequence[PromotionRule]
) -> PricedLine:
    best: PromotionRule | None = None
    best_off = ZERO
    # Ties go to higher priority, then name, so the result never depends on rule order.
    for rule in sorted(promotions, key=lambda r: (-r.priority, r.name)):
        if rule.matches(line):
            off = rule.unit_discount(unit_price)
            if off > best_off:
                best, best_off = rule, off
    gross = money(unit_price * line.quantity)
    discount = money(best_off * line.quantity)
    return PricedLine(
        variant_id=line.variant_id,
        quantity=line.quantity,
        unit_price=money(unit_price),
        discount=discount,
        total=gross - discount,
        promotion=best.name if best else None,
    )


def _apply_coupon(coupon: CouponRule, subtotal_after_promotions: Decimal) -> CouponResult:
    if not coupon.has_uses_left:
        return CouponResult(coupon.code, ZERO, applied=False, reason="no uses left")
    if subtotal_after_promotions < coupon.min_spend:
        return CouponResult(
            coupon.code, ZERO, applied=False, reason=f"needs a spend of {coupon.min_spend}"
        )
    if coupon.kind == "percent":
        off = subtotal_after_promotions * min(coupon.value, Decimal(100)) / Decimal(100)
    else:
        off = coupon.value
    off = money(min(off, subtotal_after_promotions))
    return CouponResult(coupon.code, off, applied=True, reason="applied")


def price_cart(
    *,
    lines: Sequence[PricingLine],
    unit_prices: Mapping[int, Decimal],
    promotions: Sequence[PromotionRule],
    coupon: CouponRule | None,
    coupon_code: str | None,
    currency: str,
) -> CartPricing:
    """Price every line that has a price; report the ones that do not."""
    priced = tuple(
        _price_line(line, unit_prices[line.variant_id], promotions)
        for line in lines
        if line.variant_id in unit_prices
    )
    unpriced = tuple(line.variant_id for line in lines if line.variant_id not in unit_prices)
    subtotal = sum((line.unit_price * line.quantity for line in priced), ZERO)
    line_discounts = sum((line.discount for line in priced), ZERO)
    coupon_result: CouponResult | None = None
    if coupon is not None:
        coupon_result = _apply_coupon(coupon, subtotal - line_discounts)
    elif coupon_code:
        coupon_result = CouponResult(coupon_code, ZERO, applied=False, reason="unknown code")
    discount = line_discounts + (coupon_result.discount if coupon_result else ZERO)
    return CartPricing(
        lines=priced,
        subtotal=money(subtotal),
        discount=money(discount),
        total=money(max(subtotal - discount, ZERO)),
        currency=currency,
        coupon=coupon_result,
        unpriced_variant_ids=unpriced,
    )
