"""Reading search filters from a page's query string, forgivingly.

A page never answers 400 for a hand-edited link: a value that cannot be a filter
(a malformed price, an unknown category, a brand that is not a slug) is dropped and
the rest of the search still runs. The API is strict instead (its serializer).
"""

import re
from decimal import Decimal, InvalidOperation

from django.http import QueryDict

from catalog.interface import CategoryRef
from search.interface import MAX_QUERY_LENGTH, SEARCH_SORTS, SearchFilters
from toolkit.query import Param, QuerySpec, choice, decimal, slug, text, token

MAX_VALUES = 20
MAX_PRICE = Decimal("1000000")
# A request line is at most 4094 bytes under gunicorn; the page cuts a long query.
MAX_QUERY_CHARACTERS = 8192
MAX_CURSOR_LENGTH = 512

# What the search page reads. Only the cursor is strict (a forged one is a 400); the
# query is cut and the filters are forgiving (see above); anything else is dropped.
SEARCH_QUERY = QuerySpec(
    Param("q", text(max_length=MAX_QUERY_LENGTH), max_length=MAX_QUERY_CHARACTERS),
    Param("cursor", token(max_length=MAX_CURSOR_LENGTH), strict=True),
    Param("category", slug),
    Param("brand", slug, many=True, max_values=MAX_VALUES),
    Param("price", text(max_length=40)),
    Param("price_min", decimal(minimum=Decimal(0), maximum=MAX_PRICE)),
    Param("price_max", decimal(minimum=Decimal(0), maximum=MAX_PRICE)),
    Param("attr", text(max_length=125), many=True, max_values=MAX_VALUES),
    Param("in_stock", text(max_length=8)),
    Param("sort", choice(SEARCH_SORTS)),
)
_SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,140}$")
_ATTRIBUTE = re.compile(r"^([\w -]{1,40}):(.{1,80})$")


def _price(raw: str | None) -> Decimal | None:
    try:
        price = Decimal((raw or "").strip())
    except InvalidOperation:
        return None
    return price if price.is_finite() and 0 <= price <= MAX_PRICE else None


def _flag(raw: str | None) -> bool:
    return (raw or "").strip().lower() in {"1", "true", "yes", "on"}


def attribute_filters(values: list[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`name:value` pairs grouped by name: any value of a name, every name."""
    grouped: dict[str, list[str]] = {}
    for raw in values[:MAX_VALUES]:
        if match := _ATTRIBUTE.match(raw.strip()):
            name, value = match.group(1).strip().casefold(), match.group(2).strip()
            grouped.setdefault(name, []).append(value)
    return tuple((name, tuple(dict.fromkeys(v))) for name, v in sorted(grouped.items()))


def price_range(raw: str | None) -> tuple[Decimal | None, Decimal | None]:
    """A facet's `low-high` range ("500-" is open) as inclusive bounds, or no bounds."""
    low, _, high = (raw or "").partition("-")
    minimum, maximum = _price(low), _price(high) if high else None
    if minimum is None:
        return None, None
    return minimum, maximum - Decimal("0.01") if maximum is not None else None


def requested_search(
    params: QueryDict, *, tree: tuple[CategoryRef, ...]
) -> tuple[SearchFilters, str, CategoryRef | None]:
    """Return the filters, the sort and the category filter the page was asked for."""
    categories = {category.slug: category for category in tree}
    category = categories.get(params.get("category", ""))
    brands = [slug for slug in params.getlist("brand")[:MAX_VALUES] if _SLUG.match(slug)]
    price_min, price_max = price_range(params.get("price"))
    filters = SearchFilters(
        category_path=category.path if category else "",
        brand_slugs=tuple(dict.fromkeys(brands)),
        price_min=_price(params.get("price_min")) if price_min is None else price_min,
        price_max=_price(params.get("price_max")) if price_max is None else price_max,
        attributes=attribute_filters(params.getlist("attr")),
        in_stock=_flag(params.get("in_stock")),
    )
    sort = params.get("sort", "")
    return filters, sort if sort in SEARCH_SORTS else "relevance", category
