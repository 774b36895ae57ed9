"""Search reads over the read model: full text, filters, keyset pages, facets, suggestions.

Query cost, whatever the catalog size: the one step whose work grows with the number of
matches is choosing the *pool*, the `SEARCH_POOL_SIZE` most popular matches (an index
walk by popularity or a GIN bitmap, as the planner sees fit), fetched in one query with
their rank and facet columns. Everything else works on the pool or on one page:
- the count is the pool's size ("250+" past it);
- relevance orders the pool only: PostgreSQL cannot take the top rows by ts_rank from a
  GIN index, so ranking every match would grow with the catalog. A word that matches a
  tenth of a big catalog is ranked among its most popular products;
- the other sorts page through every match from the cursor (keyset, no OFFSET);
- facets count the pool's rows (plus one query for attribute values), are cached until
  the read model changes (`search.caches`), are skipped when the results already used
  up half of `SEARCH_LATENCY_BUDGET`, and cancelled if they would overrun it (the
  answer then says `degraded`).

`_search_unbounded_naive` is the failure-mode lab's naive path (`search-unbounded`).
"""

import time
from bisect import bisect_right
from collections import Counter
from decimal import Decimal
from operator import itemgetter
from typing import Any

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
    InvalidCursor,
    cursor_decode,
    cursor_encode,
    fingerprint,
    fts5_query,
    postgres_tsquery,
    query_terms,
)
from toolkit.lab import mode_on
from toolkit.tracing import traced

PRICE_RANGES = ((0, 25), (25, 50), (50, 100), (100, 250), (250, 500), (500, None))
FACET_LIMIT = 20
# Suggestions rank this many of the most popular matches (a search ranks its whole pool).
SUGGESTION_POOL = 200
# What the facets count, fetched with the pool when they are not cached.
FACET_FIELDS = (
    "brand_slug",
    "brand_name",
    "category_path",
    "category_names",
    "min_price",
    "in_stock",
)
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

# A keyset order: (field, descending) pairs ending in the primary key, so every row has
# one place in the order and a cursor names it exactly.
SortKeys = tuple[tuple[str, bool], ...]
# One row's values for a keyset order's fields, in its order.
KeyValues = tuple[Any, ...]
# A pool row: the columns `_pool` was asked for.
PoolRow = dict[str, Any]

SORT_KEYS: dict[str, SortKeys] = {
    "popular": (("popularity", True), ("product_id", False)),
    "price_asc": (("min_price", False), ("product_id", False)),
    "price_desc": (("min_price", True), ("product_id", False)),
    "newest": (("created_at", True), ("product_id", True)),
}
# PostgreSQL's ts_rank grows with relevance; FTS5's bm25 rank shrinks with it.
RELEVANCE_KEYS: dict[str, SortKeys] = {
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


def _order(keys: SortKeys) -> list[str]:
    return [f"-{name}" if descending else name for name, descending in keys]


def _rank(terms: tuple[str, ...]) -> Cast | F:
    if connection.vendor == "postgresql":
        return Cast(SearchRank(F("search_vector"), _tsquery(terms)), FloatField())
    return F("fts__rank")  # bm25, which FTS5 computes for the rows of a MATCH


def _pool(
    matching: QuerySet[SearchDocument], terms: tuple[str, ...], size: int, fields: tuple[str, ...]
) -> list[PoolRow]:
    """The `size` most popular matches, most popular first, as dicts of `fields`
    (`rank` among them: their relevance). One query."""
    rows = matching.order_by(*_order(SORT_KEYS["popular"]))
    if "rank" in fields:
        rows = rows.annotate(rank=_rank(terms))
    return list(rows.values(*fields)[:size])


def _in_keyset_order(rows: list[PoolRow], keys: SortKeys, after: KeyValues | None) -> list[PoolRow]:
    """Pool rows in the keyset order `keys`, from just after the key `after` on."""

    def position(values: KeyValues) -> KeyValues:
        return tuple(
            -v if descending else v for v, (_, descending) in zip(values, keys, strict=True)
        )

    ordered = sorted(
        ((position(tuple(row[name] for name, _ in keys)), row) for row in rows),
        key=itemgetter(0),
    )
    start = 0 if after is None else bisect_right(ordered, position(after), key=itemgetter(0))
    return [row for _, row in ordered[start:]]


def _after(keys: SortKeys, values: KeyValues) -> Q:
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


@traced("search.query")
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
    if mode_on("search-unbounded"):
        return _search_unbounded_naive(
            query,
            terms,
            matching,
            search_id=fingerprint(terms, filters, sort, "offset"),
            sort=sort,
            keys=keys,
            cursor=cursor,
            per_page=per_page,
        )
    after = (
        cursor_decode(cursor, expected_fingerprint=search_id, key_length=len(keys)).key
        if cursor
        else None
    )
    # Looked up before the pool is read: facets computed from it are stored under this
    # version, which a read-model change meanwhile has already retired.
    cached_facets, facets_version = FACETS.get_with_version(search_id)
    limit = settings.SEARCH_POOL_SIZE
    fields: tuple[str, ...] = ("product_id", "popularity")
    fields += ("rank",) if sort == "relevance" else ()
    fields += FACET_FIELDS if cached_facets is None else ()
    pool = _pool(matching, terms, limit + 1, fields)
    count_capped = len(pool) > limit
    pool = pool[:limit]
    rows, next_cursor = _page(
        pool,
        matching,
        keys=keys,
        after=after,
        by_relevance=sort == "relevance",
        per_page=per_page,
        search_id=search_id,
    )
    facets, degraded = _facets_within_budget(
        pool, cached_facets, search_id, version=facets_version, started=started
    )
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


def _page(
    pool: list[PoolRow],
    matching: QuerySet[SearchDocument],
    *,
    keys: SortKeys,
    after: KeyValues | None,
    by_relevance: bool,
    per_page: int,
    search_id: str,
) -> tuple[list[SearchDocument], str | None]:
    """Return the page just after the key `after`, and the cursor to the next one (None
    on the last page). One query.

    By relevance the page comes from the pool, ordered here, and only its cards are read;
    the other sorts read the page from the matches in keyset order.
    """
    if by_relevance:
        ranked = _in_keyset_order(pool, keys, after)[: per_page + 1]
        page_keys = [tuple(row[name] for name, _ in keys) for row in ranked]
        by_id = SearchDocument.objects.only(*CARD_FIELDS).in_bulk(
            [row["product_id"] for row in ranked]
        )
        rows = [by_id[row["product_id"]] for row in ranked if row["product_id"] in by_id]
    else:
        page_rows = matching.filter(_after(keys, after)) if after else matching
        rows = list(page_rows.only(*CARD_FIELDS).order_by(*_order(keys))[: per_page + 1])
        page_keys = [tuple(getattr(row, name) for name, _ in keys) for row in rows]
    if len(rows) <= per_page:
        return rows, None
    return rows[:per_page], cursor_encode(Cursor(search_id, page_keys[per_page - 1]))


def _search_unbounded_naive(
    query: str,
    terms: tuple[str, ...],
    matching: QuerySet[SearchDocument],
    *,
    search_id: str,
    sort: str,
    keys: SortKeys,
    cursor: str | None,
    per_page: int,
) -> SearchResults:
    """The lab's naive path (`search-unbounded`): every match ranked, counted, faceted.

    What a team ships from the ORM tutorial: `ORDER BY rank` over every match, an exact
    `COUNT(*)`, `LIMIT … OFFSET` pages, and each facet a `GROUP BY` over the full match,
    uncached and with no latency budget. Fine on a small catalog; on a big one a common
    word ranks, counts and groups a large share of the catalog on every search (a GIN
    index finds matches but cannot hand them over in rank order), deeper pages scan and
    drop every row before them, and a campaign spike multiplies it all: search p95 leaves
    its SLO and statement time climbs. Never used unless the lab is on.
    """
    offset = 0
    if cursor:
        offset = int(cursor_decode(cursor, expected_fingerprint=search_id, key_length=1).key[0])
        if offset < 0:
            raise InvalidCursor("The cursor is not valid; start from the first page.")
    ordered = matching.annotate(rank=_rank(terms)) if sort == "relevance" else matching
    page = list(ordered.only(*CARD_FIELDS).order_by(*_order(keys))[offset : offset + per_page + 1])
    next_cursor = None
    if len(page) > per_page:
        page = page[:per_page]
        next_cursor = cursor_encode(Cursor(search_id, (offset + per_page,)))
    return SearchResults(
        query=query,
        sort=sort,
        items=tuple(_card(row) for row in page),
        count=matching.count(),
        count_capped=False,
        next_cursor=next_cursor,
        facets=_facets_of_every_match_naive(matching),
    )


def _facets_of_every_match_naive(matching: QuerySet[SearchDocument]) -> SearchFacets:
    """The lab's naive facets (`search-unbounded`): one GROUP BY over the full match
    per facet, five queries, each as costly as the search itself."""

    def counted(*fields: str) -> list[dict[str, Any]]:
        return list(matching.values(*fields).annotate(n=Count("pk")).order_by(*fields))

    brands = sorted(
        counted("brand_slug", "brand_name"), key=lambda row: (-row["n"], row["brand_name"])
    )[:FACET_LIMIT]
    ranges: Counter[str] = Counter()
    for row in counted("min_price"):
        ranges[_price_range(row["min_price"])] += row["n"]
    return SearchFacets(
        categories=tuple(
            FacetValue(
                row["category_path"], row["category_names"].split(CATEGORY_SEPARATOR)[-1], row["n"]
            )
            for row in counted("category_path", "category_names")
        ),
        brands=tuple(FacetValue(row["brand_slug"], row["brand_name"], row["n"]) for row in brands),
        price_ranges=tuple(
            FacetValue(_range_value(low, high), _range_label(low, high), count)
            for low, high in PRICE_RANGES
            if (count := ranges[_range_value(low, high)])
        ),
        attributes=_attribute_facets(
            SearchAttribute.objects.filter(document_id__in=matching.values("product_id"))
        ),
        in_stock=matching.filter(in_stock=True).count(),
    )


def _vendor() -> str:
    return "postgresql" if connection.vendor == "postgresql" else "sqlite"


def _facets_within_budget(
    pool: list[PoolRow],
    cached: SearchFacets | None,
    search_id: str,
    *,
    version: str | None,
    started: float,
) -> tuple[SearchFacets | None, bool]:
    """Cached facets, or fresh ones if the budget allows; (None, True) past the budget."""
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
    if version is not None:
        FACETS.set_many({search_id: facets}, version=version)
    return facets, False


def _facets(pool: list[PoolRow]) -> SearchFacets:
    """Counts by brand, leaf category, price range, stock and attribute value over the
    pool: its rows carry the facet columns (counted here, at most SEARCH_POOL_SIZE of
    them); attribute values take one query."""
    brands: Counter[tuple[str, str]] = Counter()
    categories: Counter[tuple[str, str]] = Counter()
    ranges: Counter[str] = Counter()
    for row in pool:
        brands[row["brand_slug"], row["brand_name"]] += 1
        categories[row["category_path"], row["category_names"]] += 1
        ranges[_price_range(row["min_price"])] += 1
    attributes = _attribute_facets(
        SearchAttribute.objects.filter(document_id__any_of=[row["product_id"] for row in pool])
    )
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
        attributes=attributes,
        in_stock=sum(row["in_stock"] for row in pool),
    )


def _attribute_facets(
    offered: QuerySet[SearchAttribute],
) -> tuple[tuple[str, tuple[FacetValue, ...]], ...]:
    """Count attribute values by name, most offered first, FACET_LIMIT each. One query."""
    counted = (
        offered.values("name", "value").annotate(n=Count("id")).order_by("name", "-n", "value")
    )
    by_name: dict[str, list[FacetValue]] = {}
    for attribute in counted:
        values = by_name.setdefault(attribute["name"], [])
        if len(values) < FACET_LIMIT:
            values.append(FacetValue(attribute["value"], attribute["value"], attribute["n"]))
    return tuple((name, tuple(values)) for name, values in by_name.items())


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

    One query (the pool, ranked here), cached for a minute.
    """
    terms = query_terms(query)
    if not terms:
        return ()
    keys = RELEVANCE_KEYS[_vendor()]

    def compute() -> tuple[Suggestion, ...]:
        fields = ("product_id", "popularity", "rank", "name", "slug")
        pool = _pool(_matching(terms, NO_FILTERS), terms, SUGGESTION_POOL, fields)
        best = _in_keyset_order(pool, keys, None)[:limit]
        return tuple(Suggestion(name=row["name"], slug=row["slug"]) for row in best)

    return SUGGESTIONS.get_or_compute(f"{fingerprint(terms)}:{limit}", compute)
