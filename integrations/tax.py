"""Tax client: the VAT rate for a destination. Degradable: the last known rate serves.

Every answer is remembered per destination (shared state, `integrations.caches`); when
the service fails (or its breaker is open) the last known rate for that destination
serves, then the built-in table of standard rates. Only a country the store has never
heard of fails. Checkout asks it for every order (`checkout/charges.py`); a live rate
serves the same destination for five minutes without asking again (`QUOTES`).
"""

from decimal import Decimal

from integrations.caches import LAST_KNOWN_TTL_S, QUOTES, TAX_LAST_KNOWN
from integrations.dto import TaxRate
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
    name="tax",
    criticality=Criticality.DEGRADABLE,
    fallback="last known rate for the destination, then the built-in standard rates",
)
POLICY = CallPolicy(dependency="tax", read_timeout=0.5, budget=0.8, backoff=0.05)
# Standard rates as of the last release: what serves when nothing better is known.
BUILT_IN_RATES = {
    "AT": "0.20",
    "BE": "0.21",
    "DE": "0.19",
    "DK": "0.25",
    "ES": "0.21",
    "FI": "0.255",
    "FR": "0.20",
    "IE": "0.23",
    "IT": "0.22",
    "NL": "0.21",
    "PL": "0.23",
    "PT": "0.23",
    "SE": "0.25",
}


class TaxUnavailable(Exception):
    """No rate is known for the destination, live or remembered."""


def tax_rate(*, country: str, postal_code: str = "") -> TaxRate:
    """Return the VAT rate for a destination, live if the tax service answers.

    A live rate serves for a few minutes without asking again (`QUOTES`).
    """
    country = country.upper()
    return QUOTES.get_or_compute(
        f"tax:{country}:{postal_code}", lambda: _tax_rate_asked(country, postal_code)
    )


def _tax_rate_asked(country: str, postal_code: str) -> TaxRate | DoNotCache[TaxRate]:
    """Ask the tax service; only its live answer may be cached, never a fallback."""
    destination = f"{country}:{postal_code}"
    try:
        reply = dependency_call(
            SPEC,
            lambda: upstream_call(
                POLICY, "GET", "/tax/rates", params={"country": country, "postal_code": postal_code}
            ),
        )
        if not reply.is_error:
            rate = Decimal(str(reply.body["rate"]))
            TAX_LAST_KNOWN.set(destination, str(rate), timeout=LAST_KNOWN_TTL_S)
            return TaxRate(country, postal_code, rate, "live")
        failure: object = f"answered {reply.status}"
    except (DependencyUnavailable, UpstreamUnavailable, UpstreamTimeout) as unavailable:
        failure = unavailable
    except (KeyError, TypeError, ArithmeticError) as unusable:
        failure = unusable
    if (remembered := TAX_LAST_KNOWN.get(destination)) is not None:
        fallback_served(SPEC, failure)
        return DoNotCache(TaxRate(country, postal_code, Decimal(remembered), "last_known"))
    if country in BUILT_IN_RATES:
        fallback_served(SPEC, failure)
        built_in = Decimal(BUILT_IN_RATES[country])
        return DoNotCache(TaxRate(country, postal_code, built_in, "built_in"))
    raise TaxUnavailable(f"no VAT rate known for {country!r} ({failure})")
