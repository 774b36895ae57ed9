"""Inventory's public interface: the only module other apps may import."""

from inventory.dto import StockLevel, StockReceipt
from inventory.selectors import availability_for_variants, stock_levels
from inventory.services import (
    InsufficientStock,
    InvalidStockChange,
    stock_adjust,
    stock_allocate,
    stock_receive,
    stock_release,
    stock_reservations_purge,
    stock_reservations_release,
    stock_reserve,
    stock_sell,
)

__all__ = [
    "InsufficientStock",
    "InvalidStockChange",
    "StockLevel",
    "StockReceipt",
    "availability_for_variants",
    "stock_adjust",
    "stock_allocate",
    "stock_levels",
    "stock_receive",
    "stock_release",
    "stock_reservations_purge",
    "stock_reservations_release",
    "stock_reserve",
    "stock_sell",
]
