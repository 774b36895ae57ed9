"""Inventory reads."""

from collections.abc import Iterable

from django.db.models import F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from inventory.caches import AVAILABILITY
from inventory.dto import StockDiscrepancy, StockLevel
from inventory.models import Reservation, Stock, StockMovement


def active_reservations(*, exclude_holder: str | None = None) -> QuerySet[Reservation]:
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

    Without a holder (listings, product pages) the answer comes from the availability
    cache, a few seconds stale at most; a cart's view is always read from the rows.
    """
    if holder is None:
        variant_ids = list(variant_ids)
        AVAILABILITY.reads(variant_ids)  # a page showing them is retired when they change
        return AVAILABILITY.get_many_or_compute(
            variant_ids, lambda missing: availability_query(variant_ids=missing)
        )
    return availability_query(variant_ids=variant_ids, holder=holder)


def availability_query(*, variant_ids: Iterable[int], holder: str | None = None) -> dict[int, int]:
    """Read availability from the stock rows and reservations. One query."""
    rows = (
        Stock.objects.filter(variant_id__in=list(variant_ids))
        .annotate(reserved=Coalesce(reserved_quantity_subquery(exclude_holder=holder), Value(0)))
        .values_list("variant_id", F("on_hand") - F("allocated") - F("reserved"))
    )
    return {variant_id: max(available, 0) for variant_id, available in rows}


def stock_levels(*, variant_ids: Iterable[int]) -> dict[int, StockLevel]:
    rows = Stock.objects.filter(variant_id__in=list(variant_ids))
    return {row.variant_id: StockLevel(row.variant_id, row.on_hand, row.allocated) for row in rows}


def stock_discrepancies() -> list[StockDiscrepancy]:
    """Return stock rows whose ledger does not add up to them, or that are negative.

    One query: each row against the sums of its movements.
    """

    def ledger_sum(field: str) -> Coalesce:
        total = (
            StockMovement.objects.filter(variant_id=OuterRef("variant_id"))
            .order_by()
            .values("variant_id")
            .annotate(total=Sum(field))
            .values("total")
        )
        return Coalesce(Subquery(total, output_field=IntegerField()), Value(0))

    rows = (
        Stock.objects.annotate(
            ledger_on_hand=ledger_sum("on_hand_delta"),
            ledger_allocated=ledger_sum("allocated_delta"),
        )
        .filter(
            ~Q(on_hand=F("ledger_on_hand"))
            | ~Q(allocated=F("ledger_allocated"))
            | Q(on_hand__lt=0)
            | Q(allocated__lt=0)
            | Q(allocated__gt=F("on_hand"))
        )
        .order_by("variant_id")
    )
    return [
        StockDiscrepancy(
            variant_id=row.variant_id,
            on_hand=row.on_hand,
            allocated=row.allocated,
            ledger_on_hand=row.ledger_on_hand,
            ledger_allocated=row.ledger_allocated,
        )
        for row in rows
    ]


def allocated_by_variant() -> dict[int, int]:
    """Units allocated to unpaid orders, per variant, for rows that hold any."""
    return dict(Stock.objects.filter(allocated__gt=0).values_list("variant_id", "allocated"))
