"""Inventory reads."""

from collections.abc import Iterable

from django.db.models import F

from inventory.dto import StockLevel
from inventory.models import Stock


def availability_for_variants(*, variant_ids: Iterable[int]) -> dict[int, int]:
    """Return units available to sell per variant; unknown variants are absent. One query."""
    rows = Stock.objects.filter(variant_id__in=list(variant_ids)).values_list(
        "variant_id", F("on_hand") - F("allocated")
    )
    return {variant_id: max(available, 0) for variant_id, available in rows}


def stock_levels(*, variant_ids: Iterable[int]) -> dict[int, StockLevel]:
    rows = Stock.objects.filter(variant_id__in=list(variant_ids))
    return {row.variant_id: StockLevel(row.variant_id, row.on_hand, row.allocated) for row in rows}
