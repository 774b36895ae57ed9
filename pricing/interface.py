"""Pricing's public interface: the only module other apps may import."""

from pricing.dto import (
    CartPricing,
    CouponInput,
    CouponResult,
    PricedLine,
    PriceInput,
    PricingLine,
    PromotionInput,
    PromotionOutcome,
)
from pricing.models import coupon_code_normalise
from pricing.selectors import list_prices_for_variants, prices_for_listing, prices_for_variants
from pricing.services import (
    PRICES_CHANGED,
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
    "PRICES_CHANGED",
    "CartPricing",
    "CouponInput",
    "CouponResult",
    "CouponUnavailable",
    "PriceInput",
    "PricedLine",
    "PricingLine",
    "PromotionInput",
    "PromotionOutcome",
    "cart_price",
    "coupon_code_normalise",
    "coupon_redeem",
    "coupon_release",
    "coupons_create",
    "list_prices_for_variants",
    "price_list_create",
    "prices_for_listing",
    "prices_for_variants",
    "prices_import",
    "promotions_create",
]
