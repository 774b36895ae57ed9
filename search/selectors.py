"""Search reads over the read model: full text, filters, keyset pages, facets, suggestions.

Query cost, whatever the catalog size: the one step whose work grows with the number of
matches is choosing the *pool*, the `SEARCH_COUNT_LIMIT` most popular matches (an index
walk by popularity or a GIN bitmap, as the planner sees fit). Everything else works on
the pool or on one page:
- the count is the pool's size ("1,000+" past the limit);
- relevance ranks the pool only: PostgreSQL cannot take the top rows by ts_rank from a
  GIN index, so ranking every match would grow with the catalog. A word that matches a
  tenth of a big catalog is ranked among its thousand most popular products;
- the other sorts page through every match from the cursor (keyset, no OFFSET);
- facets count the pool (two queries over its ids), are cached until the read model
  changes (`search.caches`), are skipped when the results already used up half of
  `SEARCH_LATENCY_BUDGET`, and cancelled if they would overrun it (the answer then says
  `degraded`).
"""

import time
from collections import Counter
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import Count, Exists, F, FloatField, OuterRef, Q, QuerySet
from django.db.models.functions import Cast

from catalog.interface import BrandRef, ProductCard
from search.caches import FACETS, SUGGESTIONS
from search.deadline import QueryTimedOut, query_deadline
from search.dto import (
    CATEGORY_SEPARATOR,
    NO_FILTERS,
    FacetValue,
    SearchFacets,
    SearchFilters,
    SearchResults,
    Suggestion,
)
from search.models import SearchAttribute, SearchDocument
from search.query import (
    Cursor,
    cursor_decode,
    cursor_encode,
    fingerprint,
    fts5_query,
    postgres_tsquery,
    query_terms,
)

PRICE_RANGES = ((0, 25), (25, 50), (50, 100), (100, 250), (250, 500), (500, None))
FACET_LIMIT = 20
# Suggestions rank this many of the most popular matches (a search ranks its whole pool).
SUGGESTION_POOL = 200
CARD_FIELDS = (
    "product_id",
    "slug",
    "name",
    "brand_id",
    "brand_slug",
    "brand_name",
    "category_id",
    "image_url",
    "popularity",
    "variant_ids",
    "min_price",
    "created_at",
)

# Keyset orders: (field, descending) pairs ending in the primary key, so every row has
# one place in the order and a cursor names it exactly.
SORT_KEYS: dict[str, tuple[tuple[str, bool], ...]] = {
    "popular": (("popularity", True), ("product_id", False)),
    "price_asc": (("min_price", False), ("product_id", False)),
    "price_desc": (("min_price", True), ("product_id", False)),
    "newest": (("created_at", True), ("product_id", True)),
}
# PostgreSQL's ts_rank grows with relevance; FTS5's bm25 rank shrinks with it.
RELEVANCE_KEYS = {
    "postgresql": (("rank", True), ("popularity", True), ("product_id", False)),
    "sqlite": (("rank", False), ("popularity", True), ("product_id", False)),
}


def _matching(terms: tuple[str, ...], filters: SearchFilters) -> QuerySet[SearchDocument]:
    """Documents matching every term (as prefixes) and every filter; no ordering."""
    documents = SearchDocument.objects.all()
    if terms and connection.vendor == "postgresql":
        documents = documents.filter(search_vector=_tsquery(terms))
    elif terms:
        documents = documents.filter(fts__search_fts__match=fts5_query(terms))
    if filters.category_path:
        documents = documents.filter(category_path__startswith=filters.category_path)
    if filters.brand_slugs:
        documents = documents.filter(brand_slug__in=filters.brand_slugs)
    if filters.price_min is not None:
        documents = documents.filter(min_price__gte=filters.price_min)
    if filters.price_max is not None:
        documents = documents.filter(min_price__lte=filters.price_max)
    for name, values in filters.attributes:
        offered = SearchAttribute.objects.filter(
            document_id=OuterRef("product_id"), name=name, value__in=values
        )
        documents = documents.filter(Exists(offered))
    if filters.in_stock:
        documents = documents.filter(in_stock=True)
    return documents


def _tsquery(terms: tuple[str, ...]) -> SearchQuery:
    return SearchQuery(postgres_tsquery(terms), search_type="raw", config="simple")


def _pool_ids(matching: QuerySet[SearchDocument], size: int) -> list[int]:
    """The ids of the `size` most popular matches, most popular first. One query."""
    popular = [f"-{name}" if descending else name for name, descending in SORT_KEYS["popular"]]
    return list(matching.order_by(*popular).values_list("product_id", flat=True)[:size])


def _ranked(
    matching: QuerySet[SearchDocument], terms: tuple[str, ...], pool: list[int]
) -> QuerySet[SearchDocument]:
    """The pool's documents with their relevance as `rank`."""
    if connection.vendor == "postgresql":
        # The pool already matched: ts_rank reads its rows by id, no GIN scan again.
        rank = SearchRank(F("search_vector"), _tsquery(terms))
        pooled = SearchDocument.objects.filter(product_id__in=pool)
        return pooled.annotate(rank=Cast(rank, FloatField()))
    # FTS5 computes bm25 only for rows of a MATCH query.
    return matching.filter(product_id__in=pool).annotate(rank=F("fts__rank"))


def _after(keys: tuple[tuple[str, bool], ...], values: tuple) -> Q:
    """Rows strictly after `values` in the keyset order `keys` (a row-value comparison)."""
    condition = Q()
    for position, (name, descending) in enumerate(keys):
        step = Q(**{name: value for (name, _), value in zip(keys[:position], values, strict=False)})
        step &= Q(**{f"{name}__{'lt' if descending else 'gt'}": values[position]})
        condition |= step
    return condition


def _card(document: SearchDocument) -> ProductCard:
    return ProductCard(
        id=document.product_id,
        slug=document.slug,
        name=document.name,
        brand=BrandRef(id=document.brand_id, name=document.brand_name, slug=document.brand_slug),
        category_id=document.category_id,
        image_url=document.image_url,
        popularity=document.popularity,
        variant_ids=tuple(document.variant_ids),
    )


def search_documents(
    *,
    query: str,
    filters: SearchFilters = NO_FILTERS,
    sort: str = "relevance",
    cursor: str | None = None,
    per_page: int = 24,
) -> SearchResults:
    """Return one page of matches from `cursor` on, with facets when time allows.

    A query with no words and no filters matches nothing. Raises InvalidCursor for a
    cursor this server did not issue for this very search.
    """
    started = time.monotonic()
    terms = query_terms(query)
    if not terms and filters.is_empty:
        return SearchResults(query, sort, (), 0, False, None, None)
    if sort == "relevance" and not terms:
        sort = "popular"
    keys = RELEVANCE_KEYS[_vendor()] if sort == "relevance" else SORT_KEYS[sort]
    search_id = fingerprint(terms, filters, sort)

    matching = _matching(terms, filters)
    limit = settings.SEARCH_COUNT_LIMIT
    pool = _pool_ids(matching, limit + 1)
    count_capped = len(pool) > limit
    pool = pool[:limit]
    page_rows = _ranked(matching, terms, pool) if sort == "relevance" else matching
    if cursor:
        after = cursor_decode(cursor, expected_fingerprint=search_id, key_length=len(keys))
        page_rows = page_rows.filter(_after(keys, after.key))
    order = [f"-{name}" if descending else name for name, descending in keys]
    rows = list(page_rows.only(*CARD_FIELDS).order_by(*order)[: per_page + 1])
    next_cursor = None
    if len(rows) > per_page:
        rows = rows[:per_page]
        last = rows[-1]
        next_cursor = cursor_encode(
            Cursor(search_id, tuple(getattr(last, name) for name, _ in keys))
        )

    facets, degraded = _facets_within_budget(pool, search_id, started=started)
    return SearchResults(
        query=query,
        sort=sort,
        items=tuple(_card(row) for row in rows),
        count=len(pool),
        count_capped=count_capped,
        next_cursor=next_cursor,
        facets=facets,
        degraded=degraded,
        notices=("Filter counts are unavailable right now.",) if degraded else (),
    )


def _vendor() -> str:
    return "postgresql" if connection.vendor == "postgresql" else "sqlite"


def _facets_within_budget(
    pool: list[int], search_id: str, *, started: float
) -> tuple[SearchFacets | None, bool]:
    """Cached facets, or fresh ones if the budget allows; (None, True) past the budget."""
    cached = FACETS.get(search_id)
    if cached is not None:
        return cached, False
    budget = settings.SEARCH_LATENCY_BUDGET
    spent = time.monotonic() - started
    if spent > budget / 2:
        return None, True
    try:
        with query_deadline(budget - spent):
            facets = _facets(pool)
    except QueryTimedOut:
        return None, True
    FACETS.set_many({search_id: facets})
    return facets, False


def _facets(pool: list[int]) -> SearchFacets:
    """Counts by brand, leaf category, price range, stock and attribute value over the
    pool. Two queries: the pool's facet columns (counted here: at most
    SEARCH_COUNT_LIMIT rows) and its attribute values (counted by the database)."""
    brands: Counter[tuple[str, str]] = Counter()
    categories: Counter[tuple[str, str]] = Counter()
    ranges: Counter[str] = Counter()
    in_stock = 0
    rows = SearchDocument.objects.filter(product_id__in=pool).values_list(
        "brand_slug", "brand_name", "category_path", "category_names", "min_price", "in_stock"
    )
    for brand_slug, brand_name, category_path, category_names, min_price, stocked in rows:
        brands[brand_slug, brand_name] += 1
        categories[category_path, category_names] += 1
        ranges[_price_range(min_price)] += 1
        in_stock += stocked
    attributes = (
        SearchAttribute.objects.filter(document_id__in=pool)
        .values("name", "value")
        .annotate(n=Count("id"))
        .order_by("name", "-n", "value")
    )
    by_name: dict[str, list[FacetValue]] = {}
    for row in attributes:
        values = by_name.setdefault(row["name"], [])
        if len(values) < FACET_LIMIT:
            values.append(FacetValue(row["value"], row["value"], row["n"]))
    top_brands = sorted(brands.items(), key=lambda item: (-item[1], item[0][1]))[:FACET_LIMIT]
    return SearchFacets(
        categories=tuple(
            FacetValue(path, names.split(CATEGORY_SEPARATOR)[-1], count)
            for (path, names), count in sorted(categories.items())
        ),
        brands=tuple(FacetValue(slug, name, count) for (slug, name), count in top_brands),
        price_ranges=tuple(
            FacetValue(_range_value(low, high), _range_label(low, high), count)
            for low, high in PRICE_RANGES
            if (count := ranges[_range_value(low, high)])
        ),
        attributes=tuple((name, tuple(values)) for name, values in by_name.items()),
        in_stock=in_stock,
    )


def _price_range(price: Decimal) -> str:
    for low, high in PRICE_RANGES:
        if high is None or price < high:
            return _range_value(low, high)
    raise AssertionError("the last price range is open")


def _range_value(low: int, high: int | None) -> str:
    return f"{low}-{high if high is not None else ''}"


def _range_label(low: int, high: int | None) -> str:
    return f"{low} to {high}" if high is not None else f"{low} and up"


def search_suggestions(*, query: str, limit: int = 8) -> tuple[Suggestion, ...]:
    """Product names for a search box, best match first among the most popular matches.

    Two queries (the pool, then its best names), cached for a minute.
    """
    terms = query_terms(query)
    if not terms:
        return ()
    keys = RELEVANCE_KEYS[_vendor()]

    def compute() -> tuple[Suggestion, ...]:
        matching = _matching(terms, NO_FILTERS)
        rows = (
            _ranked(matching, terms, _pool_ids(matching, SUGGESTION_POOL))
            .order_by(*[f"-{name}" if descending else name for name, descending in keys])
            .values_list("name", "slug")[:limit]
        )
        return tuple(Suggestion(name=name, slug=slug) for name, slug in rows)

    return SUGGESTIONS.get_or_compute(f"{fingerprint(terms)}:{limit}", compute)
