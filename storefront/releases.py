"""The storefront's release flags: one demonstration rollout and three kill switches.

Authority to stop each is in the ownership manifest (storefront/ownership.py, RELEASES).

- `recommendations-v2`: a new recommendations ranking on the product page. It is the
  demonstration of a bad change: it re-ranks in the request and costs
  `STOREFRONT_RECOMMENDATIONS_V2_DELAY` seconds (0.25 by default) on every product page
  it renders, so its gate sees the canary's p95 well above control's and stops it.
- Kill switches `recommendations`, `reviews`, `search-facets`: non-critical parts of a
  page that a person with the stop authority can switch off (degraded mode) during an
  incident or a campaign, without a deploy; `rollout resume` brings them back.
"""

import time
from collections.abc import Sequence
from typing import TypeVar

from django.conf import settings

from releases.interface import Criteria, FlagKind, FlagSpec, Step, flag_declare

T = TypeVar("T")

RECOMMENDATIONS_V2 = flag_declare(
    FlagSpec(
        name="recommendations-v2",
        owner="integrations",
        description="New recommendations ranking on the product page (deliberately slow).",
        routes=frozenset({"pages:product"}),
        steps=(
            Step(500, min_dwell_s=30, min_samples=100),  # 5%
            Step(2_500, min_dwell_s=30, min_samples=200),  # 25%
            Step(5_000, min_dwell_s=60, min_samples=400),  # 50%
            Step(10_000, min_dwell_s=60, min_samples=400),  # 100%
        ),
        criteria=Criteria(
            max_p95_ms=400, min_interval_samples=20, max_interval_s=30, max_failures=3
        ),
    )
)
RECOMMENDATIONS = flag_declare(
    FlagSpec(
        name="recommendations",
        owner="integrations",
        description="Recommendations on the product page (off: left out, no upstream call).",
        routes=frozenset({"pages:product"}),
        kind=FlagKind.KILL_SWITCH,
        steps=(Step(10_000),),
    )
)
REVIEWS = flag_declare(
    FlagSpec(
        name="reviews",
        owner="integrations",
        description="Reviews on the product page (off: a quiet notice, no upstream call).",
        routes=frozenset({"pages:product"}),
        kind=FlagKind.KILL_SWITCH,
        steps=(Step(10_000),),
    )
)
SEARCH_FACETS = flag_declare(
    FlagSpec(
        name="search-facets",
        owner="search",
        description="Facet counts beside search results (off: results only).",
        routes=frozenset({"pages:search"}),
        kind=FlagKind.KILL_SWITCH,
        steps=(Step(10_000),),
    )
)


def recommendations_rank_v2(items: Sequence[T] | None) -> Sequence[T] | None:
    """Re-rank recommendations the v2 way: the same items, at a (deliberate) cost."""
    time.sleep(settings.STOREFRONT_RECOMMENDATIONS_V2_DELAY)
    return items
