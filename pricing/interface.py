"""Pricing's public interface: the only module other apps may import."""

from pricing.dto import (
    CartPricing,
    CouponInput,
    CouponResult,
    PricedLine,
    PriceInput,
    PricingLine,
    PromotionInput,
)
from pricing.selectors import prices_for_variants
from pricing.services import (
    CouponUnavailable,
    cart_price,
    coupon_redeem,
    coupon_release,
    coupons_create,
    price_list_create,
    prices_import,
    promotions_create,
)

__all__ = [
    "CartPricing",
    "CouponInput",
    "CouponResult",
    "CouponUnavailable",
    "PriceInput",
    "PricedLine",
    "PricingLine",
    "PromotionInput",
    "cart_price",
    "coupon_redeem",
    "coupon_release",
    "coupons_create",
    "price_list_create",
    "prices_for_variants",
    "prices_import",
    "promotions_create",
]
