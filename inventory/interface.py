"""Inventory's public interface: the only module other apps may import."""

from inventory.dto import StockDiscrepancy, StockLevel, StockReceipt
from inventory.selectors import (
    allocated_by_variant,
    availability_for_variants,
    stock_discrepancies,
    stock_levels,
)
from inventory.services import (
    AVAILABILITY_SHOWN_BELOW,
    STOCK_CHANGED,
    InsufficientStock,
    InvalidStockChange,
    ReservationLimit,
    stock_adjust,
    stock_allocate,
    stock_levels_sync,
    stock_receive,
    stock_release,
    stock_reservations_purge,
    stock_reservations_release,
    stock_reserve,
    stock_sell,
    stock_sync_from_erp,
    stock_unbooked_sales_listen,
)

__all__ = [
    "AVAILABILITY_SHOWN_BELOW",
    "STOCK_CHANGED",
    "InsufficientStock",
    "InvalidStockChange",
    "ReservationLimit",
    "StockDiscrepancy",
    "StockLevel",
    "StockReceipt",
    "allocated_by_variant",
    "availability_for_variants",
    "stock_adjust",
    "stock_allocate",
    "stock_discrepancies",
    "stock_levels",
    "stock_levels_sync",
    "stock_receive",
    "stock_release",
    "stock_reservations_purge",
    "stock_reservations_release",
    "stock_reserve",
    "stock_sell",
    "stock_sync_from_erp",
    "stock_unbooked_sales_listen",
]
