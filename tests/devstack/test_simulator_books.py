"""A store and the simulated systems of record start out agreeing: the books the store
is seeded with are what the PIM and the ERP answer, so a first sync changes nothing."""

import json

from catalog.interface import variant_sku_batches
from devstack.snapshot import simulator_books_write
from inventory.interface import stock_sync_from_erp
from pricing.interface import prices_sync_from_pim
from tests.factories import stocked_product
from tests.simulator import running_simulator


def test_books_hold_every_skus_base_price_and_on_hand(db, tmp_path):
    product = stocked_product(variants=2, price="24.50", stock=9)
    stocked_product(price="3.10", stock=0)
    path = tmp_path / "simulator-books.json"

    count = simulator_books_write(path=path, batch_size=2)

    books = json.loads(path.read_text())
    skus = [v.sku for v in product.variants.all()]
    assert count == 3
    assert all(books["prices"][sku] == "24.50" for sku in skus)
    assert all(books["stock"][sku] == 9 for sku in skus)
    assert sorted(books["stock"].values()) == [0, 9, 9]


def test_a_first_sync_against_the_seeded_books_changes_nothing(db, tmp_path, settings):
    stocked_product(variants=3, price="24.50", stock=9)
    path = tmp_path / "simulator-books.json"
    simulator_books_write(path=path)
    batch = next(variant_sku_batches(batch_size=100))

    with running_simulator(books=path) as simulator:
        settings.INTEGRATIONS_UPSTREAM_URL = simulator.url
        assert prices_sync_from_pim(variant_skus=batch) == 0
        assert stock_sync_from_erp(variant_skus=batch) == 0
