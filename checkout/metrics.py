"""The checkout funnel, counted by checkout's own services where each step happens.

Each step is counted once, when its write commits (`transaction.on_commit`), so a
rolled-back order or a replayed idempotent request never counts twice. The completion
ratio is `order_completed / checkout_started` over a window: the ops dashboard computes
it, and `docs/ops/prometheus-rules.yml` records it for Prometheus.
"""

from collections.abc import Callable
from enum import StrEnum

from django.db import transaction
from prometheus_client import Counter


class FunnelStep(StrEnum):
    CART_CREATED = "cart_created"
    LINE_ADDED = "line_added"
    CHECKOUT_STARTED = "checkout_started"  # a buyer submitted payment for a cart
    ORDER_PLACED = "order_placed"  # stock allocated, order awaiting payment
    PAYMENT_DECLINED = "payment_declined"  # the card was refused
    PAYMENT_FAILED = "payment_failed"  # the gateway failed, or reconciliation released it
    ORDER_COMPLETED = "order_completed"  # captured and paid


CHECKOUT_FUNNEL = Counter(
    "peakstore_checkout_funnel",
    "Buyers reaching each checkout step (cart created ... order completed).",
    ["step"],
)
# Expose every step from the start, so a rate over a quiet step is 0, not missing.
for _step in FunnelStep:
    CHECKOUT_FUNNEL.labels(_step.value)


FunnelListener = Callable[[str], None]
_listeners: list[FunnelListener] = []


def funnel_step_listen(listener: FunnelListener) -> None:
    """Also call `listener(step)` on each funnel step, in the request that reached it.

    For higher layers that count the funnel their own way (releases counts it per
    release cohort); checkout knows nothing about them. Call from `AppConfig.ready()`.
    """
    if listener not in _listeners:
        _listeners.append(listener)


def funnel_step(step: FunnelStep) -> None:
    """Count `step` once the current transaction commits (at once outside one)."""
    transaction.on_commit(CHECKOUT_FUNNEL.labels(step.value).inc)
    for listener in _listeners:
        listener(step.value)
