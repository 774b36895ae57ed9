"""Pricing writes and the one entry point that prices a cart."""

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from integrations.interface import pim_prices
from pricing.caches import prices_invalidate, promotions_version, promotions_version_bump
from pricing.dto import CartPricing, CouponInput, PriceInput, PricingLine, PromotionInput
from pricing.engine import (
    PromotionIndex,
    RuleSource,
    price_cart,
    promotion_index_build,
    promotion_scan_build,
)
from pricing.metrics import EVALUATION_BOUND_HIT, EVALUATIONS_PER_CART
from pricing.models import Coupon, Price, PriceList, Promotion, coupon_code_normalise
from pricing.selectors import (
    coupon_rule_by_code,
    prices_for_variants,
    prices_on_list,
    promotion_rules_active,
)
from toolkit import changes
from toolkit.errors import DomainError
from toolkit.lab import mode_on
from toolkit.tracing import traced

logger = logging.getLogger(__name__)
EMPTY_INDEX = PromotionIndex()
# What this app publishes after commit (toolkit.changes); search subscribes to it.
PRICES_CHANGED = changes.topic_declare("pricing.prices", ids="variant ids whose prices changed")


class CouponUnavailable(DomainError):
    code = "coupon_unavailable"
    status = 409


_compiled: tuple[str, float, PromotionIndex] | None = None


def promotion_index_current() -> PromotionIndex:
    """Return this process's compiled promotion index, recompiling when it is stale.

    One cache read per call; one query when the shared version changed (a promotion
    write) or the index is older than PRICING_INDEX_MAX_AGE (so promotions that ended
    drop out of it).
    """
    global _compiled
    version = promotions_version()
    now = time.monotonic()
    compiled = _compiled
    if compiled and compiled[0] == version and now - compiled[1] < settings.PRICING_INDEX_MAX_AGE:
        return compiled[2]
    index = promotion_index_build(promotion_rules_active())
    _compiled = (version, now, index)
    return index


@traced("pricing.evaluate")
def cart_price(
    *,
    lines: Sequence[PricingLine],
    coupon_code: str | None = None,
    segments: Iterable[str] = (),
) -> CartPricing:
    """Price a cart with server-side truth and explain its promotions.

    Two queries (prices, coupon) whatever the cart size, plus one when the promotion
    index must be recompiled. `segments` are the customer's segment codes. With the
    lab's `promotions-naive` mode on, `_promotions_scan_naive` replaces the index and
    the bound.
    """
    naive = mode_on("promotions-naive")
    unit_prices = prices_for_variants(variant_ids=[line.variant_id for line in lines])
    coupon = coupon_rule_by_code(code=coupon_code) if coupon_code else None
    rules: RuleSource = EMPTY_INDEX
    if lines:
        rules = _promotions_scan_naive() if naive else promotion_index_current()
    result = price_cart(
        lines=lines,
        unit_prices=unit_prices,
        index=rules,
        coupon=coupon,
        coupon_code=coupon_code,
        currency=settings.STORE_CURRENCY,
        at=timezone.now(),
        segments=segments,
        max_evaluations=None if naive else settings.PRICING_MAX_EVALUATIONS,
        max_discount_percent=Decimal(settings.PRICING_MAX_COMBINED_DISCOUNT_PERCENT),
    )
    EVALUATIONS_PER_CART.observe(result.evaluations)
    # Unbounded (naive), the bound is never hit: count the carts that went past it.
    if result.bound_hit or result.evaluations > settings.PRICING_MAX_EVALUATIONS:
        EVALUATION_BOUND_HIT.inc()
        logger.warning(
            "pricing evaluation bound (%s) reached for a cart of %s lines",
            settings.PRICING_MAX_EVALUATIONS,
            len(lines),
        )
    return result


def _promotions_scan_naive() -> RuleSource:
    """The lab's naive path (`promotions-naive`): read every active promotion, per cart.

    No compiled index and no evaluation bound: one query and a sort of every active
    promotion for each cart priced, then every rule checked against every line
    (`pricing.engine.PromotionScan`). Flat while promotions are few; a promotion storm
    (`seed_store --promotions 10000`) makes every cart page and checkout pay for all of
    them. `peakstore_pricing_evaluations_per_cart` shows the checks grow with the number
    of promotions, and the bound-hit counter counts every cart past the bound the good
    path keeps. Never used unless the lab is on.
    """
    return promotion_scan_build(promotion_rules_active())


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


def price_windows_publish(*, since: datetime, until: datetime) -> int:
    """Publish the variants whose price a list's window opening or closing in
    (`since`, `until`] may have changed; return how many. One query.

    Nothing is written when a campaign starts or ends, so no write service can tell the
    subscribers (search's stored lowest price, its price sort and filter): this runs on
    a schedule (`pricing.tasks`). Listing prices need it not: their cache holds the
    windows and resolves them at read time.
    """
    opened = Q(price_list__valid_from__gt=since, price_list__valid_from__lte=until)
    closed = Q(price_list__valid_until__gt=since, price_list__valid_until__lte=until)
    variant_ids = set(
        Price.objects.filter(opened | closed, price_list__is_active=True).values_list(
            "variant_id", flat=True
        )
    )
    changes.publish(PRICES_CHANGED, variant_ids)
    return len(variant_ids)


@transaction.atomic
def prices_import(*, price_list_code: str, prices: Sequence[PriceInput]) -> int:
    """Insert or replace prices on one list in bulk (a PIM price feed).

    After commit: the listing cache drops the variants' entries, and subscribers of
    `pricing.prices` (search) hear which variants changed. With the lab's `cache-drift`
    mode on, the cache is not told (`_prices_written_naive`).
    """
    price_list = PriceList.objects.get(code=price_list_code)
    Price.objects.bulk_create(
        [Price(price_list=price_list, variant_id=p.variant_id, amount=p.amount) for p in prices],
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["variant", "price_list"],
        update_fields=["amount"],
    )
    variant_ids = [p.variant_id for p in prices]
    if mode_on("cache-drift"):
        _prices_written_naive(variant_ids)
    else:
        prices_invalidate(variant_ids)
    changes.publish(PRICES_CHANGED, variant_ids)
    return len(prices)


def _prices_written_naive(variant_ids: Sequence[int]) -> None:
    """The lab's naive path (`cache-drift`): a bulk import that leaves the cache alone.

    What a team ships when a feed "only writes rows": the fast bulk path was added
    beside the service, and nobody told the listing cache. Pages, the product API and
    every cached page that showed these variants keep the old price until the entry's
    TTL (`PRICING_PRICE_CACHE_TTL`) ends; checkout, which prices from the database,
    charges the new one. `cache_audit` finds the entries (the periodic audit counts them
    as anomalies, the load tests' audit gate fails). Stock receipts take the same path
    (`inventory.services.stock_receive`). Never used unless the lab is on.
    """
    logger.info("lab cache-drift: %d prices written without invalidation", len(variant_ids))


def prices_sync_from_pim(*, variant_skus: Mapping[int, str], price_list_code: str = "base") -> int:
    """Bring one batch of variants' prices on a list to what the PIM says; return how
    many changed.

    Only the variants whose price differs go through `prices_import`, so the page cache
    retires only pages that show them, and a batch where nothing changed writes, bumps
    and publishes nothing. A SKU the PIM does not know keeps its price. One PIM call
    (at most its MAX_SKUS per batch; PimUnavailable for the caller to retry later) and
    one query, plus the import's when something changed.
    """
    quoted = pim_prices(skus=list(variant_skus.values()))
    current = prices_on_list(price_list_code=price_list_code, variant_ids=list(variant_skus))
    changed = [
        PriceInput(variant_id=variant_id, amount=quoted[sku])
        for variant_id, sku in variant_skus.items()
        if sku in quoted and current.get(variant_id) != quoted[sku]
    ]
    if changed:
        prices_import(price_list_code=price_list_code, prices=changed)
    return len(changed)


@transaction.atomic
def promotions_create(*, promotions: Sequence[PromotionInput]) -> None:
    """Create promotions; every process recompiles its index after commit."""
    Promotion.objects.bulk_create(
        [
            Promotion(
                name=p.name,
                mechanic=p.mechanic,
                kind=p.kind,
                value=p.value,
                target=p.target,
                target_ref=p.target_ref,
                priority=p.priority,
                exclusive=p.exclusive,
                stackable=p.stackable,
                segment=p.segment,
                buy_quantity=p.buy_quantity,
                get_quantity=p.get_quantity,
                bundle_skus=list(p.bundle_skus),
                tiers=[[str(spend), str(value)] for spend, value in p.tiers],
                valid_from=p.valid_from,
                valid_until=p.valid_until,
            )
            for p in promotions
        ],
        batch_size=1000,
    )
    promotions_version_bump()


def coupons_create(*, coupons: Sequence[CouponInput]) -> None:
    Coupon.objects.bulk_create(
        [
            Coupon(
                code=coupon_code_normalise(c.code),
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
        Q(max_uses__isnull=True) | Q(used__lt=F("max_uses")),
        code=coupon_code_normalise(code),
        is_active=True,
    ).update(used=F("used") + 1)
    if not redeemed:
        raise CouponUnavailable("This coupon has no uses left.", code=code)


def coupon_release(*, code: str) -> None:
    """Give back a use taken by an order that did not complete."""
    Coupon.objects.filter(code=coupon_code_normalise(code), used__gt=0).update(used=F("used") - 1)
