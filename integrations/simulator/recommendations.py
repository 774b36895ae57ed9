"""The simulated recommendation engine: products often bought with a given one."""

from dataclasses import dataclass

from integrations.simulator.catalog import SimCatalog
from integrations.simulator.routes import Reply, Request, Route, error

MAX_LIMIT = 12


@dataclass
class Recommendations:
    catalog: SimCatalog
    name: str = "recommendations"

    def routes(self) -> list[Route]:
        return [Route("GET", r"/recommendations/products/(?P<slug>[-a-z0-9_]+)", self.related)]

    def forget(self) -> None:
        """Recommendations are derived, nothing is recorded."""

    def related(self, request: Request) -> Reply:
        """`GET /recommendations/products/<slug>?limit=4` -> related products, best first."""
        try:
            limit = int(request.query.get("limit", "4"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            return error(400, "invalid_request", f"limit: 1 to {MAX_LIMIT}")
        slug = request.params["slug"]
        items = self.catalog.related(slug, limit=limit)
        return Reply(200, {"product": slug, "items": items})
