"""Shipping rates client: the carrier's live rates. Degradable: the last known table serves.

Each country's last answer is remembered (shared state, `integrations.caches`); without
one, the built-in table (the home market's published rates) serves for the home country.
Checkout asks it for every order (`checkout/charges.py`); a live table serves the same
country for five minutes without asking again (`QUOTES`). Checkout's own table
(`checkout/shipping.py`) serves only where this client knows nothing.
"""

from decimal import Decimal
from typing import Any

from integrations.caches import LAST_KNOWN_TTL_S, QUOTES, SHIPPING_LAST_KNOWN
from integrations.dto import ShippingQuote, ShippingRate
from integrations.resilience import (
    Criticality,
    DependencySpec,
    DependencyUnavailable,
    dependency_call,
    fallback_served,
)
from integrations.upstream import CallPolicy, UpstreamTimeout, UpstreamUnavailable, upstream_call
from toolkit.cache import DoNotCache

SPEC = DependencySpec(
    name="shipping",
    criticality=Criticality.DEGRADABLE,
    fallback="last known table for the country, then the built-in home table",
)
POLICY = CallPolicy(dependency="shipping", read_timeout=0.5, budget=0.8, backoff=0.05)
HOME_COUNTRY = "DE"


class ShippingUnavailable(Exception):
    """No rates are known for the country, live or remembered."""


BUILT_IN_TABLE = (
    ShippingRate("standard", "Standard, 3-5 days", Decimal("4.90"), Decimal("50.00")),
    ShippingRate("express", "Express, next working day", Decimal("9.90"), None),
)


def shipping_rates(*, country: str = HOME_COUNTRY) -> ShippingQuote:
    """Return the shipping services and prices to `country`, live if the carrier answers.

    A live table serves for a few minutes without asking again (`QUOTES`).
    """
    country = country.upper()
    return QUOTES.get_or_compute(f"shipping:{country}", lambda: _shipping_rates_asked(country))


def _shipping_rates_asked(country: str) -> ShippingQuote | DoNotCache[ShippingQuote]:
    """Ask the carrier; only its live answer may be cached, never a fallback."""
    try:
        reply = dependency_call(
            SPEC,
            lambda: upstream_call(POLICY, "GET", "/shipping/rates", params={"country": country}),
        )
        if not reply.is_error:
            rows = reply.body["rates"]
            rates = tuple(_rate(row) for row in rows)
            SHIPPING_LAST_KNOWN.set(country, rows, timeout=LAST_KNOWN_TTL_S)
            return ShippingQuote(country, rates, "live")
        failure: object = f"answered {reply.status}"
    except (DependencyUnavailable, UpstreamUnavailable, UpstreamTimeout) as unavailable:
        failure = unavailable
    except (KeyError, TypeError, ArithmeticError) as unusable:
        failure = unusable
    if (remembered := SHIPPING_LAST_KNOWN.get(country)) is not None:
        fallback_served(SPEC, failure)
        rates = tuple(_rate(row) for row in remembered)
        return DoNotCache(ShippingQuote(country, rates, "last_known"))
    if country == HOME_COUNTRY:
        fallback_served(SPEC, failure)
        return DoNotCache(ShippingQuote(country, BUILT_IN_TABLE, "built_in"))
    raise ShippingUnavailable(f"no shipping rates known for {country!r} ({failure})")


def _rate(row: dict[str, Any]) -> ShippingRate:
    free_over = row.get("free_over")
    return ShippingRate(
        code=str(row["code"]),
        name=str(row["name"]),
        price=Decimal(str(row["price"])),
        free_over=Decimal(str(free_over)) if free_over is not None else None,
    )
