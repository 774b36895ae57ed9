"""The simulated ERP: it receives paid orders for fulfilment and reports stock levels.

Exports are idempotent by `Idempotency-Key`: the outbox may deliver a message twice
(a worker dies after sending, before recording it), and the ERP must book it once.
Booked exports are written through to the simulator's state (`state.py`), so a restart
forgets none. Booking an order ships its units: the stock the ERP reports for a SKU is
its level less the units of every order booked for it.
"""

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from integrations.simulator.catalog import SimCatalog
from integrations.simulator.routes import Reply, Request, Route, error
from integrations.simulator.state import SimState
from integrations.simulator.stock import MAX_SKUS, requested_skus, stock_level


@dataclass
class Erp:
    catalog: SimCatalog = field(default_factory=lambda: SimCatalog.load(None, seed=0))
    state: SimState = field(default_factory=SimState)
    name: str = "erp"
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _exports: dict[str, dict[str, Any]] = field(default_factory=dict)
    # On hand set by drift (integrations.simulator.drift), over the seeded levels.
    _on_hand: dict[str, int] = field(default_factory=dict)
    _shipped: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._exports = dict(self.state.records(self.name, "export"))
        for export in self._exports.values():
            self._ship(export)

    def _ship(self, export: dict[str, Any]) -> None:
        """Count a booked order's units as gone from the warehouse. Call holding the lock
        (or before serving)."""
        for line in export.get("lines") or ():
            if isinstance(line, dict) and isinstance(line.get("quantity"), int):
                self._shipped[str(line.get("sku"))] += line["quantity"]

    def routes(self) -> list[Route]:
        return [
            Route("POST", r"/erp/orders", self.receive_order),
            Route("GET", r"/erp/orders", self.orders),
            Route("GET", r"/erp/stock", self.stock),
        ]

    def forget(self) -> None:
        with self._lock:
            self._exports.clear()
            self._on_hand.clear()
            self._shipped.clear()
            self.state.forget(self.name)

    def receive_order(self, request: Request) -> Reply:
        """Book an order for fulfilment once per key; 201 the first time, 200 after."""
        key = request.idempotency_key
        body = request.body
        if not key:
            return error(400, "idempotency_key_required")
        if not isinstance(body, dict) or not isinstance(body.get("reference"), str):
            return error(400, "invalid_request", "reference is required")
        with self._lock:
            booked = self._exports.get(key)
            if booked is not None:
                if booked != body:
                    return error(422, "idempotency_key_reused")
                return Reply(200, {"reference": body["reference"], "status": "booked"})
            self._exports[key] = body
            self._ship(body)
            self.state.put(self.name, "export", key, body)
        return Reply(201, {"reference": body["reference"], "status": "booked"})

    def orders(self, request: Request) -> Reply:
        """List booked orders: all, one `reference`, or up to MAX_SKUS `references=A,B`."""
        wanted: set[str] | None = None
        if "reference" in request.query:
            wanted = {request.query["reference"]}
        elif "references" in request.query:
            wanted = {ref for ref in request.query["references"].split(",") if ref}
            if not 0 < len(wanted) <= MAX_SKUS:
                return error(400, "invalid_request", f"references: 1 to {MAX_SKUS}")
        with self._lock:
            found = [
                export
                for export in self._exports.values()
                if wanted is None or export["reference"] in wanted
            ]
        return Reply(200, {"orders": found})

    def on_hand(self, sku: str) -> int:
        """Units on hand of one SKU: the seeded level unless drift changed it."""
        with self._lock:
            drifted = self._on_hand.get(sku)
            shipped = self._shipped[sku]
        if drifted is not None:
            return drifted
        # The seeded level less what booked orders took out of the warehouse.
        return max(stock_level(self.catalog, sku)["on_hand"] - shipped, 0)

    def on_hand_set(self, sku: str, units: int) -> None:
        with self._lock:
            self._on_hand[sku] = units

    def booked_references(self) -> list[str]:
        with self._lock:
            return sorted({export["reference"] for export in self._exports.values()})

    def export_drop(self, reference: str) -> None:
        """Forget every booking of a reference, as if its export was never acknowledged."""
        with self._lock:
            for key in [k for k, e in self._exports.items() if e["reference"] == reference]:
                del self._exports[key]
                self.state.drop(self.name, "export", key)

    def stock(self, request: Request) -> Reply:
        """`GET /erp/stock?skus=A,B` -> on hand per SKU and the warehouse holding it."""
        skus = requested_skus(request)
        if skus is None:
            return error(400, "invalid_request", f"skus: 1 to {MAX_SKUS} comma-separated SKUs")
        levels = [stock_level(self.catalog, sku) for sku in skus]
        return Reply(
            200, {"stock": [{**level, "on_hand": self.on_hand(level["sku"])} for level in levels]}
        )
