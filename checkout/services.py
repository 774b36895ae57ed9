"""Checkout writes: cart edits and order placement."""

import logging

from django.conf import settings
from django.db import IntegrityError, transaction

from catalog.interface import variants_by_skus
from checkout.dto import CartView, OrderView, ShippingAddress
from checkout.models import Cart, CartLine, Order, OrderLine
from checkout.selectors import CartNotFound, cart_view_for, order_view_for
from checkout.shipping import SHIPPING_METHODS
from checkout.tasks import order_send_confirmation
from integrations.interface import (
    PaymentDeclined,
    PaymentTimeout,
    PaymentUnavailable,
    payment_charge,
)
from inventory.interface import (
    InsufficientStock,
    availability_for_variants,
    stock_allocate,
    stock_release,
    stock_sell,
)
from pricing.interface import coupon_redeem, coupon_release
from toolkit.errors import DomainError, NotFound

logger = logging.getLogger(__name__)


class InvalidQuantity(DomainError):
    code = "invalid_quantity"


class UnknownSku(DomainError):
    code = "unknown_sku"


class CartLineNotFound(NotFound):
    code = "cart_line_not_found"


class CartTooLarge(DomainError):
    code = "cart_too_large"


class CartNotOpen(DomainError):
    code = "cart_not_open"
    status = 409


class CartEmpty(DomainError):
    code = "cart_empty"


class CartNotPurchasable(DomainError):
    code = "cart_not_purchasable"
    status = 409


class InvalidCoupon(DomainError):
    code = "invalid_coupon"


class UnknownShippingMethod(DomainError):
    code = "unknown_shipping_method"


def _check_quantity(quantity: int) -> None:
    cap = settings.CHECKOUT_MAX_LINE_QUANTITY
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= cap:
        raise InvalidQuantity(f"Quantity must be a whole number from 1 to {cap}.", maximum=cap)


def _open_cart(token: str, *, lock: bool = False) -> Cart:
    queryset = Cart.objects.select_for_update() if lock else Cart.objects
    cart = queryset.filter(token=token).first()
    if cart is None:
        raise CartNotFound("No such cart.")
    if cart.status != Cart.Status.OPEN:
        raise CartNotOpen("This cart has already been checked out.")
    return cart


def cart_create() -> str:
    """Create an empty cart and return its token."""
    return Cart.objects.create().token


@transaction.atomic
def cart_add_line(*, token: str, sku: str, quantity: int) -> CartView:
    """Add units of a SKU, merging with an existing line for it."""
    _check_quantity(quantity)
    cart = _open_cart(token, lock=True)
    variant = variants_by_skus(skus=[sku]).get(sku)
    if variant is None:
        raise UnknownSku("No product has that SKU.", sku=sku[:64])
    line = cart.lines.filter(variant_id=variant.id).first()
    new_quantity = quantity + (line.quantity if line else 0)
    _check_quantity(new_quantity)
    available = availability_for_variants(variant_ids=[variant.id]).get(variant.id, 0)
    if new_quantity > available:
        raise InsufficientStock(
            f"Only {available} left of {variant.product_name}.", available={sku: available}
        )
    if line is None:
        if cart.lines.count() >= settings.CHECKOUT_MAX_CART_LINES:
            raise CartTooLarge(
                f"A cart holds at most {settings.CHECKOUT_MAX_CART_LINES} different items."
            )
        CartLine.objects.create(cart=cart, variant_id=variant.id, quantity=quantity)
    else:
        line.quantity = new_quantity
        line.save(update_fields=["quantity"])
    cart.save(update_fields=["updated_at"])
    return cart_view_for(cart=cart)


@transaction.atomic
def cart_update_line(*, token: str, line_id: int, quantity: int) -> CartView:
    _check_quantity(quantity)
    cart = _open_cart(token, lock=True)
    line = cart.lines.filter(pk=line_id).first()
    if line is None:
        raise CartLineNotFound("No such line in this cart.")
    available = availability_for_variants(variant_ids=[line.variant_id]).get(line.variant_id, 0)
    if quantity > line.quantity and quantity > available:
        raise InsufficientStock(f"Only {available} left.", available={str(line_id): available})
    line.quantity = quantity
    line.save(update_fields=["quantity"])
    cart.save(update_fields=["updated_at"])
    return cart_view_for(cart=cart)


@transaction.atomic
def cart_remove_line(*, token: str, line_id: int) -> CartView:
    cart = _open_cart(token, lock=True)
    deleted, _ = cart.lines.filter(pk=line_id).delete()
    if not deleted:
        raise CartLineNotFound("No such line in this cart.")
    cart.save(update_fields=["updated_at"])
    return cart_view_for(cart=cart)


@transaction.atomic
def cart_set_coupon(*, token: str, code: str) -> CartView:
    """Attach a coupon code (blank removes it). Unknown codes are refused."""
    cart = _open_cart(token, lock=True)
    code = code.strip()[:40]
    cart.coupon_code = code
    view = cart_view_for(cart=cart)
    if code and (view.coupon is None or view.coupon.reason == "unknown code"):
        raise InvalidCoupon("That coupon code is not valid.", code=code)
    cart.save(update_fields=["coupon_code", "updated_at"])
    return view


def order_place(
    *,
    cart_token: str,
    idempotency_key: str,
    email: str,
    shipping_address: ShippingAddress,
    shipping_method: str,
    payment_token: str,
) -> OrderView:
    """Turn a cart into a paid order: allocate, charge, then confirm.

    Stock is allocated and the order written in one short transaction; the payment call
    runs outside any transaction so no lock is held while the gateway thinks. A repeated
    call with the same cart and key returns the first order instead of charging again.
    """
    existing = Order.objects.filter(cart_token=cart_token, idempotency_key=idempotency_key)
    if order := existing.prefetch_related("lines").first():
        return order_view_for(order=order)
    method = SHIPPING_METHODS.get(shipping_method)
    if method is None:
        raise UnknownShippingMethod("Choose a shipping method.", choices=sorted(SHIPPING_METHODS))
    try:
        order = _order_create(
            cart_token=cart_token,
            idempotency_key=idempotency_key,
            email=email,
            address=shipping_address,
            method_code=method.code,
        )
    except IntegrityError:
        # A concurrent request with the same key won the race; answer with its order.
        order = existing.get()
        return order_view_for(order=order)
    try:
        charge = payment_charge(
            token=payment_token,
            amount=order.total,
            currency=order.currency,
            idempotency_key=f"order-{order.number}",
        )
    except (PaymentDeclined, PaymentUnavailable) as failure:
        _order_fail(order=order, declined=isinstance(failure, PaymentDeclined))
        raise
    except PaymentTimeout:
        logger.warning("payment timed out; order %s left pending", order.number)
        return order_view_for(order=_order_reload(order))
    _order_complete(order=order, payment_reference=charge.reference)
    return order_view_for(order=_order_reload(order))


def _quantities(order: Order) -> dict[int, int]:
    return {line.variant_id: line.quantity for line in order.lines.all()}


def _order_reload(order: Order) -> Order:
    return Order.objects.prefetch_related("lines").get(pk=order.pk)


@transaction.atomic
def _order_create(
    *,
    cart_token: str,
    idempotency_key: str,
    email: str,
    address: ShippingAddress,
    method_code: str,
) -> Order:
    cart = _open_cart(cart_token, lock=True)
    view = cart_view_for(cart=cart)
    if not view.lines:
        raise CartEmpty("The cart is empty.")
    if any(line.unit_price is None for line in view.lines):
        raise CartNotPurchasable("Some items in the cart are no longer for sale.")
    coupon_code = view.coupon.code if view.coupon and view.coupon.applied else ""
    method = SHIPPING_METHODS[method_code]
    shipping_total = method.price_for(view.total)
    order = Order.objects.create(
        cart_token=cart_token,
        idempotency_key=idempotency_key,
        email=email,
        shipping_name=address.name,
        shipping_line1=address.line1,
        shipping_line2=address.line2,
        shipping_city=address.city,
        shipping_postal_code=address.postal_code,
        shipping_country=address.country.upper(),
        shipping_method=method.code,
        currency=view.currency,
        subtotal=view.subtotal,
        discount=view.discount,
        shipping_total=shipping_total,
        total=view.total + shipping_total,
        coupon_code=coupon_code,
    )
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            variant_id=line.variant_id,
            sku=line.sku,
            product_name=line.product_name,
            variant_name=line.variant_name,
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount=line.discount,
            total=line.total,
        )
        for line in view.lines
    )
    stock_allocate(
        quantities={line.variant_id: line.quantity for line in view.lines},
        reference=order.number,
    )
    if coupon_code:
        coupon_redeem(code=coupon_code)
    cart.status = Cart.Status.CHECKED_OUT
    cart.save(update_fields=["status", "updated_at"])
    return order


@transaction.atomic
def _order_fail(*, order: Order, declined: bool) -> None:
    """Undo an order whose payment failed: release stock and coupon, reopen the cart."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status != Order.Status.PENDING_PAYMENT:
        return
    order.status = Order.Status.PAYMENT_DECLINED if declined else Order.Status.PAYMENT_FAILED
    order.save(update_fields=["status", "updated_at"])
    stock_release(quantities=_quantities(order), reference=order.number)
    if order.coupon_code:
        coupon_release(code=order.coupon_code)
    Cart.objects.filter(token=order.cart_token).update(status=Cart.Status.OPEN)


@transaction.atomic
def _order_complete(*, order: Order, payment_reference: str) -> None:
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.status != Order.Status.PENDING_PAYMENT:
        return
    order.status = Order.Status.PAID
    order.payment_reference = payment_reference
    order.save(update_fields=["status", "payment_reference", "updated_at"])
    stock_sell(quantities=_quantities(order), reference=order.number)
    transaction.on_commit(lambda: order_send_confirmation.delay(order.number))
