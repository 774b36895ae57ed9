"""Pricing writes and the one entry point that prices a cart."""

from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from pricing.dto import CartPricing, CouponInput, PriceInput, PricingLine, PromotionInput
from pricing.engine import price_cart
from pricing.models import Coupon, Price, PriceList, Promotion
from pricing.selectors import active_promotion_rules, coupon_rule_by_code, prices_for_variants
from toolkit.errors import DomainError


class CouponUnavailable(DomainError):
    code = "coupon_unavailable"
    status = 409


def cart_price(*, lines: Sequence[PricingLine], coupon_code: str | None = None) -> CartPricing:
    """Price a cart with server-side truth. Three queries, whatever the cart size."""
    unit_prices = prices_for_variants(variant_ids=[line.variant_id for line in lines])
    coupon = coupon_rule_by_code(code=coupon_code) if coupon_code else None
    return price_cart(
        lines=lines,
        unit_prices=unit_prices,
        promotions=active_promotion_rules() if lines else (),
        coupon=coupon,
        coupon_code=coupon_code,
        currency=settings.STORE_CURRENCY,
    )


def price_list_create(*, code: str, name: str, kind: str = "base", priority: int = 0) -> int:
    price_list, _ = PriceList.objects.get_or_create(
        code=code,
        defaults={
            "name": name,
            "kind": kind,
            "priority": priority,
            "currency": settings.STORE_CURRENCY,
        },
    )
    return price_list.pk


@transaction.atomic
def prices_import(*, price_list_code: str, prices: Sequence[PriceInput]) -> int:
    """Insert or replace prices on one list in bulk (a PIM price feed)."""
    price_list = PriceList.objects.get(code=price_list_code)
    Price.objects.bulk_create(
        [Price(price_list=price_list, variant_id=p.variant_id, amount=p.amount) for p in prices],
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["variant", "price_list"],
        update_fields=["amount"],
    )
    return len(prices)


def promotions_create(*, promotions: Sequence[PromotionInput]) -> None:
    Promotion.objects.bulk_create(
        [
            Promotion(
                name=p.name,
                kind=p.kind,
                value=p.value,
                target=p.target,
                target_ref=p.target_ref,
                priority=p.priority,
            )
            for p in promotions
        ]
    )


def coupons_create(*, coupons: Sequence[CouponInput]) -> None:
    Coupon.objects.bulk_create(
        [
            Coupon(
                code=c.code,
                kind=c.kind,
                value=c.value,
                max_uses=c.max_uses,
                min_spend=c.min_spend,
            )
            for c in coupons
        ]
    )


def coupon_redeem(*, code: str) -> None:
    """Use one of the coupon's uses, or raise CouponUnavailable.

    One conditional UPDATE: the database checks the limit and increments atomically, so
    concurrent redemptions can never pass the limit (the check constraint backs it up).
    """
    redeemed = Coupon.objects.filter(
        Q(max_uses__isnull=True) | Q(used__lt=F("max_uses")), code__iexact=code, is_active=True
    ).update(used=F("used") + 1)
    if not redeemed:
        raise CouponUnavailable("This coupon has no uses left.", code=code)


def coupon_release(*, code: str) -> None:
    """Give back a use taken by an order that did not complete."""
    Coupon.objects.filter(code__iexact=code, used__gt=0).update(used=F("used") - 1)
