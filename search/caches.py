"""Search's caches, declared here and nowhere else (see `python manage.py cache_registry`).

Search caches no entries of its own yet; it owns the generation that says "the read
model changed". Pages showing search results depend on it, so a refreshed document
retires them, even when the refresh runs in a task long after the owner's write.
"""

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
    )
)
