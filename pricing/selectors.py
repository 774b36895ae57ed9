"""Pricing reads: effective prices, active promotions and coupons."""

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from pricing.caches import (
    PriceEntry,
    effective_price,
    price_entries,
    prices_read,
)
from pricing.engine import CouponRule, PromotionRule
from pricing.models import Coupon, Price, Promotion, coupon_code_normalise


def _valid_at(at: datetime, prefix: str = "") -> Q:
    return (Q(**{f"{prefix}valid_from__isnull": True}) | Q(**{f"{prefix}valid_from__lte": at})) & (
        Q(**{f"{prefix}valid_until__isnull": True}) | Q(**{f"{prefix}valid_until__gt": at})
    )


def prices_for_variants(
    *, variant_ids: Iterable[int], at: datetime | None = None
) -> dict[int, Decimal]:
    """Return each variant's price from its highest-priority active list. One query."""
    at = at or timezone.now()
    variant_ids = list(variant_ids)
    prices_read(variant_ids)
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


def prices_on_list(*, price_list_code: str, variant_ids: Iterable[int]) -> dict[int, Decimal]:
    """Return each variant's price on one list, whatever its window; absent if none.

    What a feed from the PIM is compared with (the base list). One query.
    """
    return dict(
        Price.objects.filter(
            price_list__code=price_list_code, variant_id__in=list(variant_ids)
        ).values_list("variant_id", "amount")
    )


def prices_for_listing(
    *, variant_ids: Iterable[int], at: datetime | None = None
) -> dict[int, Decimal]:
    """Return each variant's effective price for listings, from pricing's cache.

    One cache round trip; one query for the variants the cache misses, none when warm.
    Checkout never uses this: a cart is priced from the database.
    """
    at = at or timezone.now()
    variant_ids = list(variant_ids)
    prices_read(variant_ids)
    entries = price_entries(
        variant_ids, lambda missing: price_entries_for_variants(variant_ids=missing)
    )
    prices = {variant_id: effective_price(found, at) for variant_id, found in entries.items()}
    return {variant_id: price for variant_id, price in prices.items() if price is not None}


def promotions_named_count(*, prefix: str) -> int:
    """How many promotions, active or not, have a name starting with `prefix`. One query."""
    return Promotion.objects.filter(name__startswith=prefix).count()


def promotion_rules_active(*, at: datetime | None = None) -> list[PromotionRule]:
    """Return every active promotion that has not ended, as engine rules. One query.

    Promotions that start later are included: the engine checks each rule's window at
    pricing time, so a compiled index stays right as windows open and close.
    """
    at = at or timezone.now()
    rows = (
        Promotion.objects.filter(is_active=True)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=at))
        .order_by("id")
    )
    return [_promotion_rule(row) for row in rows]


def _promotion_rule(row: Promotion) -> PromotionRule:
    return PromotionRule(
        id=row.pk,
        name=row.name,
        mechanic=row.mechanic,
        kind=row.kind,
        value=row.value,
        target=row.target,
        target_ref=row.target_ref,
        priority=row.priority,
        exclusive=row.exclusive,
        stackable=row.stackable,
        segment=row.segment,
        buy_quantity=row.buy_quantity,
        get_quantity=row.get_quantity,
        bundle_skus=tuple(str(sku) for sku in row.bundle_skus or ()),
        tiers=tuple(
            sorted((Decimal(str(spend)), Decimal(str(value))) for spend, value in row.tiers or ())
        ),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
    )


def price_entries_for_variants(*, variant_ids: Iterable[int]) -> dict[int, tuple[PriceEntry, ...]]:
    """Return every active list's price of each variant, windows included. One query.

    What the listing price cache stores: with the windows in the entry, the effective
    price is resolved at read time, so a campaign starting or ending needs no purge.
    """
    rows = (
        Price.objects.filter(variant_id__in=list(variant_ids), price_list__is_active=True)
        .order_by("variant_id", "-price_list__priority", "price_list_id")
        .values_list("variant_id", "amount", "price_list__valid_from", "price_list__valid_until")
    )
    entries: dict[int, list[PriceEntry]] = {}
    for variant_id, amount, valid_from, valid_until in rows:
        entries.setdefault(variant_id, []).append(PriceEntry(amount, valid_from, valid_until))
    return {variant_id: tuple(found) for variant_id, found in entries.items()}


def coupon_rule_by_code(*, code: str, at: datetime | None = None) -> CouponRule | None:
    at = at or timezone.now()
    coupon = (
        Coupon.objects.filter(code=coupon_code_normalise(code), is_active=True)
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
