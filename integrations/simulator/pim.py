"""The simulated PIM: list prices per SKU, the system of record the store imports from."""

from dataclasses import dataclass
from decimal import Decimal

from integrations.simulator.catalog import SimCatalog
from integrations.simulator.routes import Reply, Request, Route, error
from integrations.simulator.stock import MAX_SKUS, requested_skus


@dataclass
class Pim:
    catalog: SimCatalog
    name: str = "pim"

    def routes(self) -> list[Route]:
        return [Route("GET", r"/pim/prices", self.prices)]

    def forget(self) -> None:
        """Prices are derived, nothing is recorded."""

    def prices(self, request: Request) -> Reply:
        """`GET /pim/prices?skus=A,B` -> list price of each SKU: from the books, else
        generated, stable per seed."""
        skus = requested_skus(request)
        if skus is None:
            return error(400, "invalid_request", f"skus: 1 to {MAX_SKUS} comma-separated SKUs")
        return Reply(200, {"prices": [self._price(sku) for sku in skus]})

    def _price(self, sku: str) -> dict[str, str]:
        if (booked := self.catalog.prices.get(sku)) is not None:
            return {"sku": sku, "amount": booked, "currency": "EUR"}
        rng = self.catalog.rng("price", sku)
        # Shop prices end in .90 or .99, between 5 and 400.
        euros = int(rng.lognormvariate(3.5, 0.8)) % 400 + 5
        cents = rng.choice(("0.90", "0.99"))
        return {"sku": sku, "amount": str(Decimal(euros) + Decimal(cents)), "currency": "EUR"}
