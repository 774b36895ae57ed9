"""Idempotent requests, with the semantics of Stripe and the IETF Idempotency-Key draft.

- no key → 400 `idempotency_key_missing`;
- same key, same request → the first response, status and body, replayed;
- same key, another request → 422 `idempotency_key_reused`;
- same key while the first is still running → 409 `idempotency_request_in_flight`.

Only a settled outcome is replayed. One that is not (a 5xx, an exception, an order whose
payment is still pending) leaves the key `retryable`: a retry of the same request runs
again, and the work it calls decides from its own records what that means (the order
service answers with the order that went through, or makes a new attempt for one whose
payment failed). The key keeps its fingerprint either way, so another request under it
is still a 422. Keys are scoped to the client (a cart), kept for
CHECKOUT_IDEMPOTENCY_TTL and purged by a periodic task.
"""

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from checkout.models import IdempotencyRecord
from toolkit.errors import DomainError
from toolkit.lab import mode_on

MAX_KEY_LENGTH = 255


class IdempotencyKeyMissing(DomainError):
    code = "idempotency_key_missing"


class IdempotencyKeyInvalid(DomainError):
    code = "idempotency_key_invalid"


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    status = 422


class IdempotencyRequestInFlight(DomainError):
    code = "idempotency_request_in_flight"
    status = 409


@dataclass(frozen=True)
class IdempotentOutcome:
    """What the work answered. Unsettled (and every 5xx) is answered but not replayed."""

    status: int
    body: Any
    settled: bool = True


@dataclass(frozen=True)
class IdempotentResponse:
    status: int
    body: Any
    replayed: bool


def request_fingerprint(payload: Mapping[str, Any]) -> str:
    """Hash a request body canonically, so key order and spacing do not matter."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise IdempotencyKeyMissing("Send an Idempotency-Key header with this request.")
    key = key.strip()
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise IdempotencyKeyInvalid(
            f"Idempotency-Key must be printable and at most {MAX_KEY_LENGTH} characters."
        )
    return key


def _claim(*, scope: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
    """Claim the key for this request; return the existing record if someone has it."""
    now = timezone.now()
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.create(
                scope=scope,
                key=key,
                fingerprint=fingerprint,
                locked_until=now + timedelta(seconds=settings.CHECKOUT_IDEMPOTENCY_LEASE),
                expires_at=now + timedelta(seconds=settings.CHECKOUT_IDEMPOTENCY_TTL),
            )
        return None
    except IntegrityError:
        return IdempotencyRecord.objects.get(scope=scope, key=key)


def _take_over(record: IdempotencyRecord) -> bool:
    """Take the lease of a retryable record, or of an in-flight one whose request died;
    True if we got it (two retries racing for it: one wins, the other is in flight)."""
    now = timezone.now()
    free = Q(state=IdempotencyRecord.State.RETRYABLE) | Q(
        state=IdempotencyRecord.State.IN_FLIGHT, locked_until__lt=now
    )
    return bool(
        IdempotencyRecord.objects.filter(free, pk=record.pk).update(
            state=IdempotencyRecord.State.IN_FLIGHT,
            locked_until=now + timedelta(seconds=settings.CHECKOUT_IDEMPOTENCY_LEASE),
        )
    )


def idempotent_response(
    *,
    scope: str,
    key: str | None,
    fingerprint: str,
    produce: Callable[[], IdempotentOutcome],
) -> IdempotentResponse:
    """Run `produce` once per (scope, key) until it settles; replay what it settled on.

    `produce` answers successes and expected failures alike (a decline is an answer, not
    a fault); an exception it raises leaves the key retryable.
    """
    key = _check_key(key)
    if mode_on("oversell"):
        return _response_unrecorded_naive(produce)
    existing = _claim(scope=scope, key=key, fingerprint=fingerprint)
    if existing is not None:
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used for a different request."
            )
        if existing.state == IdempotencyRecord.State.COMPLETED:
            assert existing.response_status is not None  # written with the COMPLETED state
            return IdempotentResponse(existing.response_status, existing.response_body, True)
        if not _take_over(existing):
            raise IdempotencyRequestInFlight(
                "A request with this Idempotency-Key is still being processed; retry shortly."
            )
    records = IdempotencyRecord.objects.filter(scope=scope, key=key)
    try:
        outcome = produce()
    except BaseException:
        records.update(state=IdempotencyRecord.State.RETRYABLE)
        raise
    if outcome.settled and outcome.status < 500:
        records.update(
            state=IdempotencyRecord.State.COMPLETED,
            response_status=outcome.status,
            response_body=outcome.body,
        )
    else:
        records.update(state=IdempotencyRecord.State.RETRYABLE)
    return IdempotentResponse(outcome.status, outcome.body, False)


def _response_unrecorded_naive(produce: Callable[[], IdempotentOutcome]) -> IdempotentResponse:
    """The lab's naive path (`oversell`): run the work with no idempotency record.

    What a team ships when it reads the Idempotency-Key header but trusts the client to
    send each request once. A double click, a retry after a timeout or a proxy's resend
    all run the work again: with the order service's own guards off too (`order_place`),
    each one is a new order and a new charge, which `audit_orders` and the gateway's
    captures show. Never used unless the lab is on.
    """
    outcome = produce()
    return IdempotentResponse(outcome.status, outcome.body, False)


def idempotency_records_purge() -> int:
    """Delete records past their retention. Returns the count."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
