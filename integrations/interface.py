"""Integrations' public interface: clients for every external service."""

from integrations.payments import (
    Charge,
    PaymentDeclined,
    PaymentTimeout,
    PaymentUnavailable,
    payment_charge,
)

PAYMENT_TEST_TOKENS = ("tok_ok", "tok_decline", "tok_timeout", "tok_unavailable")

__all__ = [
    "PAYMENT_TEST_TOKENS",
    "Charge",
    "PaymentDeclined",
    "PaymentTimeout",
    "PaymentUnavailable",
    "payment_charge",
]
