"""Recommendations client: products bought with this one. Optional: a failure hides it.

The product page calls it inside its fan-out budget; a short read timeout and one quick
retry keep a single call under the page's deadline, and the breaker stops calling at all
once the service keeps failing.
"""

from dataclasses import dataclass

from integrations.resilience import (
    Criticality,
    DependencySpec,
    DependencyUnavailable,
    dependency_call,
    fallback_served,
)
from integrations.upstream import CallPolicy, UpstreamTimeout, UpstreamUnavailable, upstream_call

SPEC = DependencySpec(
    name="recommendations",
    criticality=Criticality.OPTIONAL,
    fallback="the widget is left out",
    reset_timeout_s=15.0,
)
POLICY = CallPolicy(
    dependency="recommendations",
    read_timeout=0.2,
    budget=0.25,
    connect_timeout=0.1,
    pool_timeout=0.05,
    attempts=2,  # a reset connection is worth one retry; a hang never is (no time left)
    backoff=0.02,
)


@dataclass(frozen=True)
class Recommendation:
    slug: str
    name: str


def recommendations_for_product(*, slug: str, limit: int = 4) -> tuple[Recommendation, ...] | None:
    """Return up to `limit` products related to `slug`, or None if the service failed."""
    try:
        reply = dependency_call(
            SPEC,
            lambda: upstream_call(
                POLICY, "GET", f"/recommendations/products/{slug}", params={"limit": str(limit)}
            ),
        )
    except (DependencyUnavailable, UpstreamUnavailable, UpstreamTimeout) as failure:
        fallback_served(SPEC, failure)
        return None
    if reply.is_error:
        fallback_served(SPEC, f"unusable answer {reply.status}")
        return None
    try:
        items = reply.body["items"]
        return tuple(
            Recommendation(slug=str(item["slug"]), name=str(item["name"]))
            for item in items[:limit]
            if item["slug"] != slug
        )
    except (KeyError, TypeError):
        fallback_served(SPEC, f"unusable answer {reply.status}")
        return None
