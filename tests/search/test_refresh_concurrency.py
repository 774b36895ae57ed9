"""Refreshing one product's search document from many workers at once: PostgreSQL."""

import pytest
from django.db import connection

from search.models import SearchAttribute, SearchDocument
from search.services import search_documents_refresh
from tests.concurrency import run_concurrently
from tests.factories import stocked_product

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_refreshes_of_one_product_leave_one_document():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (services profile); CI runs it")
    product = stocked_product(variants=3)

    results = run_concurrently(
        lambda _: search_documents_refresh(product_ids=[product.pk]), calls=40, threads=8
    )

    assert results == [1] * 40
    assert SearchDocument.objects.filter(product_id=product.pk).count() == 1
    attributes = list(
        SearchAttribute.objects.filter(document_id=product.pk).values_list("name", "value")
    )
    assert len(attributes) == len(set(attributes)) > 0
