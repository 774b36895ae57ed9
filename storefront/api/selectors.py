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
from storefront.offers import card_offers, variant_offers


def product_page_path(slug: str) -> str:
    # The storefront pages are public contract (users' scripts use them): stable paths.
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


def product_list_items(*, cards: Sequence[ProductCard]) -> tuple[ProductListItem, ...]:
    """Add price and availability to a page of catalog cards. Two queries at most.

    Prices come from pricing's listing cache (no query when warm), stock from inventory.
    """
    return tuple(
        ProductListItem(
            slug=offer.card.slug,
            name=offer.card.name,
            brand=offer.card.brand,
            url=product_page_path(offer.card.slug),
            api_url=reverse("api:product-detail", kwargs={"slug": offer.card.slug}),
            image_url=offer.card.image_url,
            price_from=offer.from_price,
            currency=settings.STORE_CURRENCY,
            in_stock=offer.in_stock,
        )
        for offer in card_offers(cards)
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
    offers = variant_offers(product.variants)
    prices = [offer.price for offer in offers if offer.price is not None]
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
                sku=offer.variant.sku,
                name=offer.variant.name,
                attributes=dict(offer.variant.attributes),
                price=offer.price,
                available=offer.available,
            )
            for offer in offers
        ),
        price_from=min(prices, default=None),
        currency=settings.STORE_CURRENCY,
        in_stock=any(offer.purchasable for offer in offers),
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
