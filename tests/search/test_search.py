"""The search read model: full text, filters, facets, keyset pages, freshness, degrading."""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from catalog.interface import product_change_slug
from inventory.interface import stock_adjust
from pricing.interface import PriceInput, prices_import
from search.interface import (
    InvalidCursor,
    SearchFilters,
    search_documents_refresh,
    search_products,
    search_reindex,
    search_suggestions,
)
from search.models import SearchAttribute, SearchDocument
from tests.factories import BrandFactory, CategoryFactory, ProductFactory, stocked_product
from toolkit.cache.metrics import CacheEvent, cache_event_count


def names(results):
    return [card.name for card in results.items]


@pytest.fixture
def shelf(db):
    outdoor = CategoryFactory(name="Outdoor", slug="outdoor")
    tents = CategoryFactory(name="Tents", slug="tents", parent=outdoor)
    home = CategoryFactory(name="Home", slug="home")
    nordic = BrandFactory(name="Nordic", slug="nordic")
    return {
        "tent": stocked_product(name="Storm Tent", category=tents, brand=nordic, price="200.00"),
        "lamp": stocked_product(
            name="Desk Lamp", category=home, description="A lamp for a tent too.", price="30.00"
        ),
        "jacket": stocked_product(name="Nordic Jacket", category=outdoor, price="120.00", stock=0),
        "stove": stocked_product(name="Camp Stove", category=tents, brand=nordic, price="45.00"),
    }


def test_name_outweighs_brand_category_and_description(shelf):
    # "tent" is in one name, one category and one description
    results = search_products(query="tent")

    assert names(results)[0] == "Storm Tent"
    assert set(names(results)) == {"Storm Tent", "Camp Stove", "Desk Lamp"}


def test_every_word_must_match_as_a_prefix(shelf):
    assert names(search_products(query="nord jack")) == ["Nordic Jacket"]
    assert names(search_products(query="nordic stove")) == ["Camp Stove"]
    assert search_products(query="nordic lamp").count == 0


@pytest.mark.parametrize(
    "query",
    ['"', "tent OR", "NEAR(tent", "tent*", "'; DROP TABLE search_searchdocument; --", "x" * 5000],
)
def test_odd_queries_give_sane_results(shelf, query):
    results = search_products(query=query)

    assert results.count >= 0
    assert SearchDocument.objects.count() == 4


def test_empty_query_without_filters_matches_nothing(shelf):
    assert search_products(query="  ").count == 0


def test_filters_combine(shelf):
    tents_path = shelf["tent"].category.path
    filters = SearchFilters(
        category_path=shelf["tent"].category.parent.path,
        brand_slugs=("nordic",),
        price_max=Decimal("100"),
        in_stock=True,
    )

    assert names(search_products(query="", filters=filters)) == ["Camp Stove"]
    subtree = SearchFilters(category_path=tents_path)
    assert set(names(search_products(query="", filters=subtree))) == {"Storm Tent", "Camp Stove"}
    unknown = SearchFilters(brand_slugs=("no-such-brand",), attributes=(("size", ("ZZ",)),))
    assert search_products(query="tent", filters=unknown).count == 0


def test_attribute_filter_matches_any_variant(shelf):
    size_m = SearchFilters(attributes=(("size", ("M",)),))

    assert search_products(query="tent", filters=size_m).count == 3


def test_facets_count_the_whole_result(shelf):
    results = search_products(query="tent")

    facets = results.facets
    assert {(f.value, f.count) for f in facets.brands} >= {("nordic", 2)}
    assert {f.value: f.count for f in facets.price_ranges} == {"25-50": 2, "100-250": 1}
    assert facets.in_stock == 3
    assert dict(facets.attributes)["size"][0].count == 3
    assert sum(f.count for f in facets.categories) == 3
    assert not results.degraded


def test_past_the_latency_budget_results_come_without_facets(shelf, settings):
    settings.SEARCH_LATENCY_BUDGET = 0

    results = search_products(query="tent")

    assert results.count == 3
    assert results.facets is None
    assert results.degraded
    assert results.notices


@pytest.mark.parametrize("sort", ["relevance", "popular", "price_asc", "price_desc", "newest"])
def test_keyset_pages_visit_every_match_once_in_order(db, sort):
    category = CategoryFactory()
    for index in range(7):
        stocked_product(name=f"Trail Shoe {index}", category=category, price=f"{10 + index % 3}.00")

    seen, cursor = [], None
    while True:
        page = search_products(query="trail", sort=sort, per_page=3, cursor=cursor)
        seen.extend(card.id for card in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break

    assert len(seen) == len(set(seen)) == 7
    whole = search_products(query="trail", sort=sort, per_page=50)
    assert seen == [card.id for card in whole.items]


def test_price_sort_orders_by_lowest_price(shelf):
    results = search_products(
        query="", filters=SearchFilters(in_stock=False, brand_slugs=("nordic",)), sort="price_desc"
    )

    assert names(results) == ["Storm Tent", "Camp Stove"]


def test_a_cursor_is_only_good_for_its_own_search(shelf):
    page = search_products(query="tent", per_page=1)

    with pytest.raises(InvalidCursor):
        search_products(query="stove", cursor=page.next_cursor)
    with pytest.raises(InvalidCursor):
        search_products(query="tent", cursor="forged")


def test_count_is_capped(shelf, settings):
    settings.SEARCH_POOL_SIZE = 2

    results = search_products(query="tent")

    assert (results.count, results.count_capped) == (2, True)


def test_past_the_count_limit_relevance_ranks_the_most_popular_matches(db, settings):
    # given five matches and a pool of three: two name matches, one of them unpopular
    settings.SEARCH_POOL_SIZE = 3
    category = CategoryFactory()
    for name, popularity in [("Alpha Tent", 50), ("Delta Tent", 1)]:
        stocked_product(name=name, popularity=popularity, category=category, price="10.00")
    for name, popularity in [("Bravo", 100), ("Charlie", 90), ("Echo", 10)]:
        stocked_product(
            name=name, description="Fits a tent.", popularity=popularity, category=category
        )

    relevance = search_products(query="tent")

    # then relevance orders the three most popular matches, the name match first
    assert names(relevance) == ["Alpha Tent", "Bravo", "Charlie"]
    assert (relevance.count, relevance.count_capped) == (3, True)
    assert sum(f.count for f in relevance.facets.categories) == 3
    # and the other sorts still page through every match
    assert len(search_products(query="tent", sort="price_asc").items) == 5


def test_suggestions_rank_names_first(shelf):
    suggestions = search_suggestions(query="ten")

    assert suggestions[0].name == "Storm Tent"
    assert search_suggestions(query="  ") == ()


# Freshness: owners' writes reach the read model after commit


def test_price_change_reaches_the_document_after_commit(shelf, django_capture_on_commit_callbacks):
    variant = shelf["lamp"].variants.get()

    with django_capture_on_commit_callbacks(execute=True):
        prices_import(
            price_list_code="base", prices=[PriceInput(variant_id=variant.pk, amount=Decimal("9"))]
        )

    assert SearchDocument.objects.get(product_id=shelf["lamp"].pk).min_price == Decimal("9.00")


def test_stock_change_reaches_the_document_after_commit(shelf, django_capture_on_commit_callbacks):
    variant = shelf["jacket"].variants.get()

    with django_capture_on_commit_callbacks(execute=True):
        stock_adjust(variant_id=variant.pk, add=3, reason="found in the back")

    assert SearchDocument.objects.get(product_id=shelf["jacket"].pk).in_stock


def test_a_stock_change_that_leaves_a_product_in_stock_retires_no_results_page(
    shelf, django_capture_on_commit_callbacks
):
    # given a product in stock, its document current
    variant = shelf["lamp"].variants.get()
    search_documents_refresh(product_ids=[shelf["lamp"].pk])
    written_at = SearchDocument.objects.get(product_id=shelf["lamp"].pk).indexed_at
    before = cache_event_count("search.documents", CacheEvent.INVALIDATION)

    # when an order-sized change leaves it in stock, then one sells it out
    with django_capture_on_commit_callbacks(execute=True):
        stock_adjust(variant_id=variant.pk, add=-1, reason="one broken in the store")
    unchanged = cache_event_count("search.documents", CacheEvent.INVALIDATION)
    rewritten_at = SearchDocument.objects.get(product_id=shelf["lamp"].pk).indexed_at
    with django_capture_on_commit_callbacks(execute=True):
        stock_adjust(variant_id=variant.pk, set_to=0, reason="counted: none left")

    # then the first rewrites nothing and retires nothing; the second does both
    assert unchanged == before
    assert rewritten_at == written_at
    assert not SearchDocument.objects.get(product_id=shelf["lamp"].pk).in_stock
    assert cache_event_count("search.documents", CacheEvent.INVALIDATION) > unchanged


def test_catalog_change_reaches_the_document_after_commit(
    shelf, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        product_change_slug(product_id=shelf["tent"].pk, new_slug="storm-tent-2")

    assert SearchDocument.objects.get(product_id=shelf["tent"].pk).slug == "storm-tent-2"


def test_a_write_that_rolls_back_notifies_nobody(shelf, django_capture_on_commit_callbacks):
    variant = shelf["lamp"].variants.get()

    @transaction.atomic
    def import_then_fail():
        prices_import(
            price_list_code="base", prices=[PriceInput(variant_id=variant.pk, amount=Decimal("1"))]
        )
        raise RuntimeError("the import failed after writing")

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError):
        import_then_fail()

    assert callbacks == []


def test_unpublished_or_unpriced_products_are_not_searchable(shelf):
    unpriced = ProductFactory(name="Tent Without Price")
    shelf["tent"].is_published = False
    shelf["tent"].save()

    search_documents_refresh(product_ids=[unpriced.pk, shelf["tent"].pk])

    assert "Storm Tent" not in names(search_products(query="tent"))
    assert "Tent Without Price" not in names(search_products(query="tent"))


def test_reindex_rebuilds_everything_and_drops_orphans(shelf):
    SearchDocument.objects.filter(product_id=shelf["lamp"].pk).update(name="stale")
    gone = shelf["stove"].pk
    shelf["stove"].delete()
    seen = []

    indexed = search_reindex(batch_size=2, progress=seen.append)

    assert indexed == 3
    assert SearchDocument.objects.get(product_id=shelf["lamp"].pk).name == "Desk Lamp"
    assert not SearchDocument.objects.filter(product_id=gone).exists()
    assert seen[-1].done == 3


def test_reindex_leaves_the_planner_fresh_statistics(shelf):
    with CaptureQueriesContext(connection) as queries:
        search_reindex()

    analyzed = [q["sql"] for q in queries.captured_queries if "ANALYZE" in q["sql"]]
    assert analyzed == ['ANALYZE "search_searchdocument"', 'ANALYZE "search_searchattribute"']


@pytest.mark.django_db(transaction=True)
def test_reindex_outside_a_transaction_also_vacuums_on_postgresql():
    stocked_product(name="Storm Tent")

    with CaptureQueriesContext(connection) as queries:
        search_reindex()

    prefix = "VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE"
    analyzed = [q["sql"] for q in queries.captured_queries if "ANALYZE" in q["sql"]]
    assert analyzed == [f'{prefix} "search_searchdocument"', f'{prefix} "search_searchattribute"']


def test_any_of_sends_ids_as_one_array_on_postgresql(shelf):
    ids = [shelf["tent"].pk, shelf["stove"].pk, 0]

    with CaptureQueriesContext(connection) as queries:
        found = set(
            SearchAttribute.objects.filter(document_id__any_of=ids).values_list(
                "document_id", flat=True
            )
        )

    assert found == {shelf["tent"].pk, shelf["stove"].pk}
    if connection.vendor == "postgresql":
        assert "= ANY(" in queries.captured_queries[0]["sql"]
