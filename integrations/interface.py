"""Integrations' public interface: clients for every external service."""

from integrations.erp import ErpUnavailable, erp_order_export, erp_orders
from integrations.payments import (
    Authorization,
    Capture,
    CaptureRecord,
    PaymentDeclined,
    PaymentRejected,
    PaymentState,
    PaymentStatus,
    PaymentTimeout,
    PaymentUnavailable,
    payment_authorize,
    payment_capture,
    payment_captures,
    payment_lookup,
    payment_void,
)
from integrations.simulator.payment import TOKENS as PAYMENT_TEST_TOKENS

__all__ = [
    "PAYMENT_TEST_TOKENS",
    "Authorization",
    "Capture",
    "CaptureRecord",
    "ErpUnavailable",
    "PaymentDeclined",
    "PaymentRejected",
    "PaymentState",
    "PaymentStatus",
    "PaymentTimeout",
    "PaymentUnavailable",
    "erp_order_export",
    "erp_orders",
    "payment_authorize",
    "payment_capture",
    "payment_captures",
    "payment_lookup",
    "payment_void",
]
