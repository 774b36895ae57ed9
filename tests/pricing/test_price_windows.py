"""Campaign windows open and close without a write: a scheduled publish tells search."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from pricing.interface import PriceInput, price_list_create, prices_import
from pricing.models import PriceList
from pricing.services import price_windows_publish
from pricing.tasks import price_windows_publish_task
from search.models import SearchDocument
from tests.factories import stocked_product


def test_a_campaign_that_starts_reaches_the_search_document(db, django_capture_on_commit_callbacks):
    # given a product at 100 and a campaign at 80 that has not started when imported
    now = timezone.now()
    product = stocked_product(price="100.00")
    variant = product.variants.get()
    price_list_create(code="spring", name="Spring", kind="campaign", priority=10)
    PriceList.objects.filter(code="spring").update(
        valid_from=now + timedelta(seconds=30), valid_until=now + timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        prices_import(
            price_list_code="spring",
            prices=[PriceInput(variant_id=variant.pk, amount=Decimal("80"))],
        )
    assert SearchDocument.objects.get(product_id=product.pk).min_price == Decimal("100.00")

    # when the campaign has started and the scheduled publish looks at that minute
    PriceList.objects.filter(code="spring").update(valid_from=now - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        published = price_windows_publish(since=now - timedelta(minutes=1), until=now)

    # then search stores the campaign price
    assert published == 1
    assert SearchDocument.objects.get(product_id=product.pk).min_price == Decimal("80.00")


def test_windows_outside_the_period_publish_nothing(db):
    now = timezone.now()
    product = stocked_product(price="100.00")
    price_list_create(code="later", name="Later", kind="campaign", priority=10)
    PriceList.objects.filter(code="later").update(valid_from=now + timedelta(hours=1))
    prices_import(
        price_list_code="later",
        prices=[PriceInput(variant_id=product.variants.get().pk, amount=Decimal("80"))],
    )

    assert price_windows_publish(since=now - timedelta(minutes=1), until=now) == 0
    assert price_windows_publish_task() == 0  # the scheduled run looks at its own period
