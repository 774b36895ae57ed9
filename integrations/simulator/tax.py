"""The simulated tax service: the VAT rate for a destination country and postal code.

Standard EU rates, with the postal-code exceptions a real tax API knows about (German
Heligoland, the Canary Islands, the Azores and Madeira).
"""

import re
from dataclasses import dataclass

from integrations.simulator.routes import Reply, Request, Route, error

STANDARD_RATES = {
    "AT": "0.20",
    "BE": "0.21",
    "DE": "0.19",
    "DK": "0.25",
    "ES": "0.21",
    "FI": "0.255",
    "FR": "0.20",
    "IE": "0.23",
    "IT": "0.22",
    "NL": "0.21",
    "PL": "0.23",
    "PT": "0.23",
    "SE": "0.25",
}
# (country, postal code pattern, rate, region): checked before the standard rate.
_EXCEPTIONS = (
    ("DE", re.compile(r"27498"), "0.00", "Heligoland (outside the EU VAT area)"),
    ("ES", re.compile(r"3[58]\d{3}"), "0.07", "Canary Islands (IGIC)"),
    ("PT", re.compile(r"9[5-9]\d{2}(-\d{3})?"), "0.16", "Azores"),
    ("PT", re.compile(r"9[0-4]\d{2}(-\d{3})?"), "0.22", "Madeira"),
)


@dataclass
class Tax:
    name: str = "tax"

    def routes(self) -> list[Route]:
        return [Route("GET", r"/tax/rates", self.rate)]

    def forget(self) -> None:
        """Rates are fixed, nothing is recorded."""

    def rate(self, request: Request) -> Reply:
        """`GET /tax/rates?country=DE&postal_code=10115` -> the rate that applies there."""
        country = request.query.get("country", "").upper()
        postal_code = request.query.get("postal_code", "").strip()
        if country not in STANDARD_RATES:
            return error(404, "unknown_country", f"no VAT rates for {country!r}")
        rate, region = STANDARD_RATES[country], "standard"
        for code, pattern, special_rate, special_region in _EXCEPTIONS:
            if code == country and pattern.fullmatch(postal_code):
                rate, region = special_rate, special_region
                break
        return Reply(
            200, {"country": country, "postal_code": postal_code, "rate": rate, "region": region}
        )
