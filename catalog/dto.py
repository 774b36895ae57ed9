"""Plain records catalog hands to other apps. Never model instances."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class CategoryRef:
    id: int
    name: str
    slug: str
    depth: int
    parent_id: int | None
    path: str


@dataclass(frozen=True)
class BrandRef:
    id: int
    name: str
    slug: str


@dataclass(frozen=True)
class BrandFacet:
    brand: BrandRef
    count: int


@dataclass(frozen=True)
class ProductCard:
    """What a listing needs to show one product; prices and stock come from their owners."""

    id: int
    slug: str
    name: str
    brand: BrandRef
    category_id: int
    image_url: str
    popularity: int
    variant_ids: tuple[int, ...]


@dataclass(frozen=True)
class VariantInfo:
    id: int
    sku: str
    name: str
    attributes: Mapping[str, str]


@dataclass(frozen=True)
class ImageInfo:
    url: str
    alt: str


@dataclass(frozen=True)
class ProductDetail:
    id: int
    slug: str
    name: str
    description: str
    brand: BrandRef
    category: CategoryRef
    breadcrumbs: tuple[CategoryRef, ...]
    images: tuple[ImageInfo, ...]
    variants: tuple[VariantInfo, ...]
    popularity: int
    updated_at: datetime


@dataclass(frozen=True)
class VariantSummary:
    """A SKU with the product facts carts, pricing rules and orders need."""

    id: int
    sku: str
    name: str
    product_id: int
    product_name: str
    product_slug: str
    image_url: str
    brand_id: int
    category_id: int
    category_path: str


@dataclass(frozen=True)
class ProductSearchSource:
    """Everything the search read model derives from one product."""

    id: int
    slug: str
    name: str
    description: str
    brand: BrandRef
    category: CategoryRef
    image_url: str
    popularity: int
    created_at: datetime
    is_published: bool
    variants: tuple[VariantInfo, ...]


@dataclass(frozen=True)
class SitemapEntry:
    slug: str
    updated_at: datetime | None


@dataclass(frozen=True)
class CategoryInput:
    name: str
    slug: str
    parent_slug: str | None = None
    description: str = ""


@dataclass(frozen=True)
class BrandInput:
    name: str
    slug: str


@dataclass(frozen=True)
class VariantInput:
    sku: str
    name: str
    attributes: Mapping[str, str]


@dataclass(frozen=True)
class ProductInput:
    name: str
    slug: str
    category_slug: str
    brand_slug: str
    description: str
    image_urls: tuple[str, ...]
    popularity: int
    variants: tuple[VariantInput, ...]
