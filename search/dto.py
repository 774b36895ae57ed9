"""Plain records search hands to other apps."""

from dataclasses import dataclass, field
from decimal import Decimal

from catalog.interface import ProductCard

SEARCH_SORTS = ("relevance", "popular", "price_asc", "price_desc", "newest")


@dataclass(frozen=True)
class SearchFilters:
    """Narrowing a search; every part is optional and all parts combine with AND."""

    category_path: str = ""  # a category subtree, by materialised path
    brand_slugs: tuple[str, ...] = ()
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    # (attribute name, accepted values): a product matches if any variant offers one.
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    in_stock: bool = False

    @property
    def is_empty(self) -> bool:
        return self == SearchFilters()


NO_FILTERS = SearchFilters()
# Joins the names of a category's ancestors in the searchable category text.
CATEGORY_SEPARATOR = " / "


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int


@dataclass(frozen=True)
class SearchFacets:
    """Counts over the whole result set, for narrowing it further."""

    categories: tuple[FacetValue, ...]  # value: category path (leaf categories)
    brands: tuple[FacetValue, ...]  # value: brand slug
    price_ranges: tuple[FacetValue, ...]  # value: "min-max" ("500-" is open)
    attributes: tuple[tuple[str, tuple[FacetValue, ...]], ...]
    in_stock: int


@dataclass(frozen=True)
class SearchResults:
    query: str
    sort: str
    items: tuple[ProductCard, ...]
    # Matches counted up to SEARCH_POOL_SIZE; `count_capped` says there are more.
    count: int
    count_capped: bool
    next_cursor: str | None
    facets: SearchFacets | None
    # True when facets were left out to stay within the latency budget.
    degraded: bool = False
    notices: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Suggestion:
    name: str
    slug: str
