"""Catalog reads. Each selector fetches everything it needs in a fixed number of queries
and returns plain records, so nothing after it can trigger a lazy load."""

from collections.abc import Iterable, Iterator
from typing import Literal

from django.db.models import Count, Prefetch, QuerySet

from catalog.caches import CATEGORY_TREE, LISTINGS, PRODUCTS
from catalog.dto import (
    BrandFacet,
    BrandRef,
    CategoryRef,
    ImageInfo,
    ProductCard,
    ProductDetail,
    ProductSearchSource,
    SitemapEntry,
    VariantInfo,
    VariantSummary,
)
from catalog.models import Brand, Category, Product, SlugHistory, Variant
from toolkit.cache import DoNotCache
from toolkit.lab import mode_on
from toolkit.pagination import Page, page_bounds, page_of

ProductSort = Literal["popular", "newest", "name"]
PRODUCT_SORTS: dict[str, tuple[str, ...]] = {
    "popular": ("-popularity", "id"),
    "newest": ("-created_at", "-id"),
    "name": ("name", "id"),
}


def _category_ref(category: Category) -> CategoryRef:
    return CategoryRef(
        id=category.pk,
        name=category.name,
        slug=category.slug,
        depth=category.depth,
        parent_id=category.parent_id,
        path=category.path,
    )


def _brand_ref(brand: Brand) -> BrandRef:
    return BrandRef(id=brand.pk, name=brand.name, slug=brand.slug)


def _card_queryset() -> QuerySet[Product]:
    published = Product.objects.filter(is_published=True)
    if mode_on("n-plus-one"):
        # The naive path (lab mode `n-plus-one`): nothing declared, so `_card` loads each
        # product's brand, images and variants lazily, three queries per card.
        return published
    return published.select_related("brand").prefetch_related(
        Prefetch("variants", queryset=Variant.objects.only("id", "product_id"))
    )


def _card(product: Product) -> ProductCard:
    return ProductCard(
        id=product.pk,
        slug=product.slug,
        name=product.name,
        brand=_brand_ref(product.brand),
        category_id=product.category_id,
        image_url=_card_image_url(product),
        popularity=product.popularity,
        variant_ids=tuple(variant.pk for variant in product.variants.all()),
    )


def _card_image_url(product: Product) -> str:
    """The card's picture: the denormalised `image_url`, which the seeder and imports keep
    equal to the first gallery image. The naive path (`n-plus-one`) reads the gallery."""
    if mode_on("n-plus-one"):
        first = next(iter(product.images.all()), None)
        return first.url if first is not None else product.image_url
    return product.image_url


def category_tree() -> tuple[CategoryRef, ...]:
    """Return every category in tree order (depth-first). Cached; one query on a miss."""
    return CATEGORY_TREE.get_or_compute("tree", category_tree_query)


def category_tree_query() -> tuple[CategoryRef, ...]:
    """Read the category tree from the database. One query."""
    return tuple(_category_ref(category) for category in Category.objects.order_by("path"))


def catalog_extent() -> tuple[int, tuple[str, ...]]:
    """How many products there are, and every brand's slug: what a bulk import that adds
    to the catalog needs to know. Two queries, from the database."""
    return Product.objects.count(), tuple(
        Brand.objects.order_by("slug").values_list("slug", flat=True)
    )


def category_by_slug(*, slug: str) -> CategoryRef | None:
    """Return the category with this slug, or None. One query."""
    category = Category.objects.filter(slug=slug).first()
    return _category_ref(category) if category else None


def category_ancestors(*, category: CategoryRef) -> tuple[CategoryRef, ...]:
    """Return the root-to-node chain, `category` last. One query, from the path."""
    ancestor_paths = []
    segments = category.path.rstrip("/").split("/")
    for index in range(1, len(segments) + 1):
        ancestor_paths.append("/".join(segments[:index]) + "/")
    return tuple(
        _category_ref(ancestor)
        for ancestor in Category.objects.filter(path__in=ancestor_paths).order_by("depth")
    )


def slug_redirect_target(*, entity: str, slug: str) -> str | None:
    """Return the current slug of an entity that used to be reachable as `slug`."""
    history = SlugHistory.objects.filter(entity=entity, slug=slug).first()
    if history is None:
        return None
    model = Product if entity == SlugHistory.Entity.PRODUCT else Category
    return model.objects.filter(pk=history.entity_id).values_list("slug", flat=True).first()


def brand_facets_for_category(*, category: CategoryRef) -> tuple[BrandFacet, ...]:
    """Brands present in the category subtree with product counts. Cached; one query."""
    return LISTINGS.get_or_compute(
        f"facets:{category.id}", lambda: _brand_facets_query(category=category)
    )


def _brand_facets_query(*, category: CategoryRef) -> tuple[BrandFacet, ...]:
    rows = (
        Brand.objects.filter(
            products__category__path__startswith=category.path, products__is_published=True
        )
        .annotate(product_count=Count("products"))
        .order_by("-product_count", "name")
    )
    return tuple(BrandFacet(brand=_brand_ref(row), count=row.product_count) for row in rows)


def product_cards_for_category(
    *,
    category: CategoryRef,
    brand_slugs: Iterable[str] = (),
    sort: ProductSort = "popular",
    page: int = 1,
    per_page: int = 24,
) -> Page[ProductCard]:
    """Return one page of the subtree's products. Cached; three queries on a miss.

    Raises InvalidPage past the end; that answer is not cached.
    """
    brands = sorted({slug for slug in brand_slugs if slug})
    return LISTINGS.get_or_compute(
        f"cards:{category.id}:{sort}:{page}:{per_page}:{','.join(brands)}",
        lambda: _card_page(
            _card_queryset().filter(category__path__startswith=category.path),
            brand_slugs=brands,
            sort=sort,
            page=page,
            per_page=per_page,
        ),
    )


def product_cards_all(
    *,
    brand_slugs: Iterable[str] = (),
    sort: ProductSort = "popular",
    page: int = 1,
    per_page: int = 24,
) -> Page[ProductCard]:
    """Return one page of the whole catalog's products. Three queries: count, page, variants."""
    return _card_page(
        _card_queryset(), brand_slugs=brand_slugs, sort=sort, page=page, per_page=per_page
    )


def _card_page(
    queryset: QuerySet[Product],
    *,
    brand_slugs: Iterable[str],
    sort: ProductSort,
    page: int,
    per_page: int,
) -> Page[ProductCard]:
    brand_slugs = [slug for slug in brand_slugs if slug]
    if brand_slugs:
        queryset = queryset.filter(brand__slug__in=brand_slugs)
    count = queryset.count()
    window = page_bounds(number=page, per_page=per_page, count=count)
    products = queryset.order_by(*PRODUCT_SORTS[sort])[window]
    return page_of([_card(p) for p in products], number=page, per_page=per_page, count=count)


def product_cards_popular(*, limit: int) -> tuple[ProductCard, ...]:
    """Return the most popular products. Two queries."""
    return tuple(_card(p) for p in _card_queryset().order_by("-popularity", "id")[:limit])


def product_detail_by_slug(*, slug: str) -> ProductDetail | None:
    """Return a product with brand, category chain, images and variants.

    Cached; five queries on a miss. An unknown slug is not cached (it is a 404, and the
    slug may be created any time).
    """

    def detail_unless_missing() -> ProductDetail | DoNotCache[ProductDetail | None] | None:
        return product_detail_query(slug=slug) or DoNotCache(None)

    return PRODUCTS.get_or_compute(slug, detail_unless_missing)


def product_detail_query(*, slug: str) -> ProductDetail | None:
    """Read a product's detail from the database. Five queries."""
    product = (
        Product.objects.filter(slug=slug, is_published=True)
        .select_related("brand", "category")
        .prefetch_related("images", "variants")
        .first()
    )
    if product is None:
        return None
    category = _category_ref(product.category)
    return ProductDetail(
        id=product.pk,
        slug=product.slug,
        name=product.name,
        description=product.description,
        brand=_brand_ref(product.brand),
        category=category,
        breadcrumbs=category_ancestors(category=category),
        images=tuple(ImageInfo(url=image.url, alt=image.alt) for image in product.images.all()),
        variants=tuple(
            VariantInfo(id=v.pk, sku=v.sku, name=v.name, attributes=dict(v.attributes))
            for v in product.variants.all()
        ),
        popularity=product.popularity,
        updated_at=product.updated_at,
    )


def variants_by_ids(*, variant_ids: Iterable[int]) -> dict[int, VariantSummary]:
    """Return a summary per variant id; unknown ids are absent. One query."""
    return _variant_summaries(Variant.objects.filter(pk__in=list(variant_ids)))


def variants_by_skus(*, skus: Iterable[str]) -> dict[str, VariantSummary]:
    """Return a summary per SKU; unknown SKUs are absent. One query."""
    summaries = _variant_summaries(Variant.objects.filter(sku__in=list(skus)))
    return {summary.sku: summary for summary in summaries.values()}


def _variant_summaries(queryset: QuerySet[Variant]) -> dict[int, VariantSummary]:
    """One query: variants joined with product and category."""
    rows = queryset.select_related("product", "product__category").filter(
        product__is_published=True
    )
    return {
        v.pk: VariantSummary(
            id=v.pk,
            sku=v.sku,
            name=v.name,
            product_id=v.product_id,
            product_name=v.product.name,
            product_slug=v.product.slug,
            image_url=v.product.image_url,
            brand_id=v.product.brand_id,
            category_id=v.product.category_id,
            category_path=v.product.category.path,
        )
        for v in rows
    }


def product_search_sources(*, product_ids: Iterable[int]) -> tuple[ProductSearchSource, ...]:
    """Return the products (published or not) with brand, category and variants.

    Two queries: products joined with brand and category, then their variants. Ids with
    no product are left out.
    """
    rows = (
        Product.objects.filter(pk__in=list(product_ids))
        .select_related("brand", "category")
        .prefetch_related(Prefetch("variants", queryset=Variant.objects.order_by("position", "id")))
        .order_by("id")
    )
    return tuple(
        ProductSearchSource(
            id=product.pk,
            slug=product.slug,
            name=product.name,
            description=product.description,
            brand=_brand_ref(product.brand),
            category=_category_ref(product.category),
            image_url=product.image_url,
            popularity=product.popularity,
            created_at=product.created_at,
            is_published=product.is_published,
            variants=tuple(
                VariantInfo(id=v.pk, sku=v.sku, name=v.name, attributes=dict(v.attributes))
                for v in product.variants.all()
            ),
        )
        for product in rows
    )


def product_id_batches(*, batch_size: int) -> Iterator[tuple[int, ...]]:
    """Yield every product id in ascending order, `batch_size` at a time (keyset reads)."""
    after = 0
    while batch := tuple(
        Product.objects.filter(pk__gt=after)
        .order_by("pk")
        .values_list("pk", flat=True)[:batch_size]
    ):
        yield batch
        after = batch[-1]


def variant_sku_batches(*, batch_size: int) -> Iterator[dict[int, str]]:
    """Yield every variant's SKU by id, in ascending id order, `batch_size` at a time.

    Keyset reads (one query per batch, `id > last`): what a sync against a system of
    record walks, however large the catalog.
    """
    after = 0
    while batch := dict(
        Variant.objects.filter(pk__gt=after).order_by("pk").values_list("pk", "sku")[:batch_size]
    ):
        yield batch
        after = max(batch)


def product_ids_for_variants(*, variant_ids: Iterable[int]) -> dict[int, int]:
    """Map variant ids to their product ids. One query."""
    return dict(Variant.objects.filter(pk__in=list(variant_ids)).values_list("pk", "product_id"))


def product_sitemap_entries() -> Iterator[SitemapEntry]:
    """Yield every published product's slug and last change. One query, read in chunks."""
    rows = (
        Product.objects.filter(is_published=True).order_by("id").values_list("slug", "updated_at")
    )
    for slug, updated_at in rows.iterator(chunk_size=2000):
        yield SitemapEntry(slug=slug, updated_at=updated_at)


def category_sitemap_entries() -> Iterator[SitemapEntry]:
    """Yield every category's slug in tree order. One query."""
    for slug in Category.objects.order_by("path").values_list("slug", flat=True):
        yield SitemapEntry(slug=slug, updated_at=None)
