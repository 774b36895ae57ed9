"""The back-office write API: off without a token, refused without the right one."""

from decimal import Decimal

import pytest

from inventory.interface import stock_levels
from pricing.interface import prices_for_variants

TOKEN = "s3cret-token"
AUTH = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


@pytest.fixture
def backoffice_on(settings):
    settings.STOREFRONT_BACKOFFICE_TOKEN = TOKEN


def test_the_api_is_off_without_a_token(client, sku, settings):
    settings.STOREFRONT_BACKOFFICE_TOKEN = ""

    response = client.put(
        f"/backoffice/v1/prices/{sku}", {"amount": "9.99"}, content_type="application/json", **AUTH
    )

    assert response.status_code == 404


def test_a_wrong_token_is_refused(client, sku, backoffice_on):
    response = client.post(
        f"/backoffice/v1/stock/{sku}",
        {"add": 5},
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer wrong",
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_a_price_write_goes_through_pricing(client, product, sku, backoffice_on):
    response = client.put(
        f"/backoffice/v1/prices/{sku}", {"amount": "12.50"}, content_type="application/json", **AUTH
    )

    assert response.status_code == 200
    variant_id = product.variants.get().id
    assert prices_for_variants(variant_ids=[variant_id])[variant_id] == Decimal("12.50")


def test_a_stock_write_goes_through_the_ledger(client, product, sku, backoffice_on):
    added = client.post(
        f"/backoffice/v1/stock/{sku}", {"add": 5}, content_type="application/json", **AUTH
    )
    set_to = client.post(
        f"/backoffice/v1/stock/{sku}", {"set": 3}, content_type="application/json", **AUTH
    )

    assert added.json()["on_hand"] == 15
    assert set_to.json()["on_hand"] == 3
    variant_id = product.variants.get().id
    assert stock_levels(variant_ids=[variant_id])[variant_id].on_hand == 3


@pytest.mark.parametrize(
    "body",
    [{"amount": "abc"}, {"amount": "-1"}, {"amount": "1.999"}, {}],
)
def test_bad_prices_are_a_400(client, sku, backoffice_on, body):
    response = client.put(
        f"/backoffice/v1/prices/{sku}", body, content_type="application/json", **AUTH
    )

    assert response.status_code == 400


def test_bad_stock_writes_are_a_400_and_unknown_skus_a_404(client, sku, backoffice_on):
    both = client.post(
        f"/backoffice/v1/stock/{sku}", {"add": 1, "set": 2}, content_type="application/json", **AUTH
    )
    negative = client.post(
        f"/backoffice/v1/stock/{sku}", {"set": -1}, content_type="application/json", **AUTH
    )
    unknown = client.post(
        "/backoffice/v1/stock/NOPE", {"add": 1}, content_type="application/json", **AUTH
    )

    assert both.status_code == 400
    assert negative.status_code == 400
    assert unknown.status_code == 404


def test_hostile_skus_and_bodies_are_4xx_not_errors(client, sku, backoffice_on):
    nul_sku = client.post(
        "/backoffice/v1/stock/SKU%00", {"add": 1}, content_type="application/json", **AUTH
    )
    too_deep = client.put(
        f"/backoffice/v1/prices/{sku}",
        "[" * 5_000 + "]" * 5_000,
        content_type="application/json",
        **AUTH,
    )

    assert nul_sku.status_code == 404
    assert too_deep.status_code == 400
