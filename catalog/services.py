"""Catalog writes. Only this module writes catalog tables."""

from collections.abc import Sequence

from django.db import transaction

from catalog.caches import CATEGORY_TREE, LISTINGS, PRODUCTS
from catalog.dto import BrandInput, CategoryInput, ProductInput
from catalog.models import Brand, Category, Product, ProductImage, SlugHistory, Variant
from toolkit import changes
from toolkit.errors import DomainError, NotFound

# What this app publishes after commit (toolkit.changes); search subscribes to it.
PRODUCTS_CHANGED = changes.topic_declare(
    "catalog.products", ids="product ids whose content, slug, category or brand changed"
)


class SlugTaken(DomainError):
    code = "slug_taken"
    status = 409


def _child_path(parent: Category | None, category_id: int) -> str:
    prefix = parent.path if parent else ""
    return f"{prefix}{category_id:06d}/"


@transaction.atomic
def category_create(*, data: CategoryInput) -> int:
    """Create a category under its parent and give it its materialised path."""
    parent = Category.objects.get(slug=data.parent_slug) if data.parent_slug else None
    category = Category.objects.create(
        name=data.name,
        slug=data.slug,
        parent=parent,
        description=data.description,
        depth=parent.depth + 1 if parent else 0,
        path="",
    )
    category.path = _child_path(parent, category.pk)
    category.save(update_fields=["path"])
    # Listings and product breadcrumbs depend on the tree's generation, so this one bump
    # retires them too.
    CATEGORY_TREE.invalidate_on_commit()
    return category.pk


def brands_import(*, brands: Sequence[BrandInput]) -> None:
    Brand.objects.bulk_create(
        [Brand(name=brand.name, slug=brand.slug) for brand in brands], batch_size=500
    )
    LISTINGS.invalidate_on_commit()


@transaction.atomic
def products_import(*, products: Sequence[ProductInput]) -> dict[str, int]:
    """Bulk-create products with their variants and images; return variant ids by SKU.

    Built for the seeder and PIM-style imports: a fixed number of statements per batch,
    whatever the number of products.
    """
    category_ids = dict(Category.objects.values_list("slug", "id"))
    brand_ids = dict(Brand.objects.values_list("slug", "id"))
    rows = [
        Product(
            name=item.name,
            slug=item.slug,
            category_id=category_ids[item.category_slug],
            brand_id=brand_ids[item.brand_slug],
            description=item.description,
            image_url=item.image_urls[0] if item.image_urls else "",
            popularity=item.popularity,
        )
        for item in products
    ]
    Product.objects.bulk_create(rows, batch_size=1000)
    product_ids = dict(
        Product.objects.filter(slug__in=[item.slug for item in products]).values_list("slug", "id")
    )
    variants: list[Variant] = []
    images: list[ProductImage] = []
    for item in products:
        product_id = product_ids[item.slug]
        variants.extend(
            Variant(
                product_id=product_id,
                sku=variant.sku,
                name=variant.name,
                attributes=dict(variant.attributes),
                position=position,
            )
            for position, variant in enumerate(item.variants)
        )
        images.extend(
            ProductImage(product_id=product_id, url=url, alt=item.name, position=position)
            for position, url in enumerate(item.image_urls)
        )
    Variant.objects.bulk_create(variants, batch_size=1000)
    ProductImage.objects.bulk_create(images, batch_size=1000)
    # One bump per namespace for the whole import, however many products it holds.
    LISTINGS.invalidate_on_commit()
    PRODUCTS.invalidate_on_commit()
    changes.publish(PRODUCTS_CHANGED, product_ids.values())
    skus = [variant.sku for item in products for variant in item.variants]
    return dict(Variant.objects.filter(sku__in=skus).values_list("sku", "id"))


@transaction.atomic
def product_change_slug(*, product_id: int, new_slug: str) -> None:
    """Give a product a new slug and keep the old one answering with a 301."""
    product = Product.objects.select_for_update().filter(pk=product_id).first()
    if product is None:
        raise NotFound("No such product.", product_id=product_id)
    if new_slug == product.slug:
        return
    if Product.objects.filter(slug=new_slug).exists():
        raise SlugTaken("Another product already uses that slug.", slug=new_slug)
    SlugHistory.objects.update_or_create(
        entity=SlugHistory.Entity.PRODUCT,
        slug=product.slug,
        defaults={"entity_id": product.pk},
    )
    SlugHistory.objects.filter(entity=SlugHistory.Entity.PRODUCT, slug=new_slug).delete()
    product.slug = new_slug
    product.save(update_fields=["slug", "updated_at"])
    LISTINGS.invalidate_on_commit()
    PRODUCTS.invalidate_on_commit()
    changes.publish(PRODUCTS_CHANGED, [product.pk])
