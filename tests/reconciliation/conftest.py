"""A store whose stock and prices agree with a simulator that knows its SKUs.

Drift needs the simulator to know the catalog (it changes a share of the SKUs it knows),
so these tests start their own simulator with a snapshot of the test's catalog, and
bring the store in line with it first, as the PIM import and the ERP sync would.
"""

import json
from decimal import Decimal

import pytest

from catalog.models import Variant
from integrations.interface import erp_stock_levels, pim_prices
from inventory.interface import StockReceipt, stock_receive
from pricing.interface import PriceInput, price_list_create, prices_import
from tests.factories import ProductFactory, VariantFactory
from tests.simulator import running_simulator

SKUS = 240  # three batches of reconciliation, the last one partial


@pytest.fixture
def agreed_store(db, tmp_path, settings):
    """240 SKUs, stock and base prices as the simulator's ERP and PIM say; the simulator."""
    products = [ProductFactory() for _ in range(SKUS // 2)]
    variants = [VariantFactory(product=p, name=f"V{i}") for p in products for i in range(2)]
    snapshot = tmp_path / "catalog.json"
    snapshot.write_text(
        json.dumps(
            {
                "products": [
                    {"slug": p.slug, "skus": [v.sku for v in variants if v.product_id == p.pk]}
                    for p in products
                ]
            }
        )
    )
    with running_simulator(seed=11, catalog=snapshot) as simulator:
        settings.INTEGRATIONS_UPSTREAM_URL = simulator.url
        price_list_create(code="base", name="Base")
        for start in range(0, len(variants), 100):
            batch = variants[start : start + 100]
            on_hand = erp_stock_levels(skus=[v.sku for v in batch])
            prices = pim_prices(skus=[v.sku for v in batch])
            receipts = [
                StockReceipt(variant_id=v.pk, quantity=on_hand[v.sku])
                for v in batch
                if on_hand[v.sku] > 0
            ]
            stock_receive(receipts=receipts, reference="erp-sync")
            prices_import(
                price_list_code="base",
                prices=[PriceInput(variant_id=v.pk, amount=prices[v.sku]) for v in batch],
            )
        yield simulator


def variant_id_of(sku: str) -> int:
    return Variant.objects.values_list("pk", flat=True).get(sku=sku)


def decimal(value: str) -> Decimal:
    return Decimal(value)
