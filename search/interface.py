"""Search's public interface.

First cut: a substring match served by catalog. The search issue replaces it with a
denormalised read model (full text, facets, keyset pagination) behind this same function.
"""

from catalog.interface import ProductCard, product_search_simple
from toolkit.pagination import Page

MAX_QUERY_LENGTH = 200


def search_products(*, query: str, page: int = 1, per_page: int = 24) -> Page[ProductCard]:
    """Return products matching `query`; an empty query matches nothing."""
    query = " ".join(query.split())[:MAX_QUERY_LENGTH]
    if not query:
        return Page(items=(), number=1, per_page=per_page, count=0)
    return product_search_simple(query=query, page=page, per_page=per_page)


__all__ = ["MAX_QUERY_LENGTH", "search_products"]
