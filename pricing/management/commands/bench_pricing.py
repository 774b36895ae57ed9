"""Benchmark: pricing a 50-line cart with 10 vs 10,000 active promotions, interleaved.

`python manage.py bench_pricing [--rounds 2000] [--lines 50]`

In-process and pure (the engine, no database): both promotion sets are compiled once,
as a process does after a promotion write, then the same carts are priced against each
set in alternation, so machine noise hits both sides alike. The promotion mix is the
same shape at both sizes: mostly SKU markdowns spread over the catalog's SKUs, a few
brand and category campaigns, buy X get Y, bundles and spend tiers.

`--naive` prices against the failure-mode lab's naive path instead (`promotions-naive`:
`PromotionScan`, no bound) and reports the miss without failing; it is slow by design,
so give it few rounds (`--naive --rounds 20`).
"""

import random
import statistics
import time
from decimal import Decimal
from typing import TypedDict

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from perfstats.quantiles import percentiles
from pricing.dto import PricingLine
from pricing.engine import (
    PromotionRule,
    RuleSource,
    price_cart,
    promotion_index_build,
    promotion_scan_build,
)

SKUS = 250_000  # a catalog of 100,000 products has about 255,000 SKUs
BRANDS = 40
ROOTS, CHILDREN = 6, 8
# Cumulative shares of each kind of promotion. Broad campaigns (a category, a brand, the
# whole cart) are few in any store; what grows to thousands is per-SKU markdowns.
MIX = {
    "sku": 0.9900,
    "category": 0.9920,
    "brand": 0.9930,
    "buy_x_get_y": 0.9980,
    "bundle": 0.9997,
}  # the rest (0.03%): spend tiers on the whole cart


def _category_path(rng: random.Random) -> str:
    root, child = rng.randrange(1, ROOTS + 1), rng.randrange(1, CHILDREN + 1)
    return f"{root:06d}/{root * 100 + child:06d}/"


def promotions(count: int, rng: random.Random) -> list[PromotionRule]:
    """`count` promotions in one fixed mix (see MIX): mostly SKU markdowns."""
    return [_promotion(index, rng) for index in range(count)]


class _Common(TypedDict):
    name: str
    id: int
    priority: int


def _promotion(index: int, rng: random.Random) -> PromotionRule:
    """Draw the kind of promotion `index` is, then its target and value."""
    draw = rng.random()
    common = _Common(name=f"promo-{index}", id=index, priority=rng.randrange(4))
    value = Decimal(rng.choice(("5", "10", "15", "20")))
    if draw < MIX["sku"]:
        sku = f"SKU-{rng.randrange(SKUS)}"
        return PromotionRule(kind="percent", value=value, target="sku", target_ref=sku, **common)
    if draw < MIX["category"]:
        path = _category_path(rng)
        return PromotionRule(
            kind="percent", value=value, target="category", target_ref=path, **common
        )
    if draw < MIX["brand"]:
        brand = str(rng.randrange(1, BRANDS + 1))
        return PromotionRule(
            kind="fixed", value=value, target="brand", target_ref=brand, stackable=True, **common
        )
    if draw < MIX["buy_x_get_y"]:
        sku = f"SKU-{rng.randrange(SKUS)}"
        return PromotionRule(
            kind="percent",
            value=Decimal(100),
            mechanic="buy_x_get_y",
            target="sku",
            target_ref=sku,
            buy_quantity=2,
            get_quantity=1,
            **common,
        )
    if draw < MIX["bundle"]:
        skus = tuple(f"SKU-{rng.randrange(SKUS)}" for _ in range(2))
        return PromotionRule(
            kind="fixed", value=value, mechanic="bundle", bundle_skus=skus, **common
        )
    tiers = ((Decimal(100 * (index % 5 + 1)), value),)
    return PromotionRule(
        kind="percent", value=value, mechanic="tiered_spend", tiers=tiers, **common
    )


def cart(lines: int, rng: random.Random) -> tuple[list[PricingLine], dict[int, Decimal]]:
    items = [
        PricingLine(
            variant_id=index + 1,
            sku=f"SKU-{rng.randrange(SKUS)}",
            quantity=rng.randint(1, 4),
            brand_id=rng.randrange(1, BRANDS + 1),
            category_path=_category_path(rng),
        )
        for index in range(lines)
    ]
    prices = {line.variant_id: Decimal(rng.randrange(500, 50_000)) / 100 for line in items}
    return items, prices


def _price(
    index: RuleSource, lines: list[PricingLine], prices: dict[int, Decimal], *, naive: bool
) -> tuple[float, int, int]:
    """Seconds to price the cart, the rules its explanation considered, the checks made."""
    started = time.perf_counter()
    result = price_cart(
        lines=lines,
        unit_prices=prices,
        index=index,
        coupon=None,
        coupon_code=None,
        currency="EUR",
        max_evaluations=None if naive else settings.PRICING_MAX_EVALUATIONS,
    )
    return time.perf_counter() - started, len(result.explanation), result.evaluations


class Command(BaseCommand):
    help = "Time pricing a cart with 10 and with 10,000 active promotions, side by side."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rounds", type=int, default=2000)
        parser.add_argument("--lines", type=int, default=50)
        parser.add_argument("--small", type=int, default=10)
        parser.add_argument("--large", type=int, default=10_000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--naive", action="store_true", help="the lab's promotions-naive path (no index)"
        )

    def handle(
        self,
        *args,
        rounds: int,
        lines: int,
        small: int,
        large: int,
        seed: int,
        naive: bool = False,
        **_,
    ):
        rng = random.Random(seed)
        build = promotion_scan_build if naive else promotion_index_build
        sets: dict[int, RuleSource] = {}
        for count in (small, large):
            rules = promotions(count, rng)
            started = time.perf_counter()
            sets[count] = build(rules)
            elapsed_ms = (time.perf_counter() - started) * 1000
            self.stdout.write(f"compiled {count:>6,} promotions in {elapsed_ms:.1f} ms")
        carts = [cart(lines, rng) for _ in range(50)]
        samples: dict[int, list[float]] = {small: [], large: []}
        considered: dict[int, list[int]] = {small: [], large: []}
        checked: dict[int, list[int]] = {small: [], large: []}
        for index in range(rounds):
            items, prices = carts[index % len(carts)]
            order = (small, large) if index % 2 == 0 else (large, small)
            for count in order:
                seconds, explained, checks = _price(sets[count], items, prices, naive=naive)
                samples[count].append(seconds)
                considered[count].append(explained)
                checked[count].append(checks)
        path = "the lab's naive scan, no bound" if naive else "the index"
        self.stdout.write(f"{lines}-line carts, {rounds} rounds, interleaved, {path}:")
        p95 = {}
        for count in (small, large):
            p50, p95[count] = percentiles([s * 1000 for s in samples[count]], 0.50, 0.95)
            self.stdout.write(
                f"  {count:>6,} promotions: p50 {p50:.3f} ms, p95 {p95[count]:.3f} ms, "
                f"rules considered per cart {statistics.mean(considered[count]):.1f}, "
                f"rule checks {statistics.mean(checked[count]):,.0f}"
            )
        ratio = p95[large] / p95[small]
        verdict = "within" if ratio <= 2 else "NOT within"
        self.stdout.write(f"p95 ratio {large:,} / {small:,} promotions: {ratio:.2f} ({verdict} 2x)")
        if ratio > 2 and not naive:
            raise CommandError("pricing target missed")
