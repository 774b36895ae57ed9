"""Checkout reads: a cart or an order composed with catalog, pricing and inventory."""

from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from catalog.interface import variants_by_ids
from checkout.dto import (
    CartLineView,
    CartView,
    OrderLineView,
    OrderSettlement,
    OrderView,
    ShippingAddress,
)
from checkout.models import Cart, Order, OrderLine
from inventory.interface import availability_for_variants
from pricing.interface import PricingLine, cart_price
from toolkit.errors import NotFound


class CartNotFound(NotFound):
    code = "cart_not_found"


class OrderNotFound(NotFound):
    code = "order_not_found"


def cart_view(*, token: str) -> CartView:
    """Return the cart with server-side prices and availability.

    Five queries whatever the number of lines: cart, lines, variants, prices, stock; one
    more for a coupon, and one when this process must recompile its promotion index.
    """
    cart = Cart.objects.filter(token=token).first()
    if cart is None:
        raise CartNotFound("No such cart.")
    return cart_view_for(cart=cart)


def cart_view_for(*, cart: Cart) -> CartView:
    lines = list(cart.lines.all())
    variants = variants_by_ids(variant_ids=[line.variant_id for line in lines])
    lines = [line for line in lines if line.variant_id in variants]
    pricing = cart_price(
        lines=[
            PricingLine(
                variant_id=line.variant_id,
                sku=variants[line.variant_id].sku,
                quantity=line.quantity,
                brand_id=variants[line.variant_id].brand_id,
                category_path=variants[line.variant_id].category_path,
            )
            for line in lines
        ],
        coupon_code=cart.coupon_code or None,
    )
    priced = {line.variant_id: line for line in pricing.lines}
    available = availability_for_variants(variant_ids=list(variants), holder=cart.token)
    views = []
    for line in lines:
        variant = variants[line.variant_id]
        price = priced.get(line.variant_id)
        views.append(
            CartLineView(
                id=line.pk,
                variant_id=line.variant_id,
                sku=variant.sku,
                product_name=variant.product_name,
                product_slug=variant.product_slug,
                variant_name=variant.name,
                image_url=variant.image_url,
                quantity=line.quantity,
                unit_price=price.unit_price if price else None,
                discount=price.discount if price else Decimal("0.00"),
                total=price.total if price else Decimal("0.00"),
                promotion=price.promotion if price else None,
                available=available.get(line.variant_id, 0),
            )
        )
    return CartView(
        token=cart.token,
        is_open=cart.status == Cart.Status.OPEN,
        lines=tuple(views),
        subtotal=pricing.subtotal,
        discount=pricing.discount,
        total=pricing.total,
        currency=pricing.currency,
        coupon=pricing.coupon,
        explanation=pricing.explanation,
        cart_discount=pricing.cart_discount,
    )


def order_view(*, number: str, access_token: str) -> OrderView:
    """Return an order to whoever holds its access token; anyone else gets 404."""
    if not access_token:
        raise OrderNotFound("No such order.")
    # Matching the token in the query means a wrong token never loads the order, nor
    # prefetches lines only to throw them away.
    order = (
        Order.objects.filter(number=number, access_token=access_token)
        .prefetch_related("lines")
        .first()
    )
    if order is None:
        raise OrderNotFound("No such order.")
    return order_view_for(order=order)


def order_view_for(*, order: Order) -> OrderView:
    return OrderView(
        number=order.number,
        access_token=order.access_token,
        status=order.status,
        status_label=Order.Status(order.status).label,
        email=order.email,
        shipping_address=ShippingAddress(
            name=order.shipping_name,
            line1=order.shipping_line1,
            line2=order.shipping_line2,
            city=order.shipping_city,
            postal_code=order.shipping_postal_code,
            country=order.shipping_country,
        ),
        shipping_method=order.shipping_method,
        lines=tuple(
            OrderLineView(
                sku=line.sku,
                product_name=line.product_name,
                variant_name=line.variant_name,
                quantity=line.quantity,
                unit_price=line.unit_price,
                discount=line.discount,
                total=line.total,
            )
            for line in order.lines.all()
        ),
        subtotal=order.subtotal,
        discount=order.discount,
        shipping_total=order.shipping_total,
        total=order.total,
        currency=order.currency,
        coupon_code=order.coupon_code,
        created_at=order.created_at,
    )


def units_sold_unbooked(variant_ids: Sequence[int]) -> dict[int, int]:
    """Units of paid orders the ERP has not acknowledged booking yet, per variant.

    What inventory's ERP stock sync keeps off the shelf (registered in `apps.py`). One
    query.
    """
    rows = (
        OrderLine.objects.filter(
            variant_id__in=list(variant_ids),
            order__status=Order.Status.PAID,
            order__erp_booked_at__isnull=True,
        )
        .values("variant_id")
        .annotate(units=Sum("quantity"))
        .values_list("variant_id", "units")
    )
    return dict(rows)


def _settlement(order: Order) -> OrderSettlement:
    return OrderSettlement(
        id=order.pk,
        number=order.number,
        status=order.status,
        total=order.total,
        currency=order.currency,
        created_at=order.created_at,
    )


_SETTLEMENT_FIELDS = ("id", "number", "status", "total", "currency", "created_at")


def order_settlements_after(
    *, after_id: int, limit: int, statuses: tuple[str, ...] = (Order.Status.PAID,)
) -> tuple[OrderSettlement, ...]:
    """Return up to `limit` orders in these states with ids above `after_id`, by id.

    Keyset pagination for reconciliation: one query per batch on the primary key.
    """
    rows = (
        Order.objects.filter(pk__gt=after_id, status__in=statuses)
        .order_by("pk")
        .only(*_SETTLEMENT_FIELDS)[:limit]
    )
    return tuple(_settlement(order) for order in rows)


def order_settlements_by_numbers(*, numbers: Iterable[str]) -> dict[str, OrderSettlement]:
    """Return each known order number's settlement; unknown numbers are absent. One query."""
    rows = Order.objects.filter(number__in=list(numbers)).only(*_SETTLEMENT_FIELDS)
    return {order.number: _settlement(order) for order in rows}


def orders_stuck_pending(*, older_than: timedelta, limit: int) -> tuple[OrderSettlement, ...]:
    """Return orders still waiting for their payment's outcome past `older_than`. One query."""
    cutoff = timezone.now() - older_than
    rows = (
        Order.objects.filter(status=Order.Status.PENDING_PAYMENT, created_at__lte=cutoff)
        .order_by("created_at", "pk")
        .only(*_SETTLEMENT_FIELDS)[:limit]
    )
    return tuple(_settlement(order) for order in rows)
