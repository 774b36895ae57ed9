"""Composing catalog listings with their prices and stock, and reading listing parameters.

Prices belong to pricing and stock to inventory, so a listing asks each owner once for
every variant on the page: two queries however many cards the page shows.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.http import Http404, HttpRequest

from catalog.interface import PRODUCT_SORTS, ProductCard, ProductSort, VariantInfo
from inventory.interface import availability_for_variants
from pricing.interface import prices_for_listing, prices_for_variants
from search.interface import MAX_QUERY_LENGTH
from toolkit.pagination import InvalidPage, Page, parse_page_number

LOW_STOCK = 5
MAX_BRAND_FILTERS = 20
_SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,140}$")


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


@dataclass(frozen=True)
class PageLinks:
    number: int
    num_pages: int
    previous_url: str | None
    next_url: str | None


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
                in_stock=any(available.get(v, 0) > 0 for v in card.variant_ids),
            )
        )
    return tuple(offers)


def variant_offers(variants: Sequence[VariantInfo]) -> tuple[VariantOffer, ...]:
    """Attach price and stock to each variant of one product. Two queries."""
    variant_ids = [variant.id for variant in variants]
    prices = prices_for_variants(variant_ids=variant_ids)
    available = availability_for_variants(variant_ids=variant_ids)
    return tuple(
        VariantOffer(variant=v, price=prices.get(v.id), available=available.get(v.id, 0))
        for v in variants
    )


def requested_page(request: HttpRequest) -> int:
    """Read `?page=`; anything but a whole number from 1 is a 404, as for a missing page."""
    try:
        return parse_page_number(request.GET.get("page"))
    except InvalidPage as error:
        raise Http404(error.message) from None


def requested_sort(request: HttpRequest) -> ProductSort:
    """Read `?sort=`; an unknown value falls back to "popular".

    Falling back instead of answering 400 keeps old or hand-typed links working, and the
    canonical link drops `sort`, so search engines never index the variants.
    """
    sort = request.GET.get("sort", "")
    return sort if sort in PRODUCT_SORTS else "popular"  # type: ignore[return-value]


def requested_brands(request: HttpRequest) -> tuple[str, ...]:
    """Read repeatable `?brand=`; values that cannot be slugs are dropped, not queried."""
    slugs = [slug for slug in request.GET.getlist("brand") if _SLUG.match(slug)]
    return tuple(dict.fromkeys(slugs))[:MAX_BRAND_FILTERS]


def requested_query(request: HttpRequest) -> str:
    """Read `?q=` as search will see it: no NUL bytes (PostgreSQL refuses them), bounded."""
    return " ".join(request.GET.get("q", "").replace("\x00", "").split())[:MAX_QUERY_LENGTH]


def page_links(request: HttpRequest, page: Page) -> PageLinks:
    """Previous and next links that keep the request's other parameters."""

    def url_for(number: int) -> str:
        params = request.GET.copy()
        params.pop("page", None)
        if number > 1:
            params["page"] = str(number)
        return f"{request.path}?{params.urlencode()}" if params else request.path

    return PageLinks(
        number=page.number,
        num_pages=page.num_pages,
        previous_url=url_for(page.number - 1) if page.has_previous else None,
        next_url=url_for(page.number + 1) if page.has_next else None,
    )


def listing_page(number: int) -> str:
    """The canonical query suffix for a listing page: page 1 is the bare path."""
    return f"?page={number}" if number > 1 else ""
