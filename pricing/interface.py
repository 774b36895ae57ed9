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
from pricing.selectors import (
    prices_for_listing,
    prices_for_variants,
    prices_on_list,
    promotions_named_count,
)
from pricing.services import (
    PRICES_CHANGED,
    CouponUnavailable,
    cart_price,
    coupon_redeem,
    coupon_release,
    coupons_create,
    price_list_create,
    prices_import,
    prices_sync_from_pim,
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
    "price_list_create",
    "prices_for_listing",
    "prices_for_variants",
    "prices_import",
    "prices_on_list",
    "prices_sync_from_pim",
    "promotions_create",
    "promotions_named_count",
]
