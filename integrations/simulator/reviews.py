"""The simulated reviews service: a product's rating and its most recent reviews.

Ratings lean positive, as on every real shop; the number of reviews grows with the
product's popularity (its square root: a bestseller weighted 1,000,000 has about a
thousand) when the catalog snapshot knows it. An answer costs the same whatever that
number: the average comes from at most `RATINGS_SAMPLED` drawn ratings. (It once drew
every rating, two million for the top product, and the popular pages, the ones visited
most, timed out and opened the store's reviews breaker on a healthy profile.)
"""

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from integrations.simulator.catalog import SimCatalog
from integrations.simulator.routes import Reply, Request, Route

_AUTHORS = ("Anna K.", "Ben T.", "Chiara M.", "Dev P.", "Elif S.", "Femi O.", "Greta L.", "Hugo R.")
_PRAISE = (
    ("Does what it says", "Used it on three trips now and it still looks new."),
    ("Great value", "Cheaper than the big brands and I cannot tell the difference."),
    ("Comfortable all day", "Wore it from morning to evening without noticing it."),
    ("Solid build", "Well stitched, nothing rattles, feels like it will last years."),
)
_COMPLAINTS = (
    ("Runs small", "Order one size up; otherwise happy with it."),
    ("Arrived late", "The product is fine, the delivery took a week."),
    ("Not for heavy rain", "Fine in a shower, soaked through in a real storm."),
)
_EPOCH = date(2025, 1, 1)
SHOWN = 3
RATINGS_SAMPLED = 200


@dataclass
class Reviews:
    catalog: SimCatalog
    name: str = "reviews"

    def routes(self) -> list[Route]:
        return [Route("GET", r"/reviews/products/(?P<slug>[-a-z0-9_]+)", self.for_product)]

    def forget(self) -> None:
        """Reviews are derived, nothing is recorded."""

    def for_product(self, request: Request) -> Reply:
        """`GET /reviews/products/<slug>` -> average rating, count, the latest reviews."""
        slug = request.params["slug"]
        rng = self.catalog.rng("reviews", slug)
        known = self.catalog.products.get(slug)
        weight = known.weight if known else rng.uniform(1, 50)
        count = 0 if rng.random() < 0.1 else max(1, int(math.sqrt(weight) * rng.uniform(0.5, 2)))
        ratings = rng.choices(
            (5, 4, 3, 2, 1), weights=(50, 30, 10, 6, 4), k=min(count, RATINGS_SAMPLED)
        )
        shown = [_review(slug, rng, index, rating) for index, rating in enumerate(ratings[:SHOWN])]
        average = round(sum(ratings) / len(ratings), 1) if ratings else None
        return Reply(200, {"product": slug, "rating": average, "count": count, "reviews": shown})


def _review(slug: str, rng: Any, index: int, rating: int) -> dict[str, Any]:
    title, body = rng.choice(_PRAISE if rating >= 4 else _COMPLAINTS)
    return {
        "id": f"{slug}-{index + 1}",
        "author": rng.choice(_AUTHORS),
        "rating": rating,
        "title": title,
        "body": body,
        "created": (_EPOCH + timedelta(days=rng.randint(0, 400))).isoformat(),
    }
