"""The simulated PIM: list prices per SKU, the system of record the store imports from."""

import threading
from dataclasses import dataclass, field
from decimal import Decimal

from integrations.simulator.catalog import SimCatalog
from integrations.simulator.routes import Reply, Request, Route, error
from integrations.simulator.stock import MAX_SKUS, requested_skus


@dataclass
class Pim:
    catalog: SimCatalog
    name: str = "pim"
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # List prices set by drift (integrations.simulator.drift), over the seeded ones.
    _prices: dict[str, Decimal] = field(default_factory=dict)

    def routes(self) -> list[Route]:
        return [Route("GET", r"/pim/prices", self.prices)]

    def forget(self) -> None:
        """Go back to the seeded prices."""
        with self._lock:
            self._prices.clear()

    def prices(self, request: Request) -> Reply:
        """`GET /pim/prices?skus=A,B` -> list price of each SKU: from the books, else
        generated, stable per seed."""
        skus = requested_skus(request)
        if skus is None:
            return error(400, "invalid_request", f"skus: 1 to {MAX_SKUS} comma-separated SKUs")
        return Reply(200, {"prices": [self._price(sku) for sku in skus]})

    def price(self, sku: str) -> Decimal:
        """One SKU's list price: seeded, unless drift changed it."""
        with self._lock:
            drifted = self._prices.get(sku)
        if drifted is not None:
            return drifted
        if (booked := self.catalog.prices.get(sku)) is not None:
            return Decimal(booked)
        rng = self.catalog.rng("price", sku)
        # Shop prices end in .90 or .99, between 5 and 400.
        euros = int(rng.lognormvariate(3.5, 0.8)) % 400 + 5
        return Decimal(euros) + Decimal(rng.choice(("0.90", "0.99")))

    def price_set(self, sku: str, amount: Decimal) -> None:
        with self._lock:
            self._prices[sku] = amount

    def _price(self, sku: str) -> dict[str, str]:
        return {"sku": sku, "amount": str(self.price(sku)), "currency": "EUR"}
