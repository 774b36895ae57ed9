"""Inventory writes. Every change to a stock row writes its ledger movement with it."""

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Min, Q, QuerySet, Sum
from django.utils import timezone

from integrations.interface import erp_stock_levels
from inventory.caches import AVAILABILITY
from inventory.dto import StockReceipt
from inventory.models import Reservation, Stock, StockMovement
from inventory.selectors import active_reservations
from toolkit import changes
from toolkit.errors import DomainError
from toolkit.lab import mode_on

logger = logging.getLogger(__name__)
# Units sold in the store that the ERP has not booked yet, per variant id (from the
# layer that exports orders: checkout registers it, `stock_unbooked_sales_listen`).
UnbookedSales = Callable[[Sequence[int]], Mapping[int, int]]
_unbooked_sales: list[UnbookedSales] = []
ERP_SYNC_REASON = "ERP stock sync"

# What this app publishes after commit (toolkit.changes); search subscribes to it.
STOCK_CHANGED = changes.topic_declare(
    "inventory.stock", ids="variant ids whose on-hand or allocated units changed"
)


# Availability a page shows as a number only below this ("Only 3 left"); from it up, only
# as "In stock" (`storefront.offers` reads it). Pages live longer than availability's
# own cache, so a reservation or an order retires the entries that show its variant
# (`AVAILABILITY.invalidate_on_commit`) when, and only when, what they show changes:
# a busy product's hundredth cart add leaves its pages alone.
AVAILABILITY_SHOWN_BELOW = 5


def _shown(units: int) -> int:
    return min(max(units, 0), AVAILABILITY_SHOWN_BELOW)


def _retire_shown(units: Mapping[int, tuple[int, int]]) -> None:
    """Retire cached availability, and the pages showing it, where the shown value changed.

    `units` maps a variant id to the units anyone may get before and after the write.
    """
    changed = [v for v, (before, after) in units.items() if _shown(before) != _shown(after)]
    if changed:
        AVAILABILITY.invalidate_on_commit(changed)


class InsufficientStock(DomainError):
    """Fewer units are free than asked for; `available` has what is left per variant id.

    A caller that speaks to a buyer raises it again with `skus`, so the error's details
    name the items by SKU, the buyer's terms.
    """

    code = "insufficient_stock"
    status = 409

    def __init__(
        self, message: str, *, available: Mapping[int, int], skus: Mapping[int, str] | None = None
    ) -> None:
        self.available = dict(available)
        by_sku = None if skus is None else {skus[v]: units for v, units in available.items()}
        super().__init__(message, available=self.available if by_sku is None else by_sku)


class ReservationLimit(DomainError):
    """One client already holds its share of a SKU (`reservation_cap`): `maximum` is the
    cap, `available` how many more units this cart may hold."""

    code = "reservation_limit"
    status = 409


class InvalidStockChange(DomainError):
    code = "invalid_stock_change"
    status = 400


def _locked_rows(variant_ids: Sequence[int]) -> dict[int, Stock]:
    """Lock the stock rows in ascending variant order: a fixed order means no deadlocks.

    Call inside a transaction. On SQLite the IMMEDIATE transaction already holds the
    write lock, so the FOR UPDATE that PostgreSQL needs is a no-op there.
    """
    rows = Stock.objects.select_for_update().filter(variant_id__in=sorted(variant_ids))
    return {row.variant_id: row for row in rows.order_by("variant_id")}


def _unlocked_rows_naive(variant_ids: Sequence[int]) -> dict[int, Stock]:
    """The lab's naive path (`oversell`): read the stock rows without locking them.

    What a team ships when "check, then decrement" looks atomic because it sits in one
    transaction. It is not: under PostgreSQL's READ COMMITTED every racing buyer reads
    the same committed row, passes the same check and writes back its own `allocated`
    (the last writer wins), so more orders get units than exist and the row stops
    agreeing with its ledger. `audit_orders` reports both; the check constraints cannot,
    since every value written is valid on its own. Never used unless the lab is on.
    """
    rows = Stock.objects.filter(variant_id__in=variant_ids)
    return {row.variant_id: row for row in rows}


@transaction.atomic
def stock_receive(*, receipts: Sequence[StockReceipt], reference: str = "") -> None:
    """Book goods in: add to on hand, creating stock rows for SKUs seen the first time."""
    if any(r.quantity <= 0 for r in receipts):
        raise InvalidStockChange("A receipt must add at least one unit.")
    rows = _locked_rows([r.variant_id for r in receipts])
    new_rows = []
    for receipt in receipts:
        if receipt.variant_id in rows:
            rows[receipt.variant_id].on_hand += receipt.quantity
        else:
            new_rows.append(Stock(variant_id=receipt.variant_id, on_hand=receipt.quantity))
    Stock.objects.bulk_update(rows.values(), ["on_hand"], batch_size=1000)
    Stock.objects.bulk_create(new_rows, batch_size=1000)
    StockMovement.objects.bulk_create(
        [
            StockMovement(
                variant_id=r.variant_id,
                kind=StockMovement.Kind.RECEIPT,
                on_hand_delta=r.quantity,
                reference=reference,
            )
            for r in receipts
        ],
        batch_size=1000,
    )
    if not mode_on("cache-drift"):  # the lab's naive bulk import skips the invalidation
        AVAILABILITY.invalidate_on_commit([r.variant_id for r in receipts])
    changes.publish(STOCK_CHANGED, [r.variant_id for r in receipts])


def _reserved_by_others(variant_ids: Iterable[int], holder: str | None) -> dict[int, int]:
    return _reserved_totals(active_reservations(exclude_holder=holder), variant_ids)


def _reserved_split(
    variant_ids: Iterable[int], holder: str | None
) -> tuple[dict[int, int], dict[int, int]]:
    """Units live reservations hold per variant: by other carts, and by `holder`.

    One query where `_reserved_by_others` and a second sum for the holder were two.
    """
    if not holder:
        return _reserved_by_others(variant_ids, None), {}
    mine = Q(holder=holder)
    rows = (
        active_reservations()
        .filter(variant_id__in=list(variant_ids))
        .values("variant_id")
        .annotate(others=Sum("quantity", filter=~mine), held=Sum("quantity", filter=mine))
        .values_list("variant_id", "others", "held")
    )
    others: dict[int, int] = {}
    held: dict[int, int] = {}
    for variant_id, by_others, by_holder in rows:
        if by_others:
            others[variant_id] = by_others
        if by_holder:
            held[variant_id] = by_holder
    return others, held


def _reserved_totals(
    reservations: QuerySet[Reservation], variant_ids: Iterable[int]
) -> dict[int, int]:
    rows = (
        reservations.filter(variant_id__in=list(variant_ids))
        .values("variant_id")
        .annotate(total=Sum("quantity"))
        .values_list("variant_id", "total")
    )
    return dict(rows)


def _free(rows: Mapping[int, Stock], reserved: Mapping[int, int], variant_id: int) -> int:
    if variant_id not in rows:
        return 0
    return max(rows[variant_id].available - reserved.get(variant_id, 0), 0)


@transaction.atomic
def stock_reserve(*, holder: str, variant_id: int, quantity: int, client: str = "") -> None:
    """Hold `quantity` units of a variant for a cart (0 lets them go).

    Checked under the stock row lock against what orders and other carts already hold,
    so a cart can never hold more than exists, and against the client's share: one
    `client` (the cart itself when not given) holds, over all its carts, at most
    `reservation_cap` units of a SKU. Activity renews the cart's live reservations for
    INVENTORY_RESERVATION_TTL seconds, never past INVENTORY_RESERVATION_MAX_LIFETIME
    after its first hold: after that the cart's lines stay, but hold nothing.
    """
    rows = _locked_rows([variant_id])
    reserved = _reserved_by_others([variant_id], holder)
    free = _free(rows, reserved, variant_id)
    if quantity > free:
        raise InsufficientStock(f"Only {free} left.", available={variant_id: free})
    ttl = settings.INVENTORY_RESERVATION_TTL
    if quantity == 0 or ttl <= 0:
        deleted, _ = Reservation.objects.filter(holder=holder, variant_id=variant_id).delete()
        if deleted:  # what it held is free again: at most `free` before, `free` now
            _retire_shown({variant_id: (0, free)})
        return
    client = client or holder
    now = timezone.now()
    holds = Reservation.objects.filter(holder=holder)
    held_since, elsewhere, held_here = _holder_and_client_holds(
        holder=holder, client=client, variant_id=variant_id, now=now
    )
    cap = reservation_cap(rows[variant_id].on_hand)
    if elsewhere + quantity > cap:
        left = max(cap - elsewhere, 0)
        raise ReservationLimit(
            f"One shopper can hold at most {cap} of this item at a time ({left} more here).",
            maximum=cap,
            available=left,
        )
    lifetime_ends = (held_since or now) + timedelta(
        seconds=settings.INVENTORY_RESERVATION_MAX_LIFETIME
    )
    expires_at = min(now + timedelta(seconds=ttl), lifetime_ends)
    # Only live holds are renewed: an expired one may already be in another cart.
    holds.filter(expires_at__gt=now).exclude(variant_id=variant_id).update(expires_at=expires_at)
    # Under the stock row's lock no other transaction holds this SKU for this cart now:
    # an update, then an insert when it matched nothing, is safe without
    # update_or_create's row lock and two savepoints (four statements of a cart add's 25).
    hold = {
        "quantity": quantity,
        "client": client,
        "held_since": held_since or now,
        "expires_at": expires_at,
    }
    if not Reservation.objects.filter(holder=holder, variant_id=variant_id).update(**hold):
        Reservation.objects.create(holder=holder, variant_id=variant_id, **hold)
    _retire_shown({variant_id: (free - held_here, free - quantity)})


def _holder_and_client_holds(
    *, holder: str, client: str, variant_id: int, now: datetime
) -> tuple[datetime | None, int, int]:
    """The holder's first hold (expired holds count, so renewing never restarts the
    clock), the units of the variant the client holds in its other carts, and the units
    of it this holder holds now. One query."""
    elsewhere = Q(variant_id=variant_id, client=client, expires_at__gt=now) & ~Q(holder=holder)
    here = Q(holder=holder, variant_id=variant_id, expires_at__gt=now)
    found = Reservation.objects.filter(Q(holder=holder) | elsewhere).aggregate(
        first=Min("held_since", filter=Q(holder=holder)),
        elsewhere=Sum("quantity", filter=elsewhere),
        here=Sum("quantity", filter=here),
    )
    return found["first"], found["elsewhere"] or 0, found["here"] or 0


def reservation_cap(on_hand: int) -> int:
    """The most units of a SKU one client may hold: a share of its stock, or the floor."""
    share = math.ceil(settings.INVENTORY_RESERVATION_MAX_SHARE * on_hand)
    return max(share, settings.INVENTORY_RESERVATION_SHARE_FLOOR)


def stock_reservations_release(*, holder: str) -> None:
    """Let go of everything a cart holds."""
    Reservation.objects.filter(holder=holder).delete()


def stock_reservations_purge() -> int:
    """Delete reservations expired for a lifetime; they already count for nothing.

    Kept that long so that a cart whose holds ran out their lifetime cannot start a new
    one at once (its first hold is remembered). Returns the count.
    """
    lifetime = timedelta(seconds=settings.INVENTORY_RESERVATION_MAX_LIFETIME)
    deleted, _ = Reservation.objects.filter(expires_at__lte=timezone.now() - lifetime).delete()
    return deleted


@transaction.atomic
def stock_allocate(
    *, quantities: Mapping[int, int], reference: str, holder: str | None = None
) -> None:
    """Reserve units for an order, all lines or none.

    Availability is checked under the row locks, so two buyers racing for the last unit
    cannot both get it. Units the `holder` cart had reserved count as its own and its
    reservations are consumed. Raises InsufficientStock naming every short variant.
    With the lab's `oversell` mode on, the rows are read without locks instead
    (`_unlocked_rows_naive`).
    """
    read_rows = _unlocked_rows_naive if mode_on("oversell") else _locked_rows
    rows = read_rows(list(quantities))
    reserved, held = _reserved_split(quantities, holder)
    short = {
        variant_id: _free(rows, reserved, variant_id)
        for variant_id, quantity in quantities.items()
        if _free(rows, reserved, variant_id) < quantity
    }
    if short:
        raise InsufficientStock("Not enough stock for some items.", available=short)
    free = {v: _free(rows, reserved, v) for v in quantities}
    shown = {
        v: (free[v] - held.get(v, 0), free[v] - quantity) for v, quantity in quantities.items()
    }
    for variant_id, quantity in quantities.items():
        rows[variant_id].allocated += quantity
    _save(rows, quantities, kind=StockMovement.Kind.ALLOCATION, reference=reference)
    if holder:
        stock_reservations_release(holder=holder)
    _retire_shown(shown)


@transaction.atomic
def stock_release(*, quantities: Mapping[int, int], reference: str) -> None:
    """Give back units allocated to an order that will not be paid."""
    rows = _locked_rows(list(quantities))
    for variant_id, quantity in quantities.items():
        rows[variant_id].allocated -= quantity
    _save(rows, quantities, kind=StockMovement.Kind.RELEASE, reference=reference)
    # Rare (an order that will not be paid): retired without reading the reservations.
    AVAILABILITY.invalidate_on_commit(list(quantities))


@transaction.atomic
def stock_sell(*, quantities: Mapping[int, int], reference: str) -> None:
    """Turn an order's allocation into a sale: the units leave on hand."""
    rows = _locked_rows(list(quantities))
    for variant_id, quantity in quantities.items():
        rows[variant_id].allocated -= quantity
        rows[variant_id].on_hand -= quantity
    _save(rows, quantities, kind=StockMovement.Kind.SALE, reference=reference)


def _save(
    rows: Mapping[int, Stock],
    quantities: Mapping[int, int],
    *,
    kind: StockMovement.Kind,
    reference: str,
) -> None:
    on_hand_sign, allocated_sign = {
        StockMovement.Kind.ALLOCATION: (0, 1),
        StockMovement.Kind.RELEASE: (0, -1),
        StockMovement.Kind.SALE: (-1, -1),
    }[kind]
    changed = [rows[variant_id] for variant_id in quantities]
    Stock.objects.bulk_update(changed, ["on_hand", "allocated"])
    StockMovement.objects.bulk_create(
        StockMovement(
            variant_id=variant_id,
            kind=kind,
            on_hand_delta=on_hand_sign * quantity,
            allocated_delta=allocated_sign * quantity,
            reference=reference,
        )
        for variant_id, quantity in quantities.items()
    )
    changes.publish(STOCK_CHANGED, quantities)


@transaction.atomic
def stock_adjust(
    *, variant_id: int, set_to: int | None = None, add: int | None = None, reason: str
) -> int:
    """Correct on hand after a count or damage; returns the new on hand."""
    if (set_to is None) == (add is None):
        raise InvalidStockChange("Give exactly one of set_to or add.")
    if not reason.strip():
        raise InvalidStockChange("An adjustment needs a reason.")
    Stock.objects.get_or_create(variant_id=variant_id)
    row = _locked_rows([variant_id])[variant_id]
    new_on_hand = set_to if set_to is not None else row.on_hand + (add or 0)
    if new_on_hand < 0:
        raise InvalidStockChange("On hand cannot be negative.", on_hand=row.on_hand)
    if new_on_hand < row.allocated:
        raise InvalidStockChange(
            "On hand cannot go below the units allocated to orders.",
            allocated=row.allocated,
        )
    delta = new_on_hand - row.on_hand
    row.on_hand = new_on_hand
    row.save(update_fields=["on_hand", "updated_at"])
    StockMovement.objects.create(
        variant_id=variant_id,
        kind=StockMovement.Kind.ADJUSTMENT,
        on_hand_delta=delta,
        reason=reason.strip()[:200],
    )
    AVAILABILITY.invalidate_on_commit([variant_id])
    changes.publish(STOCK_CHANGED, [variant_id])
    return new_on_hand


def stock_unbooked_sales_listen(provider: UnbookedSales) -> None:
    """Let a higher layer say which sold units the ERP has not booked yet.

    The ERP's on hand falls when it books an order's export, which the outbox sends
    after the sale: until then the store's on hand is lower by those units, and a sync
    must not put them back on the shelf. Register from `AppConfig.ready()`.
    """
    if provider not in _unbooked_sales:
        _unbooked_sales.append(provider)


def stock_sync_from_erp(*, variant_skus: Mapping[int, str]) -> int:
    """Bring one batch of variants' on hand to the ERP's, less the sales it has not
    booked yet; return how many rows changed.

    One ERP call (ErpUnavailable for the caller to retry later), then
    `stock_levels_sync` with the targets. A SKU the ERP does not know is left alone.
    """
    booked = erp_stock_levels(skus=list(variant_skus.values()))
    unbooked: dict[int, int] = {}
    for provider in _unbooked_sales:
        for variant_id, units in provider(list(variant_skus)).items():
            unbooked[variant_id] = unbooked.get(variant_id, 0) + units
    targets = {
        variant_id: max(booked[sku] - unbooked.get(variant_id, 0), 0)
        for variant_id, sku in variant_skus.items()
        if sku in booked
    }
    return len(stock_levels_sync(levels=targets))


@transaction.atomic
def stock_levels_sync(*, levels: Mapping[int, int]) -> list[int]:
    """Set on hand to `levels` where it differs; return the variant ids changed.

    Each change writes an adjustment to the ledger (reason ERP_SYNC_REASON). On hand
    never goes below the units allocated to unpaid orders (those are promised): such a
    row is set to its allocation and logged. Only the changed variants are invalidated
    and published after commit, so a sync that changes nothing bumps no cache
    generation and tells search nothing. Two queries and a write per changed batch.
    """
    rows = _locked_rows(list(levels))
    changed: list[Stock] = []
    movements: list[StockMovement] = []
    for variant_id, row in rows.items():
        target = max(levels[variant_id], row.allocated)
        if target != levels[variant_id]:
            logger.warning(
                "ERP has %s of variant %s, below the %s allocated; kept at %s",
                levels[variant_id],
                variant_id,
                row.allocated,
                target,
            )
        if target == row.on_hand:
            continue
        movements.append(
            StockMovement(
                variant_id=variant_id,
                kind=StockMovement.Kind.ADJUSTMENT,
                on_hand_delta=target - row.on_hand,
                reason=ERP_SYNC_REASON,
            )
        )
        row.on_hand = target
        row.updated_at = timezone.now()  # bulk_update does not apply auto_now
        changed.append(row)
    if not changed:
        return []
    Stock.objects.bulk_update(changed, ["on_hand", "updated_at"])
    StockMovement.objects.bulk_create(movements)
    variant_ids = [row.variant_id for row in changed]
    AVAILABILITY.invalidate_on_commit(variant_ids)
    changes.publish(STOCK_CHANGED, variant_ids)
    return variant_ids
