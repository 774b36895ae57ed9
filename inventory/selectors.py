"""Inventory reads."""

from collections.abc import Iterable

from django.db.models import F, IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from inventory.dto import StockLevel
from inventory.models import Reservation, Stock


def active_reservations(*, exclude_holder: str | None = None):
    """Reservations that still hold units, optionally without one holder's own."""
    reservations = Reservation.objects.filter(expires_at__gt=timezone.now())
    if exclude_holder:
        reservations = reservations.exclude(holder=exclude_holder)
    return reservations


def reserved_quantity_subquery(*, exclude_holder: str | None = None) -> Subquery:
    """Units other carts hold for the outer query's `variant_id`."""
    totals = (
        active_reservations(exclude_holder=exclude_holder)
        .filter(variant_id=OuterRef("variant_id"))
        .order_by()
        .values("variant_id")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    return Subquery(totals, output_field=IntegerField())


def availability_for_variants(
    *, variant_ids: Iterable[int], holder: str | None = None
) -> dict[int, int]:
    """Return units a buyer can still get per variant; unknown variants are absent.

    Available = on hand - allocated to orders - held by other carts' live reservations.
    `holder` (a cart token) sees its own reservations as available to it. One query.
    """
    rows = (
        Stock.objects.filter(variant_id__in=list(variant_ids))
        .annotate(reserved=Coalesce(reserved_quantity_subquery(exclude_holder=holder), Value(0)))
        .values_list("variant_id", F("on_hand") - F("allocated") - F("reserved"))
    )
    return {variant_id: max(available, 0) for variant_id, available in rows}


def stock_levels(*, variant_ids: Iterable[int]) -> dict[int, StockLevel]:
    rows = Stock.objects.filter(variant_id__in=list(variant_ids))
    return {row.variant_id: StockLevel(row.variant_id, row.on_hand, row.allocated) for row in rows}
