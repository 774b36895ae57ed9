"""Orders are charged shipping from the carrier and record the VAT the tax service gives,
falling back as documented, and say which source each came from."""

from decimal import Decimal

import httpx
import pytest

from checkout.interface import (
    ShippingAddress,
    UnknownShippingMethod,
    cart_add_line,
    cart_create,
    order_place,
)
from checkout.models import Order
from integrations.interface import PaymentRejected, PaymentUnavailable
from tests.factories import stocked_product


@pytest.fixture
def sku_value(db):
    # 19.90 a unit
    return stocked_product(stock=10, price=Decimal("19.90")).variants.get().sku


def place(sku, *, country="DE", postal_code="10115", method="standard", quantity=1):
    token = cart_create()
    cart_add_line(token=token, sku=sku, quantity=quantity)
    view = order_place(
        cart_token=token,
        idempotency_key="k",
        email="ada@example.com",
        shipping_address=ShippingAddress(
            name="Ada", line1="1 Way", city="City", postal_code=postal_code, country=country
        ),
        shipping_method=method,
        payment_token="tok_ok",
    )
    return Order.objects.get(number=view.number)


def test_a_home_order_is_charged_live_rates_and_records_the_vat_it_contains(sku_value):
    order = place(sku_value)

    assert (order.shipping_source, order.tax_source) == ("live", "live")
    assert order.shipping_total == Decimal("4.90")
    assert order.total == Decimal("24.80")
    assert order.tax_rate == Decimal("0.19")
    # prices include VAT: 24.80 - 24.80 / 1.19
    assert order.tax_total == Decimal("3.96")


def test_a_foreign_order_pays_the_carriers_zone_rate_and_its_countrys_vat(sku_value):
    order = place(sku_value, country="FR", postal_code="75001", method="express")

    assert order.shipping_source == "live"
    assert order.shipping_total == Decimal("15.90")  # 9.90 + twice the zone's 3.00
    assert order.tax_rate == Decimal("0.20")


def test_a_method_the_carrier_does_not_offer_there_is_refused(sku_value):
    with pytest.raises(UnknownShippingMethod) as refused:
        place(sku_value, country="IT", postal_code="00100", method="express")

    assert refused.value.details["choices"] == ["standard"]
    assert not Order.objects.exists()


def test_with_the_services_down_a_live_quote_serves_its_minutes_then_the_last_known(
    sku_value, upstream_simulator, quotes_expire
):
    place(sku_value, country="FR", postal_code="75001")
    upstream_simulator.set_fault("shipping", down=True)
    upstream_simulator.set_fault("tax", down=True)

    recent = place(sku_value, country="FR", postal_code="75001")
    quotes_expire()
    order = place(sku_value, country="FR", postal_code="75001")

    assert (recent.shipping_source, recent.tax_source) == ("live", "live")
    assert recent.shipping_total == Decimal("7.90")
    assert (order.shipping_source, order.tax_source) == ("last_known", "last_known")
    assert order.shipping_total == Decimal("7.90")
    assert order.tax_rate == Decimal("0.20")


def test_with_nothing_known_the_built_in_tables_serve(sku_value, upstream_simulator):
    upstream_simulator.set_fault("shipping", down=True)
    upstream_simulator.set_fault("tax", down=True)

    home = place(sku_value)
    abroad = place(sku_value, country="AT", postal_code="1010")

    assert (home.shipping_source, home.tax_source) == ("built_in", "built_in")
    assert home.shipping_total == Decimal("4.90")
    assert home.tax_rate == Decimal("0.19")
    # the carrier client knows no table for Austria: the store's own serves
    assert (abroad.shipping_source, abroad.tax_source) == ("store_table", "built_in")
    assert abroad.shipping_total == Decimal("4.90")
    assert abroad.tax_rate == Decimal("0.20")


def test_a_destination_without_a_known_rate_records_no_vat(sku_value):
    order = place(sku_value, country="GB", postal_code="N1 7AA")

    assert (order.shipping_source, order.tax_source) == ("store_table", "none")
    assert order.tax_rate is None
    assert order.tax_total == Decimal("0.00")


def test_a_capture_the_gateway_refuses_voids_the_authorization_and_fails_the_order(
    sku_value, upstream_simulator, monkeypatch
):
    def refuse(**_):
        raise PaymentRejected("capture refused", gateway_status=409, gateway_error="voided")

    monkeypatch.setattr("checkout.services.payment_capture", refuse)

    with pytest.raises(PaymentUnavailable):
        place(sku_value)

    order = Order.objects.get()
    assert order.status == Order.Status.PAYMENT_FAILED
    payments = httpx.get(
        f"{upstream_simulator.url}/payment/payments", params={"reference": order.number}
    ).json()["payments"]
    assert [p["status"] for p in payments] == ["voided"]
