"""The simulated payment gateway: authorize, capture, void, and what reconciliation reads.

Every write carries an `Idempotency-Key` (Stripe's semantics): the same key with the same
request replays the stored answer, with a different request it is refused with 422.
Answers that are 5xx are not stored, so a retry after one is processed afresh.

Test tokens: `tok_ok` authorizes; `tok_decline` is declined (402); `tok_unavailable`
answers 503; `tok_timeout` is charged (authorized and captured at once) but its answer is
held longer than any client waits, so the charge exists while the store never hears of
it — the case reconciliation exists for.
"""

import json
import re
import secrets
import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from integrations.simulator.routes import Reply, Request, Route, error
from integrations.simulator.state import SimState

TOKENS = ("tok_ok", "tok_decline", "tok_timeout", "tok_unavailable")
# Longer than any client timeout, short enough that a forgotten request ends by itself.
LOST_REPLY_HOLD_S = 30.0
_CURRENCY = re.compile(r"[A-Z]{3}")


class _Invalid(Exception):
    """A request body the gateway refuses with 400."""


@dataclass
class _Authorization:
    id: str
    reference: str
    amount: Decimal
    currency: str
    status: str = "authorized"  # then "captured" or "voided", never back
    captured_amount: Decimal = Decimal("0")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "amount": str(self.amount),
            "currency": self.currency,
            "captured_amount": str(self.captured_amount),
            "reference": self.reference,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "_Authorization":
        return cls(
            id=data["id"],
            reference=data["reference"],
            amount=Decimal(data["amount"]),
            currency=data["currency"],
            status=data["status"],
            captured_amount=Decimal(data["captured_amount"]),
        )


@dataclass(frozen=True)
class _Capture:
    id: str
    authorization_id: str
    reference: str
    captured_amount: Decimal
    currency: str
    captured_at: str  # ISO 8601, UTC

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "captured_amount": str(self.captured_amount)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "_Capture":
        return cls(**{**data, "captured_amount": Decimal(data["captured_amount"])})


@dataclass
class PaymentGateway:
    """The gateway's state, in memory for answering and written through to `state` (a
    file when the simulator runs with `--state`), so a restart forgets no payment. One
    lock guards it all."""

    state: SimState = field(default_factory=SimState)
    name: str = "payment"
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _authorizations: dict[str, _Authorization] = field(default_factory=dict)
    _captures: list[_Capture] = field(default_factory=list)
    _replies: dict[str, tuple[str, Reply]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for _, data in self.state.records(self.name, "authorization"):
            authorization = _Authorization.from_json(data)
            self._authorizations[authorization.id] = authorization
        self._captures = [
            _Capture.from_json(d) for _, d in self.state.records(self.name, "capture")
        ]
        for key, (fingerprint, status, body) in self.state.records(self.name, "reply"):
            self._replies[key] = (fingerprint, Reply(status, body))

    def routes(self) -> list[Route]:
        return [
            Route("POST", r"/payment/authorizations", self.authorize),
            Route("POST", r"/payment/authorizations/(?P<id>[\w-]+)/capture", self.capture),
            Route("POST", r"/payment/authorizations/(?P<id>[\w-]+)/void", self.void),
            Route("GET", r"/payment/payments", self.payments),
            Route("GET", r"/payment/captures", self.captures),
        ]

    def forget(self) -> None:
        with self._lock:
            self._authorizations.clear()
            self._captures.clear()
            self._replies.clear()
            self.state.forget(self.name)

    def _save(self, authorization: _Authorization) -> None:
        """Persist an authorization's current state. Call while holding the lock."""
        self.state.put(self.name, "authorization", authorization.id, authorization.to_json())

    def authorize(self, request: Request) -> Reply:
        """Hold `amount` on the card behind `token`; 201 with the authorization."""
        reply = self._idempotent(request, self._authorize)
        if isinstance(request.body, dict) and request.body.get("token") == "tok_timeout":
            # Replays are lost too: the store must learn the outcome by reconciling.
            return Reply(reply.status, reply.body, hold_s=LOST_REPLY_HOLD_S)
        return reply

    def capture(self, request: Request) -> Reply:
        """Capture up to the authorized amount, once per authorization."""
        return self._idempotent(request, self._capture)

    def void(self, request: Request) -> Reply:
        """Release an uncaptured authorization; voiding twice is harmless."""
        with self._lock:
            authorization = self._authorizations.get(request.params["id"])
            if authorization is None:
                return error(404, "authorization_not_found")
            if authorization.status == "captured":
                return error(409, "already_captured")
            authorization.status = "voided"
            self._save(authorization)
            return Reply(200, {"id": authorization.id, "status": "voided"})

    def payments(self, request: Request) -> Reply:
        """List the authorizations made for one reference."""
        reference = request.query.get("reference", "")
        if not reference:
            return error(400, "invalid_request", "reference is required")
        with self._lock:
            found = [a.to_json() for a in self._authorizations.values() if a.reference == reference]
        return Reply(200, {"payments": found})

    def captures(self, request: Request) -> Reply:
        """List captures, oldest first: every one, or a page of `limit` after capture `after`.

        `?since=` (ISO 8601, UTC) lists only the captures made at or after it. A page's
        `next` is the last capture's id (null on the last page), so a reader pages through
        any number of captures in bounded requests.
        """
        since = request.query.get("since", "")
        try:
            cutoff = _utc(since) if since else None
        except ValueError:
            return error(400, "invalid_request", "since must be an ISO 8601 time")
        limit_text = request.query.get("limit", "")
        if limit_text and not (limit_text.isdigit() and 0 < int(limit_text) <= 1000):
            return error(400, "invalid_request", "limit: 1 to 1000")
        after = request.query.get("after", "")
        with self._lock:
            captures = self._captures
            if after:
                position = next((i for i, c in enumerate(captures) if c.id == after), None)
                if position is None:
                    return error(400, "invalid_request", "after: an unknown capture id")
                captures = captures[position + 1 :]
            if cutoff is not None:
                captures = [c for c in captures if _utc(c.captured_at) >= cutoff]
            if not limit_text:
                return Reply(200, {"captures": [c.to_json() for c in captures]})
            page = captures[: int(limit_text)]
            more = len(captures) > len(page)
            return Reply(
                200,
                {"captures": [c.to_json() for c in page], "next": page[-1].id if more else None},
            )

    def captures_list(self) -> list["_Capture"]:
        """Every capture, oldest first (for drift)."""
        with self._lock:
            return list(self._captures)

    def capture_drop(self, capture_id: str) -> None:
        """Lose a capture, as if the gateway never made it (drift: a missing capture)."""
        with self._lock:
            self._captures = [c for c in self._captures if c.id != capture_id]
            self.state.drop(self.name, "capture", capture_id)

    def capture_invent(self, *, capture_id: str, reference: str, amount: Decimal) -> None:
        """Record a capture no store asked for (drift: an unknown capture)."""
        authorization = _Authorization(f"auth_{capture_id[4:]}", reference, amount, "EUR")
        authorization.status, authorization.captured_amount = "captured", amount
        capture = _Capture(
            capture_id, authorization.id, reference, amount, "EUR", datetime.now(UTC).isoformat()
        )
        with self._lock:
            self._authorizations[authorization.id] = authorization
            self._captures.append(capture)
            self.state.put(self.name, "capture", capture.id, capture.to_json())
            self._save(authorization)

    def _idempotent(self, request: Request, operation: Any) -> Reply:
        key = request.idempotency_key
        if not key:
            return error(400, "idempotency_key_required")
        fingerprint = f"{request.method} {request.path} {json.dumps(request.body, sort_keys=True)}"
        # The lock is held through the operation, so two requests with one key in flight
        # serialize: the second replays the first's answer instead of acting again.
        with self._lock:
            stored = self._replies.get(key)
            if stored is not None:
                stored_fingerprint, reply = stored
                if stored_fingerprint != fingerprint:
                    return error(422, "idempotency_key_reused")
                return reply
            try:
                reply = operation(request)
            except _Invalid as invalid:
                reply = error(400, "invalid_request", str(invalid))
            if reply.status < 500:
                self._replies[key] = (fingerprint, reply)
                self.state.put(self.name, "reply", key, [fingerprint, reply.status, reply.body])
            return reply

    def _authorize(self, request: Request) -> Reply:
        body = _object(request.body)
        token = _text(body, "token")
        amount = _amount(body)
        currency = _text(body, "currency")
        reference = _text(body, "reference")
        if not _CURRENCY.fullmatch(currency):
            raise _Invalid("currency must be three capital letters")
        if token == "tok_unavailable":
            return error(503, "gateway_unavailable")
        if token == "tok_decline":
            return error(402, "card_declined")
        if token not in TOKENS:
            return error(402, "invalid_token")
        authorization = _Authorization(f"auth_{secrets.token_hex(8)}", reference, amount, currency)
        self._authorizations[authorization.id] = authorization
        if token == "tok_timeout":
            self._capture_now(authorization, amount)
        self._save(authorization)
        return Reply(
            201,
            {
                "id": authorization.id,
                "status": authorization.status,
                "amount": str(amount),
                "currency": currency,
                "reference": reference,
            },
        )

    def _capture(self, request: Request) -> Reply:
        authorization = self._authorizations.get(request.params["id"])
        if authorization is None:
            return error(404, "authorization_not_found")
        amount = _amount(_object(request.body))
        if authorization.status == "voided":
            return error(409, "authorization_voided")
        if authorization.status == "captured":
            return error(409, "already_captured")
        if amount > authorization.amount:
            return error(422, "amount_exceeds_authorization")
        capture = self._capture_now(authorization, amount)
        return Reply(
            200,
            {
                "id": capture.id,
                "authorization_id": authorization.id,
                "status": "captured",
                "captured_amount": str(amount),
            },
        )

    def _capture_now(self, authorization: _Authorization, amount: Decimal) -> _Capture:
        """Record a capture. Call while holding the lock."""
        authorization.status = "captured"
        authorization.captured_amount = amount
        capture = _Capture(
            f"cap_{secrets.token_hex(8)}",
            authorization.id,
            authorization.reference,
            amount,
            authorization.currency,
            datetime.now(UTC).isoformat(),
        )
        self._captures.append(capture)
        self.state.put(self.name, "capture", capture.id, capture.to_json())
        self._save(authorization)
        return capture


def _utc(text: str) -> datetime:
    """Parse an ISO 8601 time; one without an offset is UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _Invalid("the body must be a JSON object")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise _Invalid(f"{name} is required")
    return value


def _amount(body: dict[str, Any]) -> Decimal:
    """Parse a positive amount sent as a decimal string (never a float: money)."""
    value = body.get("amount")
    if not isinstance(value, str):
        raise _Invalid("amount must be a decimal string")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise _Invalid("amount must be a decimal string") from None
    exponent = amount.as_tuple().exponent  # a letter for NaN and infinity, else an int
    if not amount.is_finite() or amount <= 0 or not isinstance(exponent, int) or exponent < -2:
        raise _Invalid("amount must be positive with at most two decimals")
    return amount
