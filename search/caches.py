"""Search's caches, declared here and nowhere else (see `python manage.py cache_registry`).

Search owns the generation that says "the read model changed". Pages showing search
results, facet counts and suggestions depend on it, so a refreshed document retires
them, even when the refresh runs in a task long after the owner's write.
"""

from search.dto import SearchFacets, Suggestion
from toolkit.cache import CacheSpec, Stampede, declare

DOCUMENTS = declare(
    CacheSpec(
        namespace="search.documents",
        owner="search",
        entity="the version of the search read model (documents, facets)",
        key_schema="(the generation only; no entries)",
        ttl=300,
        invalidated_by=("search_documents_refresh", "search_reindex"),
        staleness_tolerance=0,
        stampede=Stampede.SINGLE_FLIGHT,
        shape=None,
    )
)

# Built from search results, so retired with the read model's generation; short TTLs
# bound what a refresh still in the queue has not reached yet.
FACETS = declare(
    CacheSpec(
        namespace="search.facets",
        owner="search",
        entity="facet counts (brands, categories, price ranges, attributes) of one search",
        key_schema="<digest of the query words, filters and sort>",
        ttl=30,
        invalidated_by=("search_documents_refresh", "search_reindex"),
        staleness_tolerance=0,
        stampede=Stampede.SINGLE_FLIGHT,
        depends_on=("search.documents",),
        notes="Computed under the search latency budget; a search past it skips them.",
        shape=SearchFacets,
    )
)

SUGGESTIONS = declare(
    CacheSpec(
        namespace="search.suggestions",
        owner="search",
        entity="product names suggested for what has been typed",
        key_schema="<digest of the query words>:<limit>",
        ttl=60,
        invalidated_by=("search_documents_refresh", "search_reindex"),
        staleness_tolerance=0,
        stampede=Stampede.SINGLE_FLIGHT,
        depends_on=("search.documents",),
        shape=tuple[Suggestion, ...],
    )
)
