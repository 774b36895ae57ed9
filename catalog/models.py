from django.db import models


class Category(models.Model):
    """A node in the category tree.

    `path` is a materialised path of zero-padded ids ("000001/000007/"), so a subtree is
    one indexed prefix scan (`path__startswith`) instead of a recursive walk.
    """

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, related_name="children", on_delete=models.PROTECT
    )
    path = models.CharField(max_length=255, db_index=True, editable=False)
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    position = models.PositiveIntegerField(default=0)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["path"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Brand(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=140, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    category = models.ForeignKey(Category, related_name="products", on_delete=models.PROTECT)
    brand = models.ForeignKey(Brand, related_name="products", on_delete=models.PROTECT)
    description = models.TextField(blank=True)
    # An absolute URL (a CDN) or a site path; the seeder uses bundled placeholders.
    image_url = models.CharField(max_length=500, blank=True)
    # Relative demand (Zipf-distributed by the seeder): drives "popular" sorting and
    # which SKUs load tests treat as hot.
    popularity = models.PositiveIntegerField(default=0)
    is_published = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-popularity", "id"]
        indexes = [
            models.Index(fields=["category", "-popularity", "id"], name="product_cat_pop_idx"),
            models.Index(fields=["brand", "-popularity"], name="product_brand_pop_idx"),
            models.Index(fields=["-created_at", "id"], name="product_newest_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class ProductImage(models.Model):
    product = models.ForeignKey(Product, related_name="images", on_delete=models.CASCADE)
    url = models.CharField(max_length=500)
    alt = models.CharField(max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["product", "position", "id"]

    def __str__(self) -> str:
        return self.url


class Variant(models.Model):
    """A sellable SKU. Other apps refer to it as "catalog.Variant"."""

    product = models.ForeignKey(Product, related_name="variants", on_delete=models.CASCADE)
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    attributes = models.JSONField(default=dict, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["product", "position", "id"]

    def __str__(self) -> str:
        return self.sku


class SlugHistory(models.Model):
    """A slug an entity used to have, so old links answer with a 301, not a 404."""

    class Entity(models.TextChoices):
        PRODUCT = "product"
        CATEGORY = "category"

    entity = models.CharField(max_length=16, choices=Entity.choices)
    slug = models.SlugField(max_length=220)
    entity_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity", "slug"], name="slughistory_entity_slug_uniq")
        ]
        verbose_name_plural = "slug history"

    def __str__(self) -> str:
        return f"{self.entity} {self.slug}"
