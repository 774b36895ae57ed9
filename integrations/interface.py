"""Integrations' public interface: clients for every external service."""

from integrations.payments import (
    Authorization,
    Capture,
    CaptureRecord,
    Charge,
    PaymentDeclined,
    PaymentRejected,
    PaymentState,
    PaymentStatus,
    PaymentTimeout,
    PaymentUnavailable,
    payment_authorize,
    payment_capture,
    payment_captures,
    payment_charge,
    payment_lookup,
    payment_void,
)
from integrations.simulator.payment import TOKENS as PAYMENT_TEST_TOKENS

__all__ = [
    "PAYMENT_TEST_TOKENS",
    "Authorization",
    "Capture",
    "CaptureRecord",
    "Charge",
    "PaymentDeclined",
    "PaymentRejected",
    "PaymentState",
    "PaymentStatus",
    "PaymentTimeout",
    "PaymentUnavailable",
    "payment_authorize",
    "payment_capture",
    "payment_captures",
    "payment_charge",
    "payment_lookup",
    "payment_void",
]
