"""Integrations' shared state in the cache server (`python manage.py cache_registry`)."""

from toolkit.cache import StateSpec, declare_state

BREAKER_PREFIX = "integrations:breaker:"

declare_state(
    StateSpec(
        prefix=BREAKER_PREFIX,
        owner="integrations",
        entity="circuit-breaker state per dependency (opened at, recent failures, "
        "half-open probe slots), shared by every process",
        expiry="a day after its last write; probe slots with their open window",
    )
)
