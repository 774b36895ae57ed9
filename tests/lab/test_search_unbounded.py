"""Lab mode `search-unbounded`: every match ranked and counted, facets re-run over the
full match, OFFSET pages. Switched off, a search reads a bounded pool and pages by keyset.
Asserted on the SQL issued, never on timings."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from search.interface import search_products
from tests.factories import stocked_product

MATCHES = 5


@pytest.fixture
def tents(db, category, settings):
    settings.SEARCH_POOL_SIZE = 3  # fewer than the matches, as on a big catalog
    return [stocked_product(name=f"Storm Tent {i}", category=category) for i in range(MATCHES)]


def searched(**options):
    with CaptureQueriesContext(connection) as captured:
        results = search_products(query="tent", **options)
    return results, [query["sql"].upper() for query in captured.captured_queries]


def over_documents(sqls):
    return [sql for sql in sqls if "SEARCH_SEARCHDOCUMENT" in sql]


def test_with_search_unbounded_every_match_is_counted_faceted_and_paged_by_offset(lab, tents):
    lab("search-unbounded")

    first, first_sqls = searched(per_page=2)
    second, second_sqls = searched(per_page=2, cursor=first.next_cursor)
    third, _ = searched(per_page=2, cursor=second.next_cursor)

    # the count is exact, past the pool the good path stops at
    assert (first.count, first.count_capped) == (MATCHES, False)
    assert sum(brand.count for brand in first.facets.brands) == MATCHES
    # the page, the count and five facet queries all read the full match
    assert len(over_documents(first_sqls)) >= 7
    assert not any(" OFFSET " in sql for sql in first_sqls)
    assert any(" OFFSET 2" in sql for sql in second_sqls)
    # and the pages still visit every match once
    pages = [first, second, third]
    assert sorted(card.name for page in pages for card in page.items) == sorted(
        tent.name for tent in tents
    )
    assert third.next_cursor is None


def test_with_search_unbounded_off_a_search_reads_a_bounded_pool_and_pages_by_keyset(
    lab, tents, settings
):
    lab()  # the lab is on, this mode is not

    first, first_sqls = searched(per_page=2)
    _, second_sqls = searched(per_page=2, cursor=first.next_cursor)

    assert (first.count, first.count_capped) == (settings.SEARCH_POOL_SIZE, True)
    assert len(over_documents(first_sqls)) <= 3
    assert any(f"LIMIT {settings.SEARCH_POOL_SIZE + 1}" in sql for sql in first_sqls)
    assert not any(" OFFSET " in sql for sql in first_sqls + second_sqls)
    assert not any("COUNT(" in sql for sql in over_documents(first_sqls + second_sqls))
