"""Integrations' shared state in the cache server (`python manage.py cache_registry`).

None of it is a cache: a breaker's state exists nowhere else, and a dependency's last
answer is read only while the dependency fails (every live answer overwrites it), so
there is nothing to compare it with. Each is declared with its prefix, and the clients
read and write it only through the handles below.
"""

from toolkit.cache import StateSpec, declare_state

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
