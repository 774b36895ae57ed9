"""Price and stock attached to catalog records, for the pages and the API alike.

One place decides what "from price" and "in stock" mean, so a listing page and
`GET /api/v1/products/` never disagree about the same product. Both read prices from
pricing's listing cache, which a price change retires on commit: a shown price is the
one the database holds, and a warm one costs no query. A cart is priced from the rows.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from catalog.interface import ProductCard, VariantInfo
from inventory.interface import AVAILABILITY_SHOWN_BELOW, availability_for_variants
from pricing.interface import prices_for_listing

# Below this a page shows how many are left; inventory retires pages by the same rule.
LOW_STOCK = AVAILABILITY_SHOWN_BELOW


@dataclass(frozen=True)
class CardOffer:
    """A product card with the lowest price of its variants and whether any is in stock."""

    card: ProductCard
    from_price: Decimal | None
    in_stock: bool


@dataclass(frozen=True)
class VariantOffer:
    variant: VariantInfo
    price: Decimal | None
    available: int

    @property
    def purchasable(self) -> bool:
        return self.price is not None and self.available > 0

    @property
    def low_stock(self) -> bool:
        return 0 < self.available < LOW_STOCK


def card_offers(cards: Sequence[ProductCard]) -> tuple[CardOffer, ...]:
    """Attach price and stock to every card. Two queries for the whole page at most.

    Prices come from pricing's listing cache (no query when warm), stock from inventory.
    """
    variant_ids = [variant_id for card in cards for variant_id in card.variant_ids]
    prices = prices_for_listing(variant_ids=variant_ids)
    available = availability_for_variants(variant_ids=variant_ids)
    offers = []
    for card in cards:
        card_prices = [prices[v] for v in card.variant_ids if v in prices]
        offers.append(
            CardOffer(
                card=card,
                from_price=min(card_prices, default=None),
                # Stock of a SKU without a price cannot be bought, so it does not count.
                in_stock=any(v in prices and available.get(v, 0) > 0 for v in card.variant_ids),
            )
        )
    return tuple(offers)


def variant_offers(variants: Sequence[VariantInfo]) -> tuple[VariantOffer, ...]:
    """Attach price and stock to each variant of one product. Two queries at most.

    Prices as the listings show them (about a tenth of the database query's cost when
    the product's prices are cached, as they are once a listing has shown it).
    """
    variant_ids = [variant.id for variant in variants]
    prices = prices_for_listing(variant_ids=variant_ids)
    available = availability_for_variants(variant_ids=variant_ids)
    return tuple(
        VariantOffer(variant=v, price=prices.get(v.id), available=available.get(v.id, 0))
        for v in variants
    )
