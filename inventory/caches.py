"""Inventory's caches, declared here and nowhere else (see `python manage.py cache_registry`).

Availability changes with every cart and order, so invalidating on each of those writes
would empty the cache as fast as it fills. Instead it tolerates a few seconds of
staleness and expires within them; the writes that change stock by hand or in bulk
(goods received, counts corrected, levels synced from the ERP) bump the generation,
naming the variants they changed, so a restock shows at once.
Nothing that takes stock trusts these entries: allocation re-checks under the row lock.
"""

from collections.abc import Mapping
from typing import Any

from toolkit.cache import CacheSpec, Stampede, declare


def _audit_availability(entries: Mapping[str, Any]) -> Mapping[str, Any]:
    from inventory.selectors import availability_query

    current = availability_query(variant_ids=[int(key) for key in entries])
    return {key: current.get(int(key)) for key in entries}


AVAILABILITY = declare(
    CacheSpec(
        namespace="inventory.availability",
        owner="inventory",
        entity="units a buyer can get of a variant, for listings and product pages",
        key_schema="<variant id>",
        ttl=5,
        jitter=0.2,
        invalidated_by=(
            "stock_receive",
            "stock_adjust",
            "stock_levels_sync",
            "stock_release",
            # These two only when the value a page shows changes (AVAILABILITY_SHOWN_BELOW).
            "stock_reserve",
            "stock_allocate",
        ),
        staleness_tolerance=5,
        stampede=Stampede.BATCH,
        keyed=True,  # an order retires its own variants' entries, not every variant's
        audit=_audit_availability,
        notes="Reservations and orders above the shown threshold (AVAILABILITY_SHOWN_BELOW) "
        "change it without a bump, and a lapsing reservation frees units without a write: "
        "within tolerance here; pages that track it may under-show for their own TTL.",
        shape=int | None,
    )
)
