"""Payment gateway client, as the store sees it: one charge per order, idempotent by key.

First cut: an in-process gateway that honours the simulated tokens (`tok_ok`,
`tok_decline`, `tok_timeout`, `tok_unavailable`). The integrations issue swaps in an HTTP
client to the upstream simulator with timeouts, retries and a circuit breaker; callers
keep this interface.
"""

import secrets
import threading
from dataclasses import dataclass
from decimal import Decimal

from toolkit.errors import DomainError


class PaymentDeclined(DomainError):
    code = "payment_declined"
    status = 402


class PaymentUnavailable(DomainError):
    code = "payment_unavailable"
    status = 503


class PaymentTimeout(Exception):
    """The gateway did not answer in time: the charge may or may not have happened."""


@dataclass(frozen=True)
class Charge:
    reference: str
    amount: Decimal
    currency: str


_charges: dict[str, Charge] = {}
_charges_lock = threading.Lock()


def payment_charge(*, token: str, amount: Decimal, currency: str, idempotency_key: str) -> Charge:
    """Authorize and capture `amount`; the same key never charges twice."""
    if token == "tok_decline":
        raise PaymentDeclined("Your card was declined. Try another payment method.")
    if token == "tok_unavailable":
        raise PaymentUnavailable("Payments are unavailable right now. Please try again shortly.")
    if token == "tok_timeout":
        raise PaymentTimeout(idempotency_key)
    if token != "tok_ok":
        raise PaymentDeclined("Unknown payment token.", token=token[:40])
    with _charges_lock:
        charge = _charges.get(idempotency_key)
        if charge is None:
            charge = Charge(f"ch_{secrets.token_hex(8)}", amount, currency)
            _charges[idempotency_key] = charge
    return charge
