"""The order audit: the invariants checkout promises, checked against the records.

- the stock ledger adds up to every stock row, and no stock is negative;
- units allocated equal the units on orders still awaiting payment;
- every paid order has exactly one capture at the gateway, for its total, and nothing
  was captured for an order that is not paid (no double charges, no lost payments);
- a cart becomes at most one live (paid or pending) order: a second one is a double
  submit charged twice;
- no order is left pending past the reconciliation window;
- no side effect of an order was given up on: a dead-lettered outbox message is a
  violation until it is requeued (`outbox_requeue`) and delivered.

`since` narrows the payment check to orders placed and captures made since then (what
one load run did, on a database that has seen others); the stock, pending and outbox
checks are about the present and always cover everything.

A finding someone already owns is not a new violation: a higher layer that keeps a queue
of open problems (reconciliation's exceptions) registers with
`audit_acknowledged_listen`, and a finding it names is reported as acknowledged, listed
but not failing the audit. Once the exception is closed, the finding fails again if the
problem is still there.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Sum
from django.utils import timezone

from checkout.models import Order, OrderLine, OutboxMessage
from checkout.outbox import outbox_dead_letters
from integrations.interface import (
    CaptureRecord,
    PaymentTimeout,
    PaymentUnavailable,
    payment_captures,
)
from inventory.interface import allocated_by_variant, stock_discrepancies


@dataclass(frozen=True)
class Finding:
    check: str
    subject: str
    detail: str
    # What broke, for a program (`detail` is for a person): the payment findings a
    # reconciliation exception can own say which.
    code: str = ""


@dataclass
class AuditReport:
    checked: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    # Findings an open problem in a higher layer's queue already owns: listed, not failing.
    acknowledged: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


# Given the findings, return those an open problem already owns (see the module docstring).
AcknowledgedFindings = Callable[[Iterable[Finding]], Iterable[Finding]]
_acknowledgers: list[AcknowledgedFindings] = []


def audit_acknowledged_listen(provider: AcknowledgedFindings) -> None:
    """Let a higher layer name the findings it already tracks. From `AppConfig.ready()`."""
    if provider not in _acknowledgers:
        _acknowledgers.append(provider)


def _audit_stock(report: AuditReport) -> None:
    for row in stock_discrepancies():
        report.findings.append(
            Finding(
                "stock ledger",
                f"variant {row.variant_id}",
                f"row on_hand={row.on_hand} allocated={row.allocated}, ledger "
                f"on_hand={row.ledger_on_hand} allocated={row.ledger_allocated}",
            )
        )
    allocated = allocated_by_variant()
    expected = dict(
        OrderLine.objects.filter(order__status=Order.Status.PENDING_PAYMENT)
        .values("variant_id")
        .annotate(units=Sum("quantity"))
        .values_list("variant_id", "units")
    )
    for variant_id in sorted(set(allocated) | set(expected)):
        if allocated.get(variant_id, 0) != expected.get(variant_id, 0):
            report.findings.append(
                Finding(
                    "allocations",
                    f"variant {variant_id}",
                    f"allocated {allocated.get(variant_id, 0)}, pending orders hold "
                    f"{expected.get(variant_id, 0)}",
                )
            )
    report.checked["stock rows with allocations"] = len(allocated)


def _audit_payments(report: AuditReport, since: datetime | None) -> None:
    try:
        captures = payment_captures(since=since)
    except (PaymentUnavailable, PaymentTimeout):
        report.findings.append(
            Finding("captures", "gateway", "unreachable: captures could not be checked")
        )
        return
    orders = Order.objects.all() if since is None else Order.objects.filter(created_at__gte=since)
    paid = dict(orders.filter(status=Order.Status.PAID).values_list("number", "total"))
    # A charge whose answer was lost leaves its order pending until reconciliation; that
    # is not a violation (the pending check catches one left too long).
    pending = set(
        orders.filter(status=Order.Status.PENDING_PAYMENT).values_list("number", flat=True)
    )
    if since is not None:
        # Reconciliation may capture an order placed before `since`: it is in scope
        # through its capture, so its state is read too (one query).
        earlier = set(_captures_per_reference(captures)) - set(paid) - pending
        for number, status, total in Order.objects.filter(number__in=earlier).values_list(
            "number", "status", "total"
        ):
            if status == Order.Status.PAID:
                paid[number] = total
            elif status == Order.Status.PENDING_PAYMENT:
                pending.add(number)
    captured: dict[str, Decimal] = defaultdict(Decimal)
    counts = _captures_per_reference(captures)
    for capture in captures:
        captured[capture.reference] += capture.captured_amount
    for reference, count in counts.items():
        if count > 1:
            report.findings.append(Finding("captures", reference, f"captured {count} times"))
        if reference not in paid and reference not in pending:
            report.findings.append(
                Finding(
                    "captures", reference, "captured, but the order is not paid", "unknown_capture"
                )
            )
    for number, total in paid.items():
        if number not in captured:
            report.findings.append(
                Finding("captures", number, "paid without a capture", "missing_capture")
            )
        elif captured[number] != total:
            report.findings.append(
                Finding(
                    "captures", number, f"captured {captured[number]} of {total}", "amount_mismatch"
                )
            )
    report.checked["paid orders"] = len(paid)
    report.checked["captures"] = len(captures)


def _captures_per_reference(captures: list[CaptureRecord]) -> Counter[str]:
    """Captures per reference."""
    return Counter(capture.reference for capture in captures)


def _audit_carts(report: AuditReport) -> None:
    live = (Order.Status.PAID, Order.Status.PENDING_PAYMENT)
    doubled = (
        Order.objects.filter(status__in=live)
        .values("cart_token")
        .annotate(orders=Count("pk"))
        .filter(orders__gt=1)
        .values_list("cart_token", "orders")
    )
    for cart_token, orders in doubled:
        report.findings.append(
            Finding("carts", f"cart {cart_token[:8]}", f"{orders} live orders for one cart")
        )


def _audit_pending(report: AuditReport) -> None:
    cutoff = timezone.now() - timedelta(seconds=settings.CHECKOUT_RECONCILE_WINDOW)
    stuck = Order.objects.filter(status=Order.Status.PENDING_PAYMENT, created_at__lt=cutoff)
    for number in stuck.values_list("number", flat=True):
        report.findings.append(Finding("pending", number, "pending past the reconciliation window"))
    report.checked["pending orders"] = Order.objects.filter(
        status=Order.Status.PENDING_PAYMENT
    ).count()


def _audit_outbox(report: AuditReport) -> None:
    for message in outbox_dead_letters():
        report.findings.append(
            Finding(
                "outbox",
                message.dedupe_key,
                f"dead-lettered after {message.attempts} attempts (requeue it with "
                f"outbox_requeue {message.pk}): {message.last_error}",
            )
        )
    report.checked["undelivered outbox messages"] = OutboxMessage.objects.filter(
        delivered_at__isnull=True
    ).count()


def orders_audit(*, since: datetime | None = None) -> AuditReport:
    """Check every invariant; the report lists what was checked and what broke.

    `since`: check only the payments of orders placed (and captures made) since then.
    """
    report = AuditReport()
    _audit_stock(report)
    _audit_payments(report, since)
    _audit_carts(report)
    _audit_pending(report)
    _audit_outbox(report)
    owned = {f for provider in _acknowledgers for f in provider(tuple(report.findings))}
    report.acknowledged = [f for f in report.findings if f in owned]
    report.findings = [f for f in report.findings if f not in owned]
    return report
