"""Search's public interface: the only module other apps may import."""

from search.dto import (
    NO_FILTERS,
    SEARCH_SORTS,
    FacetValue,
    SearchFacets,
    SearchFilters,
    SearchResults,
    Suggestion,
)
from search.query import MAX_QUERY_LENGTH, InvalidCursor, normalise_query
from search.selectors import search_documents, search_suggestions
from search.services import search_documents_refresh, search_documents_stale, search_reindex


def search_products(
    *,
    query: str,
    filters: SearchFilters = NO_FILTERS,
    sort: str = "relevance",
    cursor: str | None = None,
    per_page: int = 24,
) -> SearchResults:
    """Return one page of products matching `query` and `filters`.

    The query is normalised (whitespace folded, NUL bytes dropped, at most
    MAX_QUERY_LENGTH characters); an empty query with no filters matches nothing.
    """
    return search_documents(
        query=normalise_query(query),
        filters=filters,
        sort=sort if sort in SEARCH_SORTS else "relevance",
        cursor=cursor or None,
        per_page=per_page,
    )


__all__ = [
    "MAX_QUERY_LENGTH",
    "SEARCH_SORTS",
    "FacetValue",
    "InvalidCursor",
    "SearchFacets",
    "SearchFilters",
    "SearchResults",
    "Suggestion",
    "normalise_query",
    "search_documents_refresh",
    "search_documents_stale",
    "search_products",
    "search_reindex",
    "search_suggestions",
]
