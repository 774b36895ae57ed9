"""Pricing's caches, declared here and nowhere else (see `python manage.py cache_registry`).

Only pricing's write services invalidate them, through the toolkit's cache registry
(generational keys bumped after commit). Two namespaces:
- `pricing.price`, listing prices: one entry per variant holding every active list's
  price with its validity window, so the effective price is resolved at read time and a
  campaign starting or ending needs no purge. Keyed (`CacheSpec.keyed`): `prices_import`
  retires, after commit, the entries of the variants it changed, and a feed past
  `SCOPED_INVALIDATION_MAX` variants all of them in one step. Edits that bypass the
  services (the admin) show after `PRICING_PRICE_CACHE_TTL` seconds at most, and
  `cache_audit` reports them.
- `pricing.promotions`, the promotion index version: each process keeps its compiled
  `PromotionIndex` and recompiles when this shared version changes; promotion writes
  bump it after commit.
"""

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

from toolkit.cache import CacheSpec, CacheUnavailable, Stampede, declare


@dataclass(frozen=True)
class PriceEntry:
    """One list's price for a variant, with the list's validity window."""

    amount: Decimal
    valid_from: datetime | None
    valid_until: datetime | None

    def valid_at(self, at: datetime) -> bool:
        return (self.valid_from is None or self.valid_from <= at) and (
            self.valid_until is None or at < self.valid_until
        )


def effective_price(entries: Iterable[PriceEntry], at: datetime) -> Decimal | None:
    """The first entry valid at `at`; entries come highest list priority first."""
    return next((entry.amount for entry in entries if entry.valid_at(at)), None)


def _audit_prices(entries: Mapping[str, Any]) -> Mapping[str, Any]:
    from pricing.selectors import price_entries_for_variants

    current = price_entries_for_variants(variant_ids=[int(key) for key in entries])
    return {key: current.get(int(key), ()) for key in entries}


PRICES = declare(
    CacheSpec(
        namespace="pricing.price",
        owner="pricing",
        entity="every active list's price of a variant, with the lists' validity windows",
        key_schema="<variant id>",
        ttl=settings.PRICING_PRICE_CACHE_TTL,
        invalidated_by=("prices_import",),
        staleness_tolerance=0,
        stampede=Stampede.BATCH,
        # A connector writes a price a second under campaign traffic: retiring every
        # variant's entry each time left one read in ten a hit in the campaign spike.
        keyed=True,
        audit=_audit_prices,
        notes="Checkout never reads it: carts are priced from the database.",
        shape=tuple[PriceEntry, ...],
    )
)

PROMOTIONS = declare(
    CacheSpec(
        namespace="pricing.promotions",
        owner="pricing",
        entity="the version of the active promotions (each process compiles its index)",
        key_schema="(the generation only; no entries)",
        ttl=settings.PRICING_INDEX_MAX_AGE,
        invalidated_by=("promotions_create",),
        staleness_tolerance=0,
        stampede=Stampede.SINGLE_FLIGHT,
        notes="A process also recompiles after PRICING_INDEX_MAX_AGE, so ended ones drop out.",
        shape=None,
    )
)


def price_entries(
    variant_ids: Iterable[int],
    read: Callable[[list[int]], Mapping[int, tuple[PriceEntry, ...]]],
) -> dict[int, tuple[PriceEntry, ...]]:
    """Each variant's cached entries, `read` from the database for those the cache does
    not hold (and cached, empty ones too: a variant without a price is worth
    remembering). One cache round trip, and `read` once for the misses."""

    def read_all(missing: list[int]) -> dict[int, tuple[PriceEntry, ...]]:
        found = read(missing)
        return {variant_id: found.get(variant_id, ()) for variant_id in missing}

    return PRICES.get_many_or_compute(variant_ids, read_all)


def prices_invalidate(variant_ids: Iterable[int]) -> None:
    """Retire the listing prices of `variant_ids` once the transaction commits.

    Only their entries go (past `SCOPED_INVALIDATION_MAX` variants, every entry: one
    write for a whole feed), and only the pages that showed one of them.
    """
    PRICES.invalidate_on_commit(variant_ids)


def prices_read(variant_ids: Iterable[int]) -> None:
    """Tell a page being computed which variants' prices it shows (`CacheSpec.tracks`)."""
    PRICES.reads(variant_ids)


def promotions_version() -> str:
    """The shared version of the active promotions; a fresh one if the cache is down."""
    try:
        return PROMOTIONS.version()
    except CacheUnavailable:
        return uuid.uuid4().hex


def promotions_version_bump() -> None:
    """Make every process recompile its promotion index, once the write commits."""
    PROMOTIONS.invalidate_on_commit()
