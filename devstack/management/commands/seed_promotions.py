"""`python manage.py seed_promotions --count N`: a storm of per-SKU markdowns on a seeded store.

What grows to thousands in a campaign (broad campaigns stay few): `count` markdowns of 1 to
5% on seeded SKUs, deterministic for a seed. Idempotent: a store that already has `count`
storm markdowns is left as it is, so the lab's `promotions-naive` exercise can run it
before every run on the same store.
"""

import random
from decimal import Decimal
from itertools import chain, islice

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.interface import variant_sku_batches
from pricing.interface import PromotionInput, promotions_create, promotions_named_count

STORM_NAME = "Storm markdown"
BATCH = 1000


class Command(BaseCommand):
    help = "Add per-SKU markdowns until the store has --count of them (the promotion storm)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, required=True, help="storm markdowns wanted")
        parser.add_argument("--seed", type=int, default=42, help="random seed")

    def handle(self, *args: object, count: int, seed: int, **_: object) -> None:
        if count < 0:
            raise CommandError("--count must be 0 or more")
        skus = list(chain.from_iterable(b.values() for b in variant_sku_batches(batch_size=BATCH)))
        if not skus:
            raise CommandError("The store has no SKUs: run seed_store first.")
        have = promotions_named_count(prefix=STORM_NAME)
        if have >= count:
            self.stdout.write(f"  {have:,} storm promotions already; leaving them as they are")
            return
        rng = random.Random(seed)
        markdowns = (
            PromotionInput(
                name=f"{STORM_NAME} {index + 1}",
                kind="percent",
                value=Decimal(rng.randint(1, 5)),
                target="sku",
                target_ref=rng.choice(skus),
            )
            for index in range(have, count)
        )
        while chunk := list(islice(markdowns, BATCH)):
            promotions_create(promotions=chunk)
        self.stdout.write(f"  {count:,} storm promotions (per-SKU markdowns)")
