"""Search reads over the read model: full text, filters, keyset pages, facets, suggestions.

Query cost, whatever the catalog size:
- results: one query for the page (`per_page + 1` rows from the cursor on) and one
  bounded count (`SEARCH_COUNT_LIMIT`); relevance ranks every match (PostgreSQL cannot
  take the top rows by ts_rank from the GIN index), the one cost that still grows with
  the number of matches;
- facets: four grouped queries over at most `SEARCH_COUNT_LIMIT` matches, cached until
  the read model changes (`search.caches`), skipped
  when the results already used up half of `SEARCH_LATENCY_BUDGET`, and cancelled if
  they would overrun it (the answer then says `degraded`).
"""

import time
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


def _ranked(
    documents: QuerySet[SearchDocument], terms: tuple[str, ...]
) -> QuerySet[SearchDocument]:
    if connection.vendor == "postgresql":
        rank = SearchRank(F("search_vector"), _tsquery(terms))
        return documents.annotate(rank=Cast(rank, FloatField()))
    return documents.annotate(rank=F("fts__rank"))


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
    page_rows = _ranked(matching, terms) if sort == "relevance" else matching
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
    limit = settings.SEARCH_COUNT_LIMIT
    count = matching.values("product_id")[: limit + 1].count()
    # Past the count limit, facets count a sample of `limit` matches, so their cost is
    # bounded like the count's (the page says "1,000+" and the counts are indicative).
    counted = (
        matching
        if count <= limit
        else SearchDocument.objects.filter(product_id__in=matching.values("product_id")[:limit])
    )

    facets, degraded = _facets_within_budget(counted, search_id, started=started)
    return SearchResults(
        query=query,
        sort=sort,
        items=tuple(_card(row) for row in rows),
        count=min(count, limit),
        count_capped=count > limit,
        next_cursor=next_cursor,
        facets=facets,
        degraded=degraded,
        notices=("Filter counts are unavailable right now.",) if degraded else (),
    )


def _vendor() -> str:
    return "postgresql" if connection.vendor == "postgresql" else "sqlite"


def _facets_within_budget(
    matching: QuerySet[SearchDocument], search_id: str, *, started: float
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
            facets = _facets(matching)
    except QueryTimedOut:
        return None, True
    FACETS.set_many({search_id: facets})
    return facets, False


def _facets(matching: QuerySet[SearchDocument]) -> SearchFacets:
    """Counts by brand, leaf category, price range and attribute value. Four queries."""
    grouped = matching.order_by()
    brands = (
        grouped.values("brand_slug", "brand_name")
        .annotate(n=Count("product_id"))
        .order_by("-n", "brand_name")[:FACET_LIMIT]
    )
    categories = (
        grouped.values("category_path", "category_names")
        .annotate(n=Count("product_id"))
        .order_by("category_path")
    )
    ranges = grouped.aggregate(
        in_stock=Count("product_id", filter=Q(in_stock=True)),
        **{
            _range_value(low, high): Count("product_id", filter=_range_q(low, high))
            for low, high in PRICE_RANGES
        },
    )
    attributes = (
        SearchAttribute.objects.filter(document_id__in=grouped.values("product_id"))
        .values("name", "value")
        .annotate(n=Count("id"))
        .order_by("name", "-n", "value")
    )
    by_name: dict[str, list[FacetValue]] = {}
    for row in attributes:
        values = by_name.setdefault(row["name"], [])
        if len(values) < FACET_LIMIT:
            values.append(FacetValue(row["value"], row["value"], row["n"]))
    return SearchFacets(
        categories=tuple(
            FacetValue(
                row["category_path"], row["category_names"].split(CATEGORY_SEPARATOR)[-1], row["n"]
            )
            for row in categories
        ),
        brands=tuple(FacetValue(row["brand_slug"], row["brand_name"], row["n"]) for row in brands),
        price_ranges=tuple(
            FacetValue(_range_value(low, high), _range_label(low, high), count)
            for low, high in PRICE_RANGES
            if (count := ranges[_range_value(low, high)])
        ),
        attributes=tuple((name, tuple(values)) for name, values in by_name.items()),
        in_stock=ranges["in_stock"],
    )


def _range_value(low: int, high: int | None) -> str:
    return f"{low}-{high if high is not None else ''}"


def _range_label(low: int, high: int | None) -> str:
    return f"{low} to {high}" if high is not None else f"{low} and up"


def _range_q(low: int, high: int | None) -> Q:
    condition = Q(min_price__gte=Decimal(low))
    return condition & Q(min_price__lt=Decimal(high)) if high is not None else condition


def search_suggestions(*, query: str, limit: int = 8) -> tuple[Suggestion, ...]:
    """Product names for a search box, best match first. One query, cached for a minute."""
    terms = query_terms(query)
    if not terms:
        return ()
    keys = RELEVANCE_KEYS[_vendor()]

    def compute() -> tuple[Suggestion, ...]:
        rows = (
            _ranked(_matching(terms, NO_FILTERS), terms)
            .order_by(*[f"-{name}" if descending else name for name, descending in keys])
            .values_list("name", "slug")[:limit]
        )
        return tuple(Suggestion(name=name, slug=slug) for name, slug in rows)

    return SUGGESTIONS.get_or_compute(f"{fingerprint(terms)}:{limit}", compute)
