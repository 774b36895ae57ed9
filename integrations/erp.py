"""ERP client: paid orders are exported for fulfilment.

Called from the checkout outbox, never from a request: a slow ERP delays fulfilment, not
a page. Exports carry the outbox message's dedupe key as their Idempotency-Key, so a
redelivered message is booked once.
"""

from typing import Any

from integrations.upstream import CallPolicy, UpstreamTimeout, UpstreamUnavailable, upstream_call

POLICY = CallPolicy(dependency="erp", read_timeout=2.0, budget=3.0)


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
        reply = upstream_call(
            POLICY,
            "POST",
            "/erp/orders",
            json={"reference": reference, "lines": lines, "total": total, "currency": currency},
            idempotency_key=idempotency_key,
        )
    except (UpstreamUnavailable, UpstreamTimeout) as failure:
        raise ErpUnavailable(str(failure)) from failure
    if reply.is_error:
        raise ErpUnavailable(f"ERP refused the export: {reply.status} {reply.body}")


def erp_orders(*, reference: str | None = None) -> list[dict[str, Any]]:
    """Return the orders the ERP has booked (for audits and tests)."""
    params = {"reference": reference} if reference else None
    try:
        reply = upstream_call(POLICY, "GET", "/erp/orders", params=params)
    except (UpstreamUnavailable, UpstreamTimeout) as failure:
        raise ErpUnavailable(str(failure)) from failure
    return list(reply.body["orders"])
