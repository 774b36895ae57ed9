"""Seed a deterministic, realistic store: `python manage.py seed_store --products N --seed S`.

`--grow-to N` adds products to a seeded store until it has N (none when it has as many):
what the lab's search exercise needs, a catalog that outgrew its search.
"""

import random
import time
from collections.abc import Iterable, Iterator
from decimal import Decimal
from itertools import islice
from typing import TypeVar

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from catalog.interface import (
    brands_import,
    catalog_extent,
    category_create,
    category_tree_query,
    product_cards_popular,
    products_import,
)
from devstack import seeding
from inventory.interface import StockReceipt, stock_receive
from pricing.interface import (
    CouponInput,
    PriceInput,
    PromotionInput,
    coupons_create,
    price_list_create,
    prices_import,
    promotions_create,
)
from search.interface import search_reindex
from toolkit import changes

BATCH = 1000
T = TypeVar("T")


def _batches(items: Iterable[T], size: int) -> Iterator[tuple[T, ...]]:
    iterator = iter(items)
    while chunk := tuple(islice(iterator, size)):
        yield chunk


class Command(BaseCommand):
    help = "Seed categories, brands, products, variants, prices, stock and promotions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--products", type=int, default=10_000)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when products already exist"
        )
        parser.add_argument(
            "--grow-to",
            type=int,
            help="on a seeded store: add products until there are this many",
        )
        parser.add_argument(
            "--promotions",
            type=int,
            default=0,
            help="then `seed_promotions --count N`: a storm of per-SKU markdowns",
        )

    def handle(
        self,
        *args: object,
        products: int,
        seed: int,
        if_empty: bool,
        grow_to: int | None = None,
        promotions: int = 0,
        **_: object,
    ) -> None:
        if products < 1:
            raise CommandError("--products must be at least 1")
        if promotions < 0:
            raise CommandError("--promotions must be 0 or more")
        # The system of record, not the cache: a writer must not trust a cached read.
        if grow_to is not None:
            self._grow(grow_to, seed=seed)
            return
        if category_tree_query():
            if if_empty:
                self.stdout.write("Store already seeded; leaving it as it is.")
                return
            raise CommandError("The store already has data; seed an empty database.")
        started = time.perf_counter()
        rng = random.Random(seed)
        brands = seeding.brands(rng)
        with transaction.atomic():
            for category in seeding.categories():
                category_create(data=category)
            brands_import(brands=brands)
        brand_slugs = [brand.slug for brand in brands]
        price_list_create(code="base", name="Base prices")
        price_list_create(code="campaign", name="Campaign prices", kind="campaign", priority=10)
        done = 0
        products_iter = seeding.products(rng, count=products, brand_slugs=brand_slugs)
        # The read model is rebuilt in one pass at the end; per-batch change
        # notifications would only queue the same work a hundred times.
        with changes.muted():
            for chunk in _batches(products_iter, BATCH):
                self._seed_batch(rng, chunk)
                done += len(chunk)
                elapsed = time.perf_counter() - started
                self.stdout.write(
                    f"  {done:>7,}/{products:,} products  {elapsed:5.1f}s", ending="\r"
                )
                self.stdout.flush()
        self.stdout.write("")
        self._seed_promotions(rng)
        if promotions:
            call_command("seed_promotions", count=promotions, seed=seed, stdout=self.stdout)
        indexed = search_reindex(batch_size=BATCH)
        self.stdout.write(f"  {indexed:,} products indexed for search")
        elapsed = time.perf_counter() - started
        self.stdout.write(self.style.SUCCESS(f"Seeded {products:,} products in {elapsed:.1f}s."))

    def _grow(self, target: int, *, seed: int) -> None:
        """Add products after the existing ones (their numbers, slugs and SKUs continue
        where the store's end), then rebuild the search read model."""
        started = time.perf_counter()
        existing, brand_slugs = catalog_extent()
        if not existing:
            raise CommandError("--grow-to adds to a seeded store; seed it first")
        if existing >= target:
            self.stdout.write(f"The store has {existing:,} products; nothing to add.")
            return
        rng = random.Random(seed + existing)
        new = islice(
            seeding.products(rng, count=target, brand_slugs=list(brand_slugs)), existing, None
        )
        with changes.muted():
            for chunk in _batches(new, BATCH):
                self._seed_batch(rng, chunk)
        indexed = search_reindex(batch_size=BATCH)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Grew the store from {existing:,} to {target:,} products in {elapsed:.1f}s "
                f"({indexed:,} indexed for search)."
            )
        )

    @transaction.atomic
    def _seed_batch(self, rng: random.Random, chunk: tuple[seeding.SeedProduct, ...]) -> None:
        variant_ids = products_import(products=[item.product for item in chunk])
        base_prices, campaign_prices, receipts = [], [], []
        for item in chunk:
            for variant, price, units in zip(
                item.product.variants, item.base_prices, item.stock, strict=True
            ):
                variant_id = variant_ids[variant.sku]
                base_prices.append(PriceInput(variant_id=variant_id, amount=price))
                if rng.random() < 0.05:
                    campaign = (price * Decimal("0.8")).quantize(Decimal("0.01"))
                    campaign_prices.append(PriceInput(variant_id=variant_id, amount=campaign))
                if units:
                    receipts.append(StockReceipt(variant_id=variant_id, quantity=units))
        prices_import(price_list_code="base", prices=base_prices)
        prices_import(price_list_code="campaign", prices=campaign_prices)
        stock_receive(receipts=receipts, reference="seed")

    def _seed_promotions(self, rng: random.Random) -> None:
        tree = category_tree_query()
        roots = [c for c in tree if c.depth == 0]
        hot = product_cards_popular(limit=1)
        promotions = [
            PromotionInput(
                name=f"10% off {root.name}",
                kind="percent",
                value=Decimal("10"),
                target="category",
                target_ref=root.path,
            )
            for root in rng.sample(roots, 2)
        ]
        if hot:
            promotions.append(
                PromotionInput(
                    name=f"5 off every {hot[0].brand.name} item",
                    kind="fixed",
                    value=Decimal("5"),
                    target="brand",
                    target_ref=str(hot[0].brand.id),
                    priority=1,
                )
            )
        promotions_create(promotions=promotions)
        coupons_create(
            coupons=[
                CouponInput(code=code, kind=kind, value=value, max_uses=max_uses)
                for code, kind, value, max_uses in seeding.COUPONS
            ]
        )
