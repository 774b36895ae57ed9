"""Reviews client: a product's rating and latest reviews. Optional: a failure hides them."""

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from integrations import recommendations
from integrations.resilience import (
    DependencyUnavailable,
    dependency_call,
    fallback_served,
)
from integrations.upstream import UpstreamTimeout, UpstreamUnavailable, upstream_call

# Same breaker and timeouts as recommendations: both render inside the product page's
# fan-out budget.
SPEC = replace(
    recommendations.SPEC, name="reviews", fallback="a quiet notice instead of the reviews"
)
POLICY = replace(recommendations.POLICY, dependency="reviews")


@dataclass(frozen=True)
class Review:
    author: str
    rating: int
    title: str
    body: str
    created: date


@dataclass(frozen=True)
class ReviewSummary:
    rating: Decimal | None  # None until someone reviews it
    count: int
    latest: tuple[Review, ...]


def reviews_for_product(*, slug: str) -> ReviewSummary | None:
    """Return the rating and latest reviews of `slug`, or None if the service failed."""
    try:
        reply = dependency_call(
            SPEC, lambda: upstream_call(POLICY, "GET", f"/reviews/products/{slug}")
        )
    except (DependencyUnavailable, UpstreamUnavailable, UpstreamTimeout) as failure:
        fallback_served(SPEC, failure)
        return None
    try:
        if reply.is_error:
            raise TypeError(reply.status)
        body = reply.body
        return ReviewSummary(
            rating=Decimal(str(body["rating"])) if body["rating"] is not None else None,
            count=int(body["count"]),
            latest=tuple(
                Review(
                    author=str(review["author"]),
                    rating=int(review["rating"]),
                    title=str(review["title"]),
                    body=str(review["body"]),
                    created=date.fromisoformat(review["created"]),
                )
                for review in body["reviews"]
            ),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError):
        fallback_served(SPEC, f"unusable answer {reply.status}")
        return None
