"""Stock levels as the simulated ERP reports them: on hand per SKU, stable per seed."""

from typing import Any

from integrations.simulator.catalog import SimCatalog
from integrations.simulator.routes import Request

MAX_SKUS = 100
_WAREHOUSES = ("berlin", "lyon", "milan")


def requested_skus(request: Request) -> list[str] | None:
    """Read `?skus=A,B` (1 to MAX_SKUS); None when missing or too many."""
    skus = [sku for sku in request.query.get("skus", "").split(",") if sku.strip()]
    return skus if 0 < len(skus) <= MAX_SKUS else None


def stock_level(catalog: SimCatalog, sku: str) -> dict[str, Any]:
    """One SKU's stock: from the books, else generated (most are stocked, some run low, a
    few are out, as in a real store)."""
    rng = catalog.rng("stock", sku)
    on_hand = rng.choice((0, 1, 3)) if rng.random() < 0.15 else rng.randint(5, 250)
    on_hand = catalog.stock.get(sku, on_hand)
    return {"sku": sku, "on_hand": on_hand, "warehouse": rng.choice(_WAREHOUSES)}
