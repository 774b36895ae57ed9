"""The dependency clients: live answers, and what each serves when its dependency fails."""

from decimal import Decimal

import pytest

from integrations.interface import (
    ErpUnavailable,
    PaymentUnavailable,
    ShippingUnavailable,
    TaxUnavailable,
    erp_stock_levels,
    payment_authorize,
    pim_prices,
    recommendations_for_product,
    reviews_for_product,
    shipping_rates,
    tax_rate,
)
from integrations.payments import SPEC as PAYMENT
from integrations.resilience import Breaker


def test_tax_is_live_when_the_service_answers():
    rate = tax_rate(country="es", postal_code="35001")

    assert (rate.rate, rate.source) == (Decimal("0.07"), "live")


def test_tax_serves_a_live_rate_five_minutes_then_the_last_known_then_built_in(
    upstream_simulator, quotes_expire
):
    tax_rate(country="ES", postal_code="35001")
    upstream_simulator.set_fault("tax", down=True)

    # Not asked again: the service is down, and the rate is still its live one.
    assert tax_rate(country="ES", postal_code="35001").source == "live"
    quotes_expire()
    assert tax_rate(country="ES", postal_code="35001").source == "last_known"
    assert tax_rate(country="ES", postal_code="35001").rate == Decimal("0.07")
    assert tax_rate(country="DE").rate == Decimal("0.19")
    assert tax_rate(country="DE").source == "built_in"
    with pytest.raises(TaxUnavailable):
        tax_rate(country="ZZ")


def test_shipping_serves_a_live_table_five_minutes_then_the_last_known_then_home(
    upstream_simulator, quotes_expire
):
    live = shipping_rates(country="FR")
    upstream_simulator.set_fault("shipping", hang=True)

    assert shipping_rates(country="FR") == live
    quotes_expire()
    remembered = shipping_rates(country="FR")
    home = shipping_rates(country="DE")

    assert live.source == "live"
    assert remembered.source == "last_known"
    assert remembered.rates == live.rates
    assert home.source == "built_in"
    assert home.rates[0].price == Decimal("4.90")
    with pytest.raises(ShippingUnavailable):
        shipping_rates(country="IT")


def test_a_fallback_is_never_kept_the_next_order_asks_again(upstream_simulator):
    upstream_simulator.set_fault("shipping", down=True)
    upstream_simulator.set_fault("tax", down=True)
    assert shipping_rates(country="DE").source == "built_in"
    assert tax_rate(country="DE").source == "built_in"

    upstream_simulator.set_fault("shipping")
    upstream_simulator.set_fault("tax")

    assert shipping_rates(country="DE").source == "live"
    assert tax_rate(country="DE").source == "live"


def test_optional_clients_return_none_when_their_service_fails(upstream_simulator):
    assert len(recommendations_for_product(slug="trail-runner", limit=3)) == 3
    upstream_simulator.set_fault("recommendations", down=True)
    upstream_simulator.set_fault("reviews", error_rate=1.0)

    assert recommendations_for_product(slug="trail-runner") is None
    assert reviews_for_product(slug="trail-runner") is None


def test_pim_prices_and_erp_stock_cover_each_sku_asked_for(upstream_simulator):
    prices = pim_prices(skus=["TR-1", "TR-2"])
    stock = erp_stock_levels(skus=["TR-1", "TR-2"])

    assert set(prices) == set(stock) == {"TR-1", "TR-2"}
    assert all(price > 0 for price in prices.values())
    upstream_simulator.set_fault("erp", down=True)
    with pytest.raises(ErpUnavailable):
        erp_stock_levels(skus=["TR-1"])


def test_payment_fails_closed_fast_once_its_breaker_opens(upstream_simulator):
    upstream_simulator.set_fault("payment", down=True)
    for attempt in range(PAYMENT.failure_threshold):
        with pytest.raises(PaymentUnavailable):
            payment_authorize(
                token="tok_ok", amount=Decimal(1), currency="EUR", reference=f"cb-{attempt}"
            )
    reached = upstream_simulator.stats("payment")["requests"]

    with pytest.raises(PaymentUnavailable):
        payment_authorize(token="tok_ok", amount=Decimal(1), currency="EUR", reference="cb-x")

    assert Breaker(PAYMENT).state() == "open"
    assert upstream_simulator.stats("payment")["requests"] == reached
