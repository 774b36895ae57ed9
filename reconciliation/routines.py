"""The reconciliation routines: each compares the store with one system of record.

Every routine walks the store's side in keyset batches (never the whole table at
once), asks the system of record about one batch at a time (it answers at most 100
keys a request), classifies each difference (missing, mismatch, stale, unknown),
repairs what its policy allows through the owner's services, and hands the rest to
`RunContext.findings`, which opens or updates one exception per problem. Policies are
`settings.RECONCILIATION_POLICY`; a repair budget spent turns later differences into
exceptions, in key order, so a run repairs exactly what the policy allows.
"""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings

from catalog.interface import product_id_batches, variant_sku_batches
from checkout.interface import (
    order_export_resend,
    order_exports_delivered,
    order_settlements_after,
    order_settlements_by_numbers,
    orders_stuck_pending,
    outbox_dead_letter_views,
)
from integrations.interface import (
    ErpUnavailable,
    PaymentTimeout,
    PaymentUnavailable,
    PimUnavailable,
    erp_orders_booked,
    erp_stock_levels,
    payment_captures_page,
    pim_prices,
)
from inventory.interface import stock_adjust, stock_levels
from pricing.interface import PriceInput, prices_import, prices_on_list
from reconciliation.dto import Finding
from reconciliation.services import RunContext, SystemOfRecordUnavailable
from search.interface import search_documents_refresh, search_documents_stale

BATCH = 100  # keys per request: the most the ERP, the PIM and the gateway answer
BASE_PRICE_LIST = "base"  # the list the PIM feeds


def _policy(routine: str) -> dict[str, int | float]:
    policy: dict[str, int | float] = settings.RECONCILIATION_POLICY[routine]
    return policy


def inventory(context: RunContext) -> None:
    """On hand per SKU against the ERP. Repairs: a count off by at most `max_units`."""
    policy = _policy("inventory")
    budget = int(policy["max_repairs"])
    for skus_by_id in variant_sku_batches(batch_size=BATCH):
        batch = tuple(skus_by_id.items())
        try:
            theirs = erp_stock_levels(skus=[sku for _, sku in batch])
        except ErpUnavailable as failure:
            raise SystemOfRecordUnavailable(f"ERP: {failure}") from failure
        ours = stock_levels(variant_ids=[variant_id for variant_id, _ in batch])
        context.compared(len(batch))
        findings = []
        for variant_id, sku in batch:
            level = ours.get(variant_id)
            on_hand, allocated = (level.on_hand, level.allocated) if level else (0, 0)
            erp = theirs.get(sku)
            if erp is None or erp == on_hand:
                continue  # a SKU the ERP does not stock has nothing to compare
            classification = "mismatch" if level else "missing"
            context.difference(classification)
            repairable = abs(erp - on_hand) <= policy["max_units"] and erp >= allocated
            if repairable and budget > 0:
                budget -= 1
                if not context.dry_run:
                    stock_adjust(variant_id=variant_id, set_to=erp, reason="reconcile: ERP count")
                context.repaired()
                continue
            findings.append(
                Finding(
                    kind=f"stock.{classification}",
                    entity=f"sku:{sku}",
                    classification=classification,
                    evidence={
                        "store_on_hand": on_hand,
                        "allocated": allocated,
                        "erp_on_hand": erp,
                        "why_not_repaired": "repair budget spent"
                        if repairable
                        else "beyond policy",
                    },
                )
            )
        context.findings(findings)


def prices(context: RunContext) -> None:
    """Base list price per SKU against the PIM. Repairs: a change of at most `max_change`."""
    policy = _policy("prices")
    budget = int(policy["max_repairs"])
    max_change = Decimal(str(policy["max_change"]))
    for skus_by_id in variant_sku_batches(batch_size=BATCH):
        batch = tuple(skus_by_id.items())
        try:
            theirs = pim_prices(skus=[sku for _, sku in batch])
        except PimUnavailable as failure:
            raise SystemOfRecordUnavailable(f"PIM: {failure}") from failure
        ours = prices_on_list(
            price_list_code=BASE_PRICE_LIST, variant_ids=[variant_id for variant_id, _ in batch]
        )
        context.compared(len(batch))
        repairs, findings = [], []
        for variant_id, sku in batch:
            pim, store = theirs.get(sku), ours.get(variant_id)
            if pim is None or pim == store:
                continue
            classification = "mismatch" if store is not None else "missing"
            context.difference(classification)
            repairable = store is not None and abs(pim - store) <= store * max_change
            if repairable and budget > 0:
                budget -= 1
                repairs.append(PriceInput(variant_id=variant_id, amount=pim))
                continue
            findings.append(
                Finding(
                    kind=f"price.{classification}",
                    entity=f"sku:{sku}",
                    classification=classification,
                    evidence={
                        "store_amount": str(store) if store is not None else None,
                        "pim_amount": str(pim),
                        "why_not_repaired": "repair budget spent"
                        if repairable
                        else "beyond policy",
                    },
                )
            )
        if repairs and not context.dry_run:
            prices_import(price_list_code=BASE_PRICE_LIST, prices=repairs)
        if repairs:
            context.repaired(len(repairs))
        context.findings(findings)


def payments(context: RunContext) -> None:
    """Captures at the gateway against paid orders, both ways. Repairs nothing: money
    moves only when a person decides (refund, recapture)."""
    captured = _captures_against_orders(context)
    after = 0
    while batch := order_settlements_after(after_id=after, limit=BATCH):
        after = batch[-1].id
        batch = tuple(o for o in batch if context.since is None or o.created_at >= context.since)
        context.compared(len(batch))
        findings = []
        for order in batch:
            if order.number in captured:
                continue
            context.difference("missing")
            findings.append(
                Finding(
                    kind="payment.missing_capture",
                    entity=f"order:{order.number}",
                    classification="missing",
                    evidence={"order_total": str(order.total), "currency": order.currency},
                )
            )
        context.findings(findings)
    stuck_after = timedelta(seconds=settings.CHECKOUT_RECONCILE_WINDOW)
    stuck = orders_stuck_pending(older_than=stuck_after, limit=BATCH * 10)
    for _ in stuck:
        context.difference("stale")
    context.findings(
        [
            Finding(
                kind="payment.stuck_pending",
                entity=f"order:{order.number}",
                classification="stale",
                evidence={"created_at": order.created_at.isoformat(), "total": str(order.total)},
            )
            for order in stuck
        ]
    )


def _captures_against_orders(context: RunContext) -> set[str]:
    """Page through the gateway's captures; flag those no paid order explains.

    Returns every captured reference, for the other direction. Its size is the number
    of captures (one reference each), not of anything the store holds.
    """
    captured: set[str] = set()
    cursor = ""
    while True:
        try:
            page, cursor = payment_captures_page(after=cursor, limit=BATCH)
        except (PaymentUnavailable, PaymentTimeout) as failure:
            raise SystemOfRecordUnavailable(f"gateway: {failure}") from failure
        orders = order_settlements_by_numbers(numbers=[c.reference for c in page])
        findings = []
        for capture in page:
            captured.add(capture.reference)
            order = orders.get(capture.reference)
            if order is not None and order.status == "pending_payment":
                continue  # checkout's own reconciliation settles it
            if order is not None and order.status == "paid":
                if order.total == capture.captured_amount:
                    continue
                classification, kind = "mismatch", "payment.amount_mismatch"
            else:
                classification, kind = "unknown", "payment.unknown_capture"
            context.difference(classification)
            findings.append(
                Finding(
                    kind=kind,
                    entity=f"capture:{capture.reference}",
                    classification=classification,
                    evidence={
                        "captured_amount": str(capture.captured_amount),
                        "currency": capture.currency,
                        "order_status": order.status if order else None,
                        "order_total": str(order.total) if order else None,
                    },
                )
            )
        context.findings(findings)
        if not cursor:
            return captured


def orders(context: RunContext) -> None:
    """Paid orders against the ERP's bookings. Repairs: the export sent again, at most
    `max_repairs` a run. Dead-lettered outbox messages become exceptions too.

    Only orders whose export the outbox delivered are compared: one still in the outbox
    is on its way (or dead-lettered, reported below), not lost by the ERP.
    """
    budget = int(_policy("orders")["max_repairs"])
    after = 0
    while batch := order_settlements_after(after_id=after, limit=BATCH):
        after = batch[-1].id
        if context.since is not None:
            batch = tuple(o for o in batch if o.created_at >= context.since)
        delivered = order_exports_delivered(numbers=[o.number for o in batch])
        batch = tuple(o for o in batch if o.number in delivered)
        if not batch:
            continue
        try:
            booked = erp_orders_booked(references=[o.number for o in batch])
        except ErpUnavailable as failure:
            raise SystemOfRecordUnavailable(f"ERP: {failure}") from failure
        context.compared(len(batch))
        findings = []
        for order in batch:
            if order.number in booked:
                continue
            context.difference("missing")
            if budget > 0 and (context.dry_run or order_export_resend(number=order.number)):
                budget -= 1
                context.repaired()
                continue
            why = "repair budget spent" if budget <= 0 else "no ERP export to send again"
            findings.append(
                Finding(
                    kind="order.export_missing",
                    entity=f"order:{order.number}",
                    classification="missing",
                    evidence={"total": str(order.total), "why_not_repaired": why},
                )
            )
        context.findings(findings)
    dead = outbox_dead_letter_views()
    for _ in dead:
        context.difference("stale")
    context.findings(
        [
            Finding(
                kind="outbox.dead_letter",
                entity=f"outbox:{letter.dedupe_key}",
                classification="stale",
                evidence={
                    "topic": letter.topic,
                    "attempts": letter.attempts,
                    "last_error": letter.last_error,
                },
            )
            for letter in dead
        ]
    )


def search(context: RunContext) -> None:
    """The search read model's price and stock per product against pricing and
    inventory. Repairs: the documents rebuilt, at most `max_repairs` a run."""
    budget = int(_policy("search")["max_repairs"])
    for batch in product_id_batches(batch_size=BATCH * 5):
        stale = search_documents_stale(product_ids=batch)
        context.compared(len(batch))
        for _ in stale:
            context.difference("stale")
        repair, rest = stale[:budget], stale[budget:]
        budget -= len(repair)
        if repair:
            if not context.dry_run:
                search_documents_refresh(product_ids=repair)
            context.repaired(len(repair))
        context.findings(
            [
                Finding(
                    kind="search.stale",
                    entity=f"product:{product_id}",
                    classification="stale",
                    evidence={"why_not_repaired": "repair budget spent"},
                )
                for product_id in rest
            ]
        )


ROUTINES = {
    "inventory": (inventory, ("stock.mismatch", "stock.missing")),
    "prices": (prices, ("price.mismatch", "price.missing")),
    "payments": (
        payments,
        (
            "payment.unknown_capture",
            "payment.missing_capture",
            "payment.amount_mismatch",
            "payment.stuck_pending",
        ),
    ),
    "orders": (orders, ("order.export_missing", "outbox.dead_letter")),
    "search": (search, ("search.stale",)),
}
