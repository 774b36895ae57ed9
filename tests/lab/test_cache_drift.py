"""Lab mode `cache-drift`: a bulk price import that skips pricing's invalidation leaves
stale prices on pages, and the cache audit finds them; switched off, it does not."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from pricing.interface import PriceInput, prices_import
from toolkit.cache.audit import cache_audit
from toolkit.cache.metrics import CacheEvent, cache_event_count

PAGE = "/c/outdoor/"  # the category page shows listing prices (pricing.price)


def audit_of(report, namespace):
    return next(audit for audit in report.namespaces if audit.namespace == namespace)


def import_price(variant_id: int, amount: str) -> None:
    prices_import(
        price_list_code="base", prices=[PriceInput(variant_id=variant_id, amount=Decimal(amount))]
    )


@pytest.fixture
def warm(client, product):
    """The category page and its listing prices cached at 19.90, as visitors leave them."""
    assert "19.90" in client.get(PAGE).content.decode()
    assert audit_of(cache_audit(sample=100), "pricing.price").sampled >= 1
    return product.variants.get()


def test_with_cache_drift_a_bulk_import_leaves_the_old_price_on_the_page(
    lab, client, warm, django_capture_on_commit_callbacks
):
    lab("cache-drift")
    anomalies_before = cache_event_count("pricing.price", CacheEvent.AUDIT_ANOMALY)

    with django_capture_on_commit_callbacks(execute=True):
        import_price(warm.pk, "24.50")

    page = client.get(PAGE).content.decode()
    assert "19.90" in page
    assert "24.50" not in page
    report = cache_audit(sample=100)
    assert audit_of(report, "pricing.price").stale == [str(warm.pk)]
    assert not report.passed
    assert cache_event_count("pricing.price", CacheEvent.AUDIT_ANOMALY) > anomalies_before
    with pytest.raises(CommandError, match="staler than tolerated"):
        call_command("cache_audit")


def test_with_cache_drift_off_the_same_import_shows_at_once_and_the_audit_passes(
    lab, client, warm, django_capture_on_commit_callbacks
):
    lab()  # the lab is on, this mode is not

    with django_capture_on_commit_callbacks(execute=True):
        import_price(warm.pk, "24.50")

    page = client.get(PAGE).content.decode()
    assert "24.50" in page
    assert "19.90" not in page
    assert cache_audit(sample=100).passed
