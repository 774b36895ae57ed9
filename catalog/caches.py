"""Catalog's caches, declared here and nowhere else (see `python manage.py cache_registry`).

Only catalog's write services invalidate them, by bumping the namespace's generation in
`transaction.on_commit`. Catalog content changes rarely and is read on every page, so the
entries live long and a stale one is served while one request recomputes it.
"""

from collections.abc import Mapping
from typing import Any

from catalog.dto import BrandFacet, CategoryRef, ProductCard, ProductDetail
from toolkit.cache import CacheSpec, Stampede, declare
from toolkit.pagination import Page


def _audit_tree(entries: Mapping[str, Any]) -> Mapping[str, Any]:
    from catalog.selectors import category_tree_query

    return {key: category_tree_query() for key in entries}


def _audit_products(entries: Mapping[str, Any]) -> Mapping[str, Any]:
    from catalog.selectors import product_detail_query

    return {slug: product_detail_query(slug=slug) for slug in entries}


CATEGORY_TREE = declare(
    CacheSpec(
        namespace="catalog.category_tree",
        owner="catalog",
        entity="the whole category tree, depth-first",
        key_schema="tree",
        ttl=3600,
        grace=60,
        invalidated_by=("category_create",),
        staleness_tolerance=0,
        stampede=Stampede.SINGLE_FLIGHT_STALE,
        audit=_audit_tree,
        shape=tuple[CategoryRef, ...],
    )
)

LISTINGS = declare(
    CacheSpec(
        namespace="catalog.listing",
        owner="catalog",
        entity="a page of product cards of a category subtree; a subtree's brand facets",
        key_schema="cards:<category id>:<sort>:<page>:<per page>:<brand slugs> | "
        "facets:<category id>",
        ttl=600,
        grace=60,
        invalidated_by=("products_import", "product_change_slug", "brands_import"),
        staleness_tolerance=0,
        stampede=Stampede.SINGLE_FLIGHT_STALE,
        depends_on=("catalog.category_tree",),
        notes="Not audited entry by entry: a page is a query result, re-run by the next miss.",
        shape=Page[ProductCard] | tuple[BrandFacet, ...],
    )
)

PRODUCTS = declare(
    CacheSpec(
        namespace="catalog.product",
        owner="catalog",
        entity="a product's detail: brand, breadcrumbs, images, variants",
        key_schema="<product slug>",
        ttl=600,
        grace=60,
        invalidated_by=("products_import", "product_change_slug"),
        staleness_tolerance=0,
        stampede=Stampede.SINGLE_FLIGHT_STALE,
        # Breadcrumbs come from the tree: a category_create retires these entries too.
        depends_on=("catalog.category_tree",),
        audit=_audit_products,
        shape=ProductDetail | None,
    )
)
