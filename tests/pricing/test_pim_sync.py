"""Prices are imported from the PIM, the system of record, only where they differ."""

from decimal import Decimal

import pytest

from integrations.interface import PimUnavailable, pim_prices
from pricing.caches import PRICES
from pricing.interface import prices_for_listing, prices_for_variants, prices_sync_from_pim
from pricing.models import Price
from pricing.tasks import prices_sync_from_pim_task
from tests.factories import stocked_product
from toolkit.cache.owned import epoch_read


@pytest.fixture
def variants(db):
    product = stocked_product(variants=3, price="1.00")
    return {v.pk: v.sku for v in product.variants.order_by("pk")}


def test_a_sync_imports_the_pims_prices_and_bumps_only_what_changed(
    variants, django_capture_on_commit_callbacks
):
    quoted = pim_prices(skus=list(variants.values()))
    assert prices_for_listing(variant_ids=list(variants)) != {  # cached at the old prices
        variant_id: quoted[sku] for variant_id, sku in variants.items()
    }

    with django_capture_on_commit_callbacks(execute=True):
        changed = prices_sync_from_pim(variant_skus=variants)

    assert changed == 3
    assert prices_for_variants(variant_ids=list(variants)) == {
        variant_id: quoted[sku] for variant_id, sku in variants.items()
    }
    # the listing cache's entries for them were retired: it reads the new prices
    assert prices_for_listing(variant_ids=list(variants)) == {
        variant_id: quoted[sku] for variant_id, sku in variants.items()
    }


def test_a_sync_that_changes_nothing_bumps_no_generation(
    variants, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        prices_sync_from_pim(variant_skus=variants)
    generations, epoch = PRICES.generations(), epoch_read()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        changed = prices_sync_from_pim(variant_skus=variants)

    assert changed == 0
    assert callbacks == []
    assert (PRICES.generations(), epoch_read()) == (generations, epoch)


def test_only_the_variants_that_drifted_are_imported(variants, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        prices_sync_from_pim(variant_skus=variants)
    drifted = next(iter(variants))
    Price.objects.filter(variant_id=drifted).update(amount=Decimal("0.50"))

    assert prices_sync_from_pim(variant_skus=variants) == 1
    assert prices_for_variants(variant_ids=[drifted])[drifted] != Decimal("0.50")


def test_the_task_walks_the_catalog_in_batches(variants, settings):
    settings.PRICING_PIM_SYNC_BATCH = 2

    first = prices_sync_from_pim_task()
    second = prices_sync_from_pim_task()

    assert first == {"checked": 3, "changed": 3}
    assert second == {"checked": 3, "changed": 0}


def test_a_pim_that_is_down_changes_nothing(variants, upstream_simulator):
    upstream_simulator.set_fault("pim", down=True)

    with pytest.raises(PimUnavailable):
        prices_sync_from_pim(variant_skus=variants)

    assert set(prices_for_variants(variant_ids=list(variants)).values()) == {Decimal("1.00")}
