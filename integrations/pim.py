"""PIM client: list prices per SKU. Background: a failure defers the caller.

Meant for tasks, never a request, so it may wait longer than the page clients; the
breaker still stops a caller from hammering a PIM that is down. Pricing's scheduled
sync (`pricing.tasks.prices_sync_from_pim_task`) calls it, a batch at a time.
"""

from decimal import Decimal

from integrations.resilience import (
    Criticality,
    DependencySpec,
    DependencyUnavailable,
    dependency_call,
)
from integrations.upstream import CallPolicy, UpstreamTimeout, UpstreamUnavailable, upstream_call

SPEC = DependencySpec(
    name="pim",
    criticality=Criticality.BACKGROUND,
    fallback="none: the import task fails and runs again later",
    reset_timeout_s=30.0,
    max_concurrent=2,
    bulkhead_wait_s=1.0,
)
POLICY = CallPolicy(dependency="pim", read_timeout=2.0, budget=4.0)
MAX_SKUS = 100  # per request, as the PIM allows


class PimUnavailable(Exception):
    """The PIM did not answer; import later."""


def pim_prices(*, skus: list[str]) -> dict[str, Decimal]:
    """Return the PIM's list price of each SKU (at most MAX_SKUS per call)."""
    if not 0 < len(skus) <= MAX_SKUS:
        raise ValueError(f"ask for 1 to {MAX_SKUS} SKUs at a time")
    try:
        reply = dependency_call(
            SPEC,
            lambda: upstream_call(POLICY, "GET", "/pim/prices", params={"skus": ",".join(skus)}),
        )
    except (DependencyUnavailable, UpstreamUnavailable, UpstreamTimeout) as failure:
        raise PimUnavailable(str(failure)) from failure
    if reply.is_error:
        raise PimUnavailable(f"PIM refused: {reply.status} {reply.body}")
    return {row["sku"]: Decimal(row["amount"]) for row in reply.body["prices"]}
