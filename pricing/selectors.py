"""Pricing reads: effective prices, active promotions and coupons."""

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from pricing.engine import CouponRule, PromotionRule
from pricing.models import Coupon, Price, Promotion


def _valid_at(at: datetime, prefix: str = "") -> Q:
    return (Q(**{f"{prefix}valid_from__isnull": True}) | Q(**{f"{prefix}valid_from__lte": at})) & (
        Q(**{f"{prefix}valid_until__isnull": True}) | Q(**{f"{prefix}valid_until__gt": at})
    )


def prices_for_variants(
    *, variant_ids: Iterable[int], at: datetime | None = None
) -> dict[int, Decimal]:
    """Return each variant's price from its highest-priority active list. One query."""
    at = at or timezone.now()
    rows = (
        Price.objects.filter(variant_id__in=list(variant_ids), price_list__is_active=True)
        .filter(_valid_at(at, "price_list__"))
        .order_by("variant_id", "-price_list__priority", "price_list_id")
        .values_list("variant_id", "amount")
    )
    prices: dict[int, Decimal] = {}
    for variant_id, amount in rows:
        prices.setdefault(variant_id, amount)
    return prices


def active_promotion_rules(*, at: datetime | None = None) -> tuple[PromotionRule, ...]:
    at = at or timezone.now()
    rows = Promotion.objects.filter(is_active=True).filter(_valid_at(at)).order_by("id")
    return tuple(
        PromotionRule(
            name=row.name,
            kind=row.kind,
            value=row.value,
            target=row.target,
            target_ref=row.target_ref,
            priority=row.priority,
        )
        for row in rows
    )


def coupon_rule_by_code(*, code: str, at: datetime | None = None) -> CouponRule | None:
    at = at or timezone.now()
    coupon = (
        Coupon.objects.filter(code__iexact=code.strip(), is_active=True)
        .filter(_valid_at(at))
        .first()
    )
    if coupon is None:
        return None
    return CouponRule(
        code=coupon.code,
        kind=coupon.kind,
        value=coupon.value,
        min_spend=coupon.min_spend,
        has_uses_left=coupon.max_uses is None or coupon.used < coupon.max_uses,
    )
