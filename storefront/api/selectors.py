"""API reads that compose several domains into one record per resource.

Catalog says what a product is, pricing what it costs, inventory whether it can be
bought. Each selector here asks each owner once for the whole page, so its query count
is fixed whatever the page size.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.urls import reverse

from catalog.interface import (
    BrandRef,
    CategoryRef,
    ImageInfo,
    ProductCard,
    category_tree,
    product_detail_by_slug,
)
from inventory.interface import availability_for_variants
from pricing.interface import prices_for_listing, prices_for_variants


def product_page_path(slug: str) -> str:
    # The storefront pages are public contract (DESIGN.md), so their paths are stable.
    return f"/p/{slug}/"


def category_page_path(slug: str) -> str:
    return f"/c/{slug}/"


@dataclass(frozen=True)
class ProductListItem:
    slug: str
    name: str
    brand: BrandRef
    url: str
    api_url: str
    image_url: str
    price_from: Decimal | None
    currency: str
    in_stock: bool


@dataclass(frozen=True)
class CategoryLink:
    slug: str
    name: str
    url: str


@dataclass(frozen=True)
class VariantItem:
    sku: str
    name: str
    attributes: dict[str, str]
    price: Decimal | None
    available: int


@dataclass(frozen=True)
class ProductDetailItem:
    slug: str
    name: str
    description: str
    brand: BrandRef
    category: CategoryLink
    breadcrumbs: tuple[CategoryLink, ...]
    url: str
    images: tuple[ImageInfo, ...]
    variants: tuple[VariantItem, ...]
    price_from: Decimal | None
    currency: str
    in_stock: bool


@dataclass(frozen=True)
class CategoryItem:
    id: int
    slug: str
    name: str
    parent: str | None
    depth: int
    url: str
    products_url: str


def _price_from(prices: dict[int, Decimal], variant_ids: Sequence[int]) -> Decimal | None:
    priced = [prices[variant_id] for variant_id in variant_ids if variant_id in prices]
    return min(priced) if priced else None


def _in_stock(
    prices: dict[int, Decimal], available: dict[int, int], variant_ids: Sequence[int]
) -> bool:
    # Stock of a SKU that has no price cannot be bought, so it does not count.
    return any(
        variant_id in prices and available.get(variant_id, 0) > 0 for variant_id in variant_ids
    )


def product_list_items(*, cards: Sequence[ProductCard]) -> tuple[ProductListItem, ...]:
    """Add price and availability to a page of catalog cards. Two queries at most.

    Prices come from pricing's listing cache (no query when warm), stock from inventory.
    """
    variant_ids = [variant_id for card in cards for variant_id in card.variant_ids]
    prices = prices_for_listing(variant_ids=variant_ids)
    available = availability_for_variants(variant_ids=variant_ids)
    return tuple(
        ProductListItem(
            slug=card.slug,
            name=card.name,
            brand=card.brand,
            url=product_page_path(card.slug),
            api_url=reverse("api:product-detail", kwargs={"slug": card.slug}),
            image_url=card.image_url,
            price_from=_price_from(prices, card.variant_ids),
            currency=settings.STORE_CURRENCY,
            in_stock=_in_stock(prices, available, card.variant_ids),
        )
        for card in cards
    )


def _category_link(category: CategoryRef) -> CategoryLink:
    return CategoryLink(
        slug=category.slug, name=category.name, url=category_page_path(category.slug)
    )


def product_detail_item(*, slug: str) -> ProductDetailItem | None:
    """Return a product with each variant's price and stock, or None. Six queries."""
    product = product_detail_by_slug(slug=slug)
    if product is None:
        return None
    variant_ids = [variant.id for variant in product.variants]
    prices = prices_for_variants(variant_ids=variant_ids)
    available = availability_for_variants(variant_ids=variant_ids)
    return ProductDetailItem(
        slug=product.slug,
        name=product.name,
        description=product.description,
        brand=product.brand,
        category=_category_link(product.category),
        breadcrumbs=tuple(_category_link(category) for category in product.breadcrumbs),
        url=product_page_path(product.slug),
        images=product.images,
        variants=tuple(
            VariantItem(
                sku=variant.sku,
                name=variant.name,
                attributes=dict(variant.attributes),
                price=prices.get(variant.id),
                available=available.get(variant.id, 0),
            )
            for variant in product.variants
        ),
        price_from=_price_from(prices, variant_ids),
        currency=settings.STORE_CURRENCY,
        in_stock=_in_stock(prices, available, variant_ids),
    )


def category_items() -> tuple[CategoryItem, ...]:
    """Return the category tree, depth-first, each node naming its parent. One query."""
    tree = category_tree()
    slugs = {category.id: category.slug for category in tree}
    products_path = reverse("api:product-list")
    return tuple(
        CategoryItem(
            id=category.id,
            slug=category.slug,
            name=category.name,
            parent=slugs.get(category.parent_id) if category.parent_id else None,
            depth=category.depth,
            url=category_page_path(category.slug),
            products_url=f"{products_path}?category={category.slug}",
        )
        for category in tree
    )
