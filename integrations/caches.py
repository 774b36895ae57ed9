"""Integrations' cache and shared state in the cache server (`python manage.py cache_registry`).

One cache: the live quotes of the carrier and the tax service, good for a few minutes.
The rest is state, not a cache: a breaker's state exists nowhere else, and a
dependency's last answer is read only while the dependency fails (every live answer
overwrites it), so there is nothing to compare it with. Each is declared here, and the
clients read and write it only through the handles below.
"""

from integrations.dto import ShippingQuote, TaxRate
from toolkit.cache import CacheSpec, Stampede, StateSpec, declare, declare_state

# Checkout asks the carrier and the tax service for every order (`checkout/charges.py`),
# and both change their rates on a schedule, not from one order to the next. A live
# answer therefore serves for five minutes. Asking on every order cost each order the
# upstream's latency while a sync web worker waited: in the `partial-outage` load test
# (the carrier at 0.2-1.5 s) placing an order took 310 ms at the median, and every page
# queued behind those workers (browse p95 2.5x the spike's).
QUOTES = declare(
    CacheSpec(
        namespace="integrations.quote",
        owner="integrations",
        entity="the carrier's live rate table for a country; the tax service's live VAT "
        "rate for a destination",
        key_schema="shipping:<country> | tax:<country>:<postal code>",
        ttl=300,
        invalidated_by=(),
        staleness_tolerance=300,
        stampede=Stampede.SINGLE_FLIGHT,
        # Waiters give up when the asker's upstream budget (0.8 s) would have run out.
        lock_timeout=1.0,
        notes="Live answers only: a fallback (last known, built in) is never stored. Not "
        "audited: the system of record is the upstream service, which the next miss asks.",
        shape=ShippingQuote | TaxRate,
    )
)

BREAKERS = declare_state(
    StateSpec(
        prefix="integrations:breaker:",
        owner="integrations",
        entity="circuit-breaker state per dependency (opened at, recent failures, "
        "half-open probe slots), shared by every process",
        expiry="a day after its last write; probe slots with their open window",
    )
)

# A degradable dependency's last answer serves while it fails: a rate or a table kept a
# month is better than the built-in one, and a month bounds what a country nobody ships
# to any more leaves behind.
LAST_KNOWN_TTL_S = 30 * 24 * 3600

TAX_LAST_KNOWN = declare_state(
    StateSpec(
        prefix="integrations:tax:last:",
        owner="integrations",
        entity="the tax service's last VAT rate per destination (`<country>:<postal code>`), "
        "served only while the service fails (integrations.tax)",
        expiry="thirty days after the last live answer for the destination",
    )
)

SHIPPING_LAST_KNOWN = declare_state(
    StateSpec(
        prefix="integrations:shipping:last:",
        owner="integrations",
        entity="the carrier's last rate table per country (`<country>`), served only while "
        "the carrier fails (integrations.shipping)",
        expiry="thirty days after the last live answer for the country",
    )
)
