"""Turning search facet counts into what the search page's filter form shows."""

from dataclasses import dataclass

from catalog.interface import CategoryRef
from search.interface import SearchFacets, SearchFilters


@dataclass(frozen=True)
class FacetOption:
    param: str  # the query-string value that selects it
    label: str
    count: int
    selected: bool


@dataclass(frozen=True)
class FacetGroups:
    categories: tuple[tuple[CategoryRef, int], ...]
    brands: tuple[FacetOption, ...]
    prices: tuple[FacetOption, ...]
    attributes: tuple[tuple[str, tuple[FacetOption, ...]], ...]
    in_stock: int


def search_facet_groups(
    facets: SearchFacets | None,
    *,
    tree: tuple[CategoryRef, ...],
    filters: SearchFilters,
    price_range: str = "",
) -> FacetGroups | None:
    """Group counts for the form: categories one level below the current one. No query."""
    if facets is None:
        return None
    parent = next((c for c in tree if c.path == filters.category_path), None)
    children = [c for c in tree if c.parent_id == (parent.id if parent else None)]
    category_counts = []
    for child in children:
        count = sum(f.count for f in facets.categories if f.value.startswith(child.path))
        if count:
            category_counts.append((child, count))
    chosen_attributes = dict(filters.attributes)
    return FacetGroups(
        categories=tuple(category_counts),
        brands=tuple(
            FacetOption(f.value, f.label, f.count, f.value in filters.brand_slugs)
            for f in facets.brands
        ),
        prices=tuple(
            FacetOption(f.value, f.label, f.count, f.value == price_range)
            for f in facets.price_ranges
        ),
        attributes=tuple(
            (
                name,
                tuple(
                    FacetOption(
                        f"{name}:{f.value}",
                        f.label,
                        f.count,
                        f.value in chosen_attributes.get(name, ()),
                    )
                    for f in values
                ),
            )
            for name, values in facets.attributes
        ),
        in_stock=facets.in_stock,
    )
