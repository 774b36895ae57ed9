"""Search writes: rebuilding read-model rows from their owners' interfaces.

Only this module writes search tables. A document is derived, never edited: refreshing
a product deletes its row and writes it again from catalog, pricing and inventory, so a
refresh is idempotent and a lost one is repaired by the next (or by `search_reindex`).
A product is searchable when it is published and at least one variant has a price.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction

from catalog.interface import (
    CategoryRef,
    ProductSearchSource,
    category_tree,
    product_id_batches,
    product_ids_for_variants,
    product_search_sources,
)
from inventory.interface import StockLevel, stock_levels
from pricing.interface import prices_for_variants
from search.caches import DOCUMENTS
from search.dto import CATEGORY_SEPARATOR
from search.models import SearchAttribute, SearchDocument

MAX_ATTRIBUTE_NAME = 40
MAX_ATTRIBUTE_VALUE = 80


@dataclass(frozen=True)
class ReindexProgress:
    done: int
    batches: int
    indexed: int


# Advisory-lock namespace for "refreshing this product's document" (any fixed int).
REFRESH_LOCK_NAMESPACE = 7_301


def search_documents_refresh(
    *, product_ids: Iterable[int], categories: Mapping[str, CategoryRef] | None = None
) -> int:
    """Rebuild the documents of these products; return how many are searchable now.

    A refresh that would write what the read model already holds writes nothing and
    retires no page: an order that leaves a product in stock changes no document, and
    pages that show results must not be retired by every order.

    Seven queries when nothing changed, nine plus the inserts when something did,
    whatever the number of products: sources (2), prices, stock, categories (unless
    given), the stored documents and attributes (2), deletes (2); on PostgreSQL one
    more, the lock that serialises refreshes of the same products. Call after the
    owners' writes have committed (on commit, or from a task).
    """
    ids = sorted(set(product_ids))
    if not ids:
        return 0
    sources = product_search_sources(product_ids=ids)
    variant_ids = [variant.id for source in sources for variant in source.variants]
    prices = prices_for_variants(variant_ids=variant_ids)
    levels = stock_levels(variant_ids=variant_ids)
    if categories is None:
        categories = {category.path: category for category in category_tree()}
    documents: list[SearchDocument] = []
    attributes: list[SearchAttribute] = []
    for source in sources:
        document = _document(source, prices, levels, categories)
        if document is None:
            continue
        documents.append(document)
        attributes.extend(_attributes(source))
    with transaction.atomic():
        _lock_products(ids)
        if _stored_already(ids, documents, attributes):
            return len(documents)
        SearchAttribute.objects.filter(document_id__in=ids).delete()
        SearchDocument.objects.filter(product_id__in=ids).delete()
        SearchDocument.objects.bulk_create(documents, batch_size=500)
        SearchAttribute.objects.bulk_create(attributes, batch_size=2000)
    # Pages showing results depend on this generation: they retire once the rows commit.
    DOCUMENTS.invalidate_on_commit()
    return len(documents)


def search_documents_stale(*, product_ids: Iterable[int]) -> tuple[int, ...]:
    """Return the products whose document disagrees with pricing or inventory now.

    A document is stale when its lowest price or its in-stock flag is not what the
    owners say, or when it is missing or should not exist (reconciliation repairs these
    with `search_documents_refresh`). Six queries, whatever the number of products.
    """
    ids = sorted(set(product_ids))
    if not ids:
        return ()
    sources = product_search_sources(product_ids=ids)
    variant_ids = [variant.id for source in sources for variant in source.variants]
    prices = prices_for_variants(variant_ids=variant_ids)
    levels = stock_levels(variant_ids=variant_ids)
    categories = {category.path: category for category in category_tree()}
    fresh = {
        document.product_id: (document.min_price, document.in_stock)
        for source in sources
        if (document := _document(source, prices, levels, categories)) is not None
    }
    stored = {
        product_id: (min_price, in_stock)
        for product_id, min_price, in_stock in SearchDocument.objects.filter(
            product_id__in=ids
        ).values_list("product_id", "min_price", "in_stock")
    }
    return tuple(
        product_id for product_id in ids if fresh.get(product_id) != stored.get(product_id)
    )


# What a document says. Not `indexed_at` (when it was written) nor `search_vector`
# (PostgreSQL derives it from the text fields compared here).
_DOCUMENT_FIELDS = tuple(
    field.attname
    for field in SearchDocument._meta.concrete_fields
    if field.attname not in ("product_id", "indexed_at", "search_vector")
)


def _stored_already(
    product_ids: list[int], documents: list[SearchDocument], attributes: list[SearchAttribute]
) -> bool:
    """Whether the read model holds exactly these documents and attributes. Two queries.

    Call under the products' lock: a concurrent refresh cannot change them in between.
    """
    stored = {
        row[0]: row[1:]
        for row in SearchDocument.objects.filter(product_id__in=product_ids).values_list(
            "product_id", *_DOCUMENT_FIELDS
        )
    }
    fresh = {
        document.product_id: tuple(getattr(document, name) for name in _DOCUMENT_FIELDS)
        for document in documents
    }
    if stored != fresh:
        return False
    stored_attributes = set(
        SearchAttribute.objects.filter(document_id__in=product_ids).values_list(
            "document_id", "name", "value"
        )
    )
    return stored_attributes == {(a.document_id, a.name, a.value) for a in attributes}


def _lock_products(product_ids: list[int]) -> None:
    """Serialise refreshes of the same products until the transaction ends. One query.

    Two workers refreshing one product would otherwise both delete its rows (neither sees
    the other's uncommitted inserts) and both insert them: a unique violation. Locks are
    taken in id order, so overlapping refreshes cannot deadlock. SQLite needs nothing:
    its IMMEDIATE transactions already admit one writer at a time.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            # The two-int form of the lock takes int4: a bigint id is folded into it (two
            # products sharing a lock only wait for each other, which is harmless).
            "SELECT pg_advisory_xact_lock(%s, (id %% 2147483647)::int) "
            "FROM unnest(%s::bigint[]) AS id ORDER BY id",
            [REFRESH_LOCK_NAMESPACE, product_ids],
        )


def search_documents_refresh_for_variants(*, variant_ids: Iterable[int]) -> int:
    """Rebuild the documents of the products these variants belong to."""
    product_ids = product_ids_for_variants(variant_ids=variant_ids)
    return search_documents_refresh(product_ids=product_ids.values())


def search_reindex(
    *, batch_size: int = 1000, progress: Callable[[ReindexProgress], None] | None = None
) -> int:
    """Rebuild every document, a batch of products at a time; return the indexed count.

    Memory stays flat: one batch is held at a time. Documents of products that no
    longer exist are removed at the end.
    """
    categories = {category.path: category for category in category_tree()}
    done = indexed = seen_up_to = 0
    for batches, batch in enumerate(product_id_batches(batch_size=batch_size), start=1):
        indexed += search_documents_refresh(product_ids=batch, categories=categories)
        # Products deleted inside this id window since the last run leave orphans.
        SearchAttribute.objects.filter(
            document_id__gt=seen_up_to, document_id__lt=batch[-1]
        ).exclude(document_id__in=batch).delete()
        SearchDocument.objects.filter(product_id__gt=seen_up_to, product_id__lt=batch[-1]).exclude(
            product_id__in=batch
        ).delete()
        seen_up_to = batch[-1]
        done += len(batch)
        if progress:
            progress(ReindexProgress(done=done, batches=batches, indexed=indexed))
    SearchAttribute.objects.filter(document_id__gt=seen_up_to).delete()
    SearchDocument.objects.filter(product_id__gt=seen_up_to).delete()
    _refresh_planner_statistics()
    return indexed


def _refresh_planner_statistics() -> None:
    """ANALYZE the rewritten tables (on PostgreSQL outside a transaction, VACUUM ANALYZE).

    Until autovacuum gets round to them, the planner keeps describing the rows a full
    reindex replaced: measured at 100,000 products, the facets' attribute query then
    chose a sequential scan (22 s instead of 7 ms). VACUUM also clears the replaced row
    versions the popularity-index walk of the next searches would step over. It cannot
    run inside a transaction, so a reindex inside one (tests) only analyzes.
    """
    vacuum = connection.vendor == "postgresql" and not connection.in_atomic_block
    with connection.cursor() as cursor:
        for model in (SearchDocument, SearchAttribute):
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"{'VACUUM ANALYZE' if vacuum else 'ANALYZE'} {table}")


def _document(
    source: ProductSearchSource,
    prices: Mapping[int, Decimal],
    levels: Mapping[int, StockLevel],
    categories: Mapping[str, CategoryRef],
) -> SearchDocument | None:
    priced = [variant.id for variant in source.variants if variant.id in prices]
    if not source.is_published or not priced:
        return None
    return SearchDocument(
        product_id=source.id,
        slug=source.slug,
        name=source.name,
        brand_id=source.brand.id,
        brand_slug=source.brand.slug,
        brand_name=source.brand.name,
        category_id=source.category.id,
        category_path=source.category.path,
        category_names=CATEGORY_SEPARATOR.join(_category_names(source.category.path, categories)),
        description=source.description,
        image_url=source.image_url,
        min_price=min(prices[variant_id] for variant_id in priced),
        # Physical availability (on hand - allocated); cart reservations expire on their
        # own, so the read model cannot follow them. The page shows live stock.
        in_stock=any(
            variant_id in levels and levels[variant_id].available > 0 for variant_id in priced
        ),
        popularity=source.popularity,
        created_at=source.created_at,
        variant_ids=[variant.id for variant in source.variants],
    )


def _category_names(path: str, categories: Mapping[str, CategoryRef]) -> Sequence[str]:
    segments = path.rstrip("/").split("/")
    prefixes = ("/".join(segments[:depth]) + "/" for depth in range(1, len(segments) + 1))
    return [categories[prefix].name for prefix in prefixes if prefix in categories]


def _attributes(source: ProductSearchSource) -> list[SearchAttribute]:
    pairs = {
        (
            str(name).strip().casefold()[:MAX_ATTRIBUTE_NAME],
            str(value).strip()[:MAX_ATTRIBUTE_VALUE],
        )
        for variant in source.variants
        for name, value in variant.attributes.items()
    }
    return [
        SearchAttribute(document_id=source.id, name=name, value=value)
        for name, value in sorted(pairs)
        if name and value
    ]
