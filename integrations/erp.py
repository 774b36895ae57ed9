"""ERP client: paid orders are exported for fulfilment; the ERP's stock levels can be read.

Exports are called from the checkout outbox, never from a request: a slow ERP delays
fulfilment, not a page. They carry the outbox message's dedupe key as their
Idempotency-Key, so a redelivered message is booked once. The stock levels feed
inventory's scheduled sync (`inventory.tasks.stock_sync_from_erp_task`).
"""

from typing import Any

from integrations.resilience import (
    Criticality,
    DependencySpec,
    DependencyUnavailable,
    dependency_call,
)
from integrations.upstream import CallPolicy, UpstreamTimeout, UpstreamUnavailable, upstream_call

SPEC = DependencySpec(
    name="erp",
    criticality=Criticality.BACKGROUND,
    fallback="none: the outbox or the import retries later",
    reset_timeout_s=30.0,
    max_concurrent=2,
    bulkhead_wait_s=1.0,
)
POLICY = CallPolicy(dependency="erp", read_timeout=2.0, budget=3.0)
MAX_SKUS = 100


class ErpUnavailable(Exception):
    """The ERP did not book the export; the outbox retries it later."""


def erp_order_export(
    *,
    reference: str,
    idempotency_key: str,
    lines: list[dict[str, Any]],
    total: str,
    currency: str,
) -> None:
    """Book a paid order in the ERP; safe to repeat with the same key."""
    try:
        reply = dependency_call(
            SPEC,
            lambda: upstream_call(
                POLICY,
                "POST",
                "/erp/orders",
                json={
                    "reference": reference,
                    "lines": lines,
                    "total": total,
                    "currency": currency,
                },
                idempotency_key=idempotency_key,
            ),
        )
    except (DependencyUnavailable, UpstreamUnavailable, UpstreamTimeout) as failure:
        raise ErpUnavailable(str(failure)) from failure
    if reply.is_error:
        raise ErpUnavailable(f"ERP refused the export: {reply.status} {reply.body}")


def erp_orders_booked(*, references: list[str]) -> set[str]:
    """Return which of these order references the ERP has booked (at most MAX_SKUS)."""
    if not 0 < len(references) <= MAX_SKUS:
        raise ValueError(f"ask for 1 to {MAX_SKUS} references at a time")
    try:
        reply = dependency_call(
            SPEC,
            lambda: upstream_call(
                POLICY, "GET", "/erp/orders", params={"references": ",".join(references)}
            ),
        )
    except (DependencyUnavailable, UpstreamUnavailable, UpstreamTimeout) as failure:
        raise ErpUnavailable(str(failure)) from failure
    if reply.is_error:
        raise ErpUnavailable(f"ERP refused: {reply.status} {reply.body}")
    return {row["reference"] for row in reply.body["orders"]}


def erp_stock_levels(*, skus: list[str]) -> dict[str, int]:
    """Return units on hand per SKU as the ERP books them (at most MAX_SKUS per call)."""
    if not 0 < len(skus) <= MAX_SKUS:
        raise ValueError(f"ask for 1 to {MAX_SKUS} SKUs at a time")
    try:
        reply = dependency_call(
            SPEC,
            lambda: upstream_call(POLICY, "GET", "/erp/stock", params={"skus": ",".join(skus)}),
        )
    except (DependencyUnavailable, UpstreamUnavailable, UpstreamTimeout) as failure:
        raise ErpUnavailable(str(failure)) from failure
    if reply.is_error:
        raise ErpUnavailable(f"ERP refused: {reply.status} {reply.body}")
    return {row["sku"]: int(row["on_hand"]) for row in reply.body["stock"]}
