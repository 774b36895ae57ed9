"""Payment gateway client: authorize, capture, void, and what reconciliation reads.

Payment is the store's one critical dependency, so this client fails closed and fast: a
gateway that is down, refusing or answering 5xx gives `PaymentUnavailable` within a
fraction of a second; one that stops answering gives `PaymentTimeout` within
`INTEGRATIONS_PAYMENT_TIMEOUT` x 1.5, and then the charge may exist — the caller leaves
its order pending and reconciles by reference (`payment_lookup`). Every write carries an
idempotency key derived from the caller's reference, so retries, replays and
reconciliation never charge twice.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from django.conf import settings

from integrations.resilience import (
    Criticality,
    DependencySpec,
    DependencyUnavailable,
    dependency_call,
)
from integrations.upstream import CallPolicy, UpstreamTimeout, UpstreamUnavailable, upstream_call
from toolkit.errors import DomainError

SPEC = DependencySpec(
    name="payment",
    criticality=Criticality.CRITICAL,
    fallback="none: checkout fails closed with payment_unavailable, the cart stays open",
    # Checkouts beyond this wait briefly, then fail fast rather than queue on a slow gateway.
    max_concurrent=8,
    bulkhead_wait_s=0.25,
)

PaymentStatus = Literal["none", "authorized", "captured", "voided"]


class PaymentDeclined(DomainError):
    code = "payment_declined"
    status = 402


class PaymentUnavailable(DomainError):
    code = "payment_unavailable"
    status = 503


class PaymentRejected(Exception):
    """The gateway refused a request as inconsistent with the payment's state.

    Examples: capturing a voided authorization, capturing more than was authorized, or
    reusing an idempotency key for a different request. A bug or a race in the store,
    never the buyer's doing, so not a DomainError: it surfaces as a server error.
    """

    def __init__(self, message: str, *, gateway_status: int, gateway_error: str) -> None:
        super().__init__(f"{message} (gateway answered {gateway_status} {gateway_error})")
        self.gateway_status = gateway_status
        self.gateway_error = gateway_error


class PaymentTimeout(Exception):
    """The gateway did not answer in time: the charge may or may not have happened."""


@dataclass(frozen=True)
class Authorization:
    id: str
    amount: Decimal
    currency: str
    reference: str


@dataclass(frozen=True)
class Capture:
    id: str
    captured_amount: Decimal


@dataclass(frozen=True)
class PaymentState:
    """What the gateway holds for one reference; `none` means no money moved."""

    status: PaymentStatus
    authorization_id: str | None
    captured_amount: Decimal


@dataclass(frozen=True)
class CaptureRecord:
    reference: str
    captured_amount: Decimal
    currency: str
    captured_at: datetime | None = None  # None from a gateway that does not say


# Settled states win over open ones when a reference has several authorizations.
_STATUS_RANK: dict[str, int] = {"captured": 3, "authorized": 2, "voided": 1}


def payment_authorize(
    *, token: str, amount: Decimal, currency: str, reference: str
) -> Authorization:
    """Hold `amount` on the buyer's card; the same reference never authorizes twice."""
    body = _call(
        "POST",
        "/payment/authorizations",
        json={"token": token, "amount": str(amount), "currency": currency, "reference": reference},
        idempotency_key=f"{reference}:authorize",
    )
    return Authorization(
        id=body["id"],
        amount=Decimal(body["amount"]),
        currency=body["currency"],
        reference=body["reference"],
    )


def payment_capture(*, authorization_id: str, amount: Decimal, reference: str) -> Capture:
    """Capture up to the authorized amount; repeating it for a reference is a no-op."""
    body = _call(
        "POST",
        f"/payment/authorizations/{authorization_id}/capture",
        json={"amount": str(amount)},
        idempotency_key=f"{reference}:capture",
    )
    return Capture(id=body["id"], captured_amount=Decimal(body["captured_amount"]))


def payment_void(*, authorization_id: str, reference: str) -> None:
    """Release an uncaptured authorization; voiding twice is harmless."""
    _call(
        "POST",
        f"/payment/authorizations/{authorization_id}/void",
        idempotency_key=f"{reference}:void",
    )


def payment_lookup(*, reference: str) -> PaymentState:
    """Ask the gateway what happened to a reference: the answer reconciliation acts on.

    Raises PaymentUnavailable (never PaymentTimeout: a read changes nothing) when the
    gateway cannot say; reconcile again later.
    """
    body = _call("GET", "/payment/payments", params={"reference": reference})
    payments = sorted(body["payments"], key=lambda p: _STATUS_RANK.get(p["status"], 0))
    if not payments:
        return PaymentState(status="none", authorization_id=None, captured_amount=Decimal(0))
    settled = payments[-1]
    return PaymentState(
        status=settled["status"],
        authorization_id=settled["id"],
        captured_amount=Decimal(settled["captured_amount"]),
    )


def payment_captures(*, since: datetime | None = None) -> list[CaptureRecord]:
    """List every capture the gateway made (at or after `since`, if given), oldest
    first, for the order audit."""
    params = {"since": since.isoformat()} if since is not None else None
    body = _call("GET", "/payment/captures", params=params)
    return [
        CaptureRecord(
            reference=capture["reference"],
            captured_amount=Decimal(capture["captured_amount"]),
            currency=capture["currency"],
            captured_at=(
                datetime.fromisoformat(capture["captured_at"])
                if capture.get("captured_at")
                else None
            ),
        )
        for capture in body["captures"]
    ]


def payment_captures_page(*, after: str = "", limit: int = 100) -> tuple[list[CaptureRecord], str]:
    """Return up to `limit` captures made after capture `after`, and the next cursor
    ("" on the last page): reconciliation reads the gateway in bounded pages."""
    params = {"limit": str(limit), **({"after": after} if after else {})}
    body = _call("GET", "/payment/captures", params=params)
    page = [
        CaptureRecord(
            reference=capture["reference"],
            captured_amount=Decimal(capture["captured_amount"]),
            currency=capture["currency"],
        )
        for capture in body["captures"]
    ]
    return page, body.get("next") or ""


def _policy() -> CallPolicy:
    """Read at call time, so a changed setting (or a test override) applies at once."""
    read_timeout = settings.INTEGRATIONS_PAYMENT_TIMEOUT
    # Half a read timeout more than one attempt: enough to retry a lost answer once
    # (the gateway replays it by key), never enough to stall a checkout for long.
    return CallPolicy(dependency="payment", read_timeout=read_timeout, budget=read_timeout * 1.5)


def _call(method: str, path: str, **request: Any) -> dict[str, Any]:
    try:
        policy = _policy()
        reply = dependency_call(SPEC, lambda: upstream_call(policy, method, path, **request))
    except UpstreamTimeout as timeout:
        raise PaymentTimeout(str(timeout)) from timeout
    except (DependencyUnavailable, UpstreamUnavailable) as unavailable:
        raise PaymentUnavailable(
            "Payments are unavailable right now. Please try again shortly."
        ) from unavailable
    if reply.status == 402:
        raise PaymentDeclined("Your card was declined. Try another payment method.")
    if reply.is_error or not isinstance(reply.body, dict):
        error = reply.body.get("error", "") if isinstance(reply.body, dict) else ""
        raise PaymentRejected(
            "The gateway refused the request", gateway_status=reply.status, gateway_error=str(error)
        )
    return reply.body
