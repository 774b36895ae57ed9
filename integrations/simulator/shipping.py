"""The simulated carrier: shipping rates to a destination country.

The home market pays what the store's own table says; other countries pay a zone
surcharge, and the islands and far zones get no express service.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from integrations.simulator.routes import Reply, Request, Route, error

HOME = "DE"
_ZONES = {
    "DE": Decimal("0"),
    **dict.fromkeys(("AT", "NL", "BE", "DK", "FR", "PL"), Decimal("3.00")),
    **dict.fromkeys(("IT", "ES", "SE", "IE", "FI", "PT"), Decimal("6.00")),
}
_EXPRESS_ZONES = {"DE", "AT", "NL", "BE", "DK", "FR", "PL"}


@dataclass
class Shipping:
    name: str = "shipping"

    def routes(self) -> list[Route]:
        return [Route("GET", r"/shipping/rates", self.rates)]

    def forget(self) -> None:
        """Rates are fixed, nothing is recorded."""

    def rates(self, request: Request) -> Reply:
        """`GET /shipping/rates?country=DE` -> each service's price and free-over limit."""
        country = request.query.get("country", HOME).upper()
        surcharge = _ZONES.get(country)
        if surcharge is None:
            return error(404, "unknown_country", f"no service to {country!r}")
        rates: list[dict[str, Any]] = [
            {
                "code": "standard",
                "name": "Standard, 3-5 days" if country == HOME else "Standard, 4-8 days",
                "price": str(Decimal("4.90") + surcharge),
                "free_over": str(Decimal("50.00") + surcharge * 10),
            }
        ]
        if country in _EXPRESS_ZONES:
            rates.append(
                {
                    "code": "express",
                    "name": "Express, next working day" if country == HOME else "Express, 2 days",
                    "price": str(Decimal("9.90") + surcharge * 2),
                    "free_over": None,
                }
            )
        return Reply(200, {"country": country, "currency": "EUR", "rates": rates})
