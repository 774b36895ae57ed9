"""The search read model: one denormalised row per product that is for sale.

Derived from catalog (content), pricing (lowest price) and inventory (in stock), never
edited by hand: `search.services` rebuilds rows from their owners' interfaces.

Full text lives beside the rows, per database:
- PostgreSQL: `search_vector`, a weighted tsvector (name A, brand B, category C,
  description D) written by the services, with a GIN index (migration 0002).
- SQLite: `search_fts`, an FTS5 table over the same four columns, kept in step with
  this table by triggers (migration 0002). `SearchFts` maps it for joins.
"""

from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Lookup
from django.db.models.lookups import In


class FtsMatch(Lookup):
    """`column MATCH 'query'`: SQLite FTS5's full-text operator."""

    lookup_name = "match"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} MATCH {rhs}", [*lhs_params, *rhs_params]


class FtsColumn(models.TextField):
    """FTS5's hidden column named after its table: the left side of MATCH."""


FtsColumn.register_lookup(FtsMatch)


class AnyOf(In):
    """`IN` over integer ids, sent to PostgreSQL as `column = ANY(%s)`: one array.

    A search's pool is up to a thousand ids: as one parameter they are built and sent
    once, not parsed and adapted one by one (about 10 ms a query, measured at 100,000
    products). Other databases get a plain `IN`.
    """

    lookup_name = "any_of"

    def get_prep_lookup(self) -> list[int]:
        # Ids only: one int() each instead of the field's preparation of every value.
        return [int(value) for value in self.rhs]

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        array_type = f"{self.lhs.output_field.db_type(connection)}[]"
        return f"{lhs} = ANY(%s::{array_type})", [*lhs_params, self.rhs]


class SearchDocument(models.Model):
    product_id = models.BigIntegerField(primary_key=True)
    slug = models.CharField(max_length=220)
    name = models.CharField(max_length=200)
    brand_id = models.BigIntegerField()
    brand_slug = models.CharField(max_length=140)
    brand_name = models.CharField(max_length=120)
    category_id = models.BigIntegerField()
    category_path = models.CharField(max_length=255)
    # Names of the category and its ancestors, root first: searchable text.
    category_names = models.CharField(max_length=1000)
    description = models.TextField(blank=True)
    image_url = models.CharField(max_length=500, blank=True)
    min_price = models.DecimalField(max_digits=12, decimal_places=2)
    in_stock = models.BooleanField()
    popularity = models.PositiveIntegerField()
    created_at = models.DateTimeField()
    variant_ids = models.JSONField(default=list)
    search_vector = SearchVectorField(null=True)
    indexed_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # Keyset orders: each sort is an index walk from the cursor.
            models.Index(fields=["-popularity", "product_id"], name="search_popular_idx"),
            models.Index(fields=["min_price", "product_id"], name="search_price_idx"),
            models.Index(fields=["-created_at", "-product_id"], name="search_newest_idx"),
            models.Index(fields=["category_path", "-popularity"], name="search_category_idx"),
            models.Index(fields=["brand_id", "-popularity"], name="search_brand_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class SearchAttribute(models.Model):
    """One attribute value a product offers (a variant's colour or size): a facet."""

    document = models.ForeignKey(
        SearchDocument, related_name="attributes", on_delete=models.DO_NOTHING
    )
    name = models.CharField(max_length=40)
    value = models.CharField(max_length=80)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["name", "value", "document"], name="search_attribute_uniq"
            )
        ]
        indexes = [models.Index(fields=["document"], name="search_attribute_doc_idx")]

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


SearchAttribute._meta.get_field("document").register_lookup(AnyOf)


class SearchFts(models.Model):
    """The SQLite FTS5 table (embedded profile only), for joining matches to documents.

    `search_fts` is FTS5's hidden column named after the table: the target of MATCH.
    `rank` is the weighted bm25 score (lower is better), configured by the migration.
    """

    document = models.OneToOneField(
        SearchDocument,
        primary_key=True,
        db_column="rowid",
        related_name="fts",
        on_delete=models.DO_NOTHING,
    )
    search_fts = FtsColumn()
    rank = models.FloatField()

    class Meta:
        managed = False
        db_table = "search_fts"

    def __str__(self) -> str:
        return f"full text of {self.document_id}"
