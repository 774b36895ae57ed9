"""A busy store's readings for the ops dashboard: every panel full, every name long.

The layout and truth tests draw /ops/ from these instead of live traffic, so what they
check (no panel overflows, no "unknown") does not depend on what a thread happened to
request: every route of the manifest, every declared dependency (a breaker open), every
cache namespace, long SQL fingerprints, tasks in every state, a shed class over budget.
"""

from integrations.breakers import SPECS
from storefront.ops.readings import Reading, RouteReading
from storefront.ownership import MANIFEST
from toolkit.manifest import ANY_NAME

INTERVAL_S = 5.0
STARTED_AT = 1_780_000_000.0  # a fixed moment, so the screenshots do not change by the clock
POINTS = 13  # a minute of readings: every sparkline has a line to draw
BOUNDS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, float("inf"))


def _buckets(requests: float, slow_share: float) -> list[tuple[float, float]]:
    """Cumulative buckets: most requests under 50 ms, `slow_share` of them past 250 ms."""
    fast = requests * (1 - slow_share)
    shares = (0.5, 0.9, 1.0, 1.0, 1.0)
    cumulative = [fast * share for share in shares]
    cumulative += [fast + requests * slow_share * share for share in (0.5, 0.9, 1.0, 1.0)]
    return list(zip(BOUNDS, cumulative, strict=True))


def busy_reading(step: int) -> Reading:
    """The cumulative counts `step` intervals in; counts grow with the step."""
    grown = float(step + 1)
    routes = {
        route.view_name: RouteReading(
            buckets=_buckets(40 * grown * (index % 5 + 1), 0.08 if index % 4 == 0 else 0.0),
            count=40 * grown * (index % 5 + 1),
            errors=grown * (index % 3),
            timeouts=grown * (index % 2),
            queries=40 * grown * (index % 5 + 1) * 7,
            duplicate_requests=grown * 3 if index % 6 == 0 else 0.0,
        )
        for index, route in enumerate(MANIFEST.routes)
        if not route.view_name.endswith(ANY_NAME)
    }
    fingerprint = "SELECT catalog_variant.id, catalog_variant.sku FROM catalog_variant WHERE "
    return Reading(
        at=STARTED_AT + step * INTERVAL_S,
        routes=routes,
        in_flight=3.0,
        cache_events={
            (namespace, event): grown * weight
            for namespace in ("storefront.page", "catalog.product", "catalog.listing", "sessions")
            for event, weight in (("hit", 90), ("stale_served", 4), ("miss", 6), ("error", 1))
        },
        dependency_calls={
            (name, outcome): grown * weight
            for name in SPECS
            for outcome, weight in (("ok", 50), ("timeout", 2), ("fallback", 1))
        },
        dependency_latency={name: _buckets(53 * grown, 0.1) for name in SPECS},
        breaker_states={name: 2.0 if name == "reviews" else 0.0 for name in SPECS},
        queue_depth={"celery": 12.0},
        tasks={
            ("checkout.tasks.outbox_publish", state): grown * weight
            for state, weight in (("success", 20), ("retry", 2), ("failure", 1))
        },
        funnel={
            "cart_created": 30 * grown,
            "line_added": 40 * grown,
            "checkout_started": 12 * grown,
            "order_placed": 11 * grown,
            "payment_declined": grown,
            "order_completed": 10 * grown,
        },
        duplicate_queries={
            ("pages:category", f"{fingerprint}{'catalog_variant.product_id = %s AND ' * 6}1"): (
                grown * 9
            ),
            ("api:product-list", "a3f9c2e1d4b5a6978877665544332211"): grown * 2,
        },
        admission_wait=0.06 + 0.01 * step,
        admission_budgets={"bot": 0.05, "deep_browse": 0.1, "browse": 0.2},
        shed={"bot": 4 * grown},
    )


def busy_ring() -> tuple[list[Reading], Reading]:
    """A ring of readings and the reading taken now."""
    ring = [busy_reading(step) for step in range(POINTS)]
    return ring[:-1], ring[-1]
