"""Integrations' public interface: clients for every external service."""

from integrations.breakers import breakers_close
from integrations.erp import ErpUnavailable, erp_order_export, erp_orders_booked, erp_stock_levels
from integrations.fanout import (
    FanOutBudget,
    FanOutRecord,
    UndeclaredDependency,
    fan_out_start,
    fanout_recorded,
)
from integrations.fault_presets import (
    drift_inject,
    drift_record,
    faults_preset_apply,
    faults_status,
)
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
    payment_captures_page,
    payment_lookup,
    payment_void,
)
from integrations.pim import PimUnavailable, pim_prices
from integrations.recommendations import Recommendation, recommendations_for_product
from integrations.reviews import Review, ReviewSummary, reviews_for_product
from integrations.shipping import ShippingQuote, ShippingRate, ShippingUnavailable, shipping_rates
from integrations.tax import TaxRate, TaxUnavailable, tax_rate

__all__ = [
    "Authorization",
    "Capture",
    "CaptureRecord",
    "ErpUnavailable",
    "FanOutBudget",
    "FanOutRecord",
    "PaymentDeclined",
    "PaymentRejected",
    "PaymentState",
    "PaymentStatus",
    "PaymentTimeout",
    "PaymentUnavailable",
    "PimUnavailable",
    "Recommendation",
    "Review",
    "ReviewSummary",
    "ShippingQuote",
    "ShippingRate",
    "ShippingUnavailable",
    "TaxRate",
    "TaxUnavailable",
    "UndeclaredDependency",
    "breakers_close",
    "drift_inject",
    "drift_record",
    "erp_order_export",
    "erp_orders_booked",
    "erp_stock_levels",
    "fan_out_start",
    "fanout_recorded",
    "faults_preset_apply",
    "faults_status",
    "payment_authorize",
    "payment_capture",
    "payment_captures",
    "payment_captures_page",
    "payment_lookup",
    "payment_void",
    "pim_prices",
    "recommendations_for_product",
    "reviews_for_product",
    "shipping_rates",
    "tax_rate",
]
