"""Keeping the read model current: Celery tasks fed by the owners' change topics."""

from celery import shared_task

from search.services import search_documents_refresh, search_documents_refresh_for_variants


@shared_task
def search_documents_refresh_task(*, product_ids: list[int]) -> int:
    return search_documents_refresh(product_ids=product_ids)


@shared_task
def search_documents_refresh_for_variants_task(*, variant_ids: list[int]) -> int:
    return search_documents_refresh_for_variants(variant_ids=variant_ids)


def products_changed(product_ids: frozenset[int]) -> None:
    """`catalog.products` subscriber: refresh those products' documents in a task."""
    search_documents_refresh_task.delay(product_ids=sorted(product_ids))


def variants_changed(variant_ids: frozenset[int]) -> None:
    """`pricing.prices` / `inventory.stock` subscriber: refresh the variants' products."""
    search_documents_refresh_for_variants_task.delay(variant_ids=sorted(variant_ids))
