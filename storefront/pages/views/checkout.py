"""Checkout in one form, and the order status page.

An order page is shown only to whoever holds the order's access token: from the session
of the browser that placed it, or from a `?token=` link (the confirmation email's).
"""

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from checkout.interface import (
    SHIPPING_METHODS,
    CartEmpty,
    CartNotFound,
    CartNotOpen,
    CartView,
    OrderNotFound,
    OrderView,
    ShippingAddress,
    order_place,
    order_view,
)
from storefront.pages.cart_cookie import cart_token, forget_cart
from storefront.pages.forms import CheckoutForm
from storefront.pages.shell import private_meta, render_page
from storefront.pages.views.cart import SeeOther, open_cart
from toolkit.errors import DomainError

# Orders whose payment went through or may still go through; anything else failed.
PLACED_STATUSES = {"paid", "pending_payment"}
# The session remembers this many recent orders; older ones stay reachable by token link.
REMEMBERED_ORDERS = 20


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def checkout(request: HttpRequest) -> HttpResponse:
    """Show the checkout form, or place the order it posts. Seven queries to show."""
    if request.method == "POST":
        return _place_order(request)
    cart = open_cart(request)
    if cart is None or not cart.lines:
        return _back_to_cart(request, "Your cart is empty. Add something before checking out.")
    return _checkout_page(request, cart, CheckoutForm())


def _place_order(request: HttpRequest) -> HttpResponse:
    token = cart_token(request)
    if token is None:
        return _back_to_cart(request, "Your cart is empty. Add something before checking out.")
    form = CheckoutForm(request.POST)
    if not form.is_valid():
        cart = open_cart(request)
        if cart is None or not cart.lines:
            return _back_to_cart(request, "Your cart is empty. Add something before checking out.")
        return _checkout_page(request, cart, form, status=400)
    data = form.cleaned_data
    try:
        # Called even if the cart was checked out meanwhile: a second submit of the same
        # form (same key) gets the first submit's order back instead of an error.
        order = order_place(
            cart_token=token,
            idempotency_key=str(data["idempotency_key"]),
            email=data["email"],
            shipping_address=ShippingAddress(
                name=data["name"],
                line1=data["line1"],
                line2=data["line2"],
                city=data["city"],
                postal_code=data["postal_code"],
                country=data["country"],
            ),
            shipping_method=data["shipping_method"],
            payment_token=data["payment_token"],
        )
    except (CartEmpty, CartNotFound, CartNotOpen) as error:
        return _back_to_cart(request, error.message)
    except DomainError as error:
        # Declined, out of stock, payments down: the cart is open again, so the visitor
        # can fix it and retry with a fresh key (the old key names the failed attempt).
        return _retry_page(request, error.message, status=error.status)
    if order.status not in PLACED_STATUSES:
        # A second submit of a declined form answers with the declined order.
        return _retry_page(request, "Your payment did not go through.", status=402)
    _remember_order(request, order)
    response = SeeOther(reverse("pages:order", kwargs={"number": order.number}))
    forget_cart(response)
    return response


def _back_to_cart(request: HttpRequest, message: str) -> HttpResponse:
    messages.error(request, message)
    return SeeOther(reverse("pages:cart"))


@never_cache
@require_safe
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    """Show an order's status to whoever holds its token; anyone else gets 404."""
    token = request.GET.get("token") or request.session.get("orders", {}).get(number, "")
    try:
        order = order_view(number=number, access_token=token)
    except OrderNotFound:
        raise Http404("No such order.") from None
    return render_page(
        request,
        "storefront/order.html",
        meta=private_meta(request, title=f"Order {order.number}"),
        order=order,
        shipping_method=SHIPPING_METHODS.get(order.shipping_method),
    )


def _checkout_page(
    request: HttpRequest,
    cart: CartView,
    form: CheckoutForm,
    *,
    status: int = 200,
    error: str = "",
) -> HttpResponse:
    return render_page(
        request,
        "storefront/checkout.html",
        meta=private_meta(request, title="Checkout"),
        status=status,
        cart=cart,
        form=form,
        error=error,
    )


def _retry_page(request: HttpRequest, message: str, *, status: int) -> HttpResponse:
    """Re-show the posted form with the reason and a new idempotency key."""
    cart = open_cart(request)
    if cart is None or not cart.lines:
        return _back_to_cart(request, message)
    data = request.POST.copy()
    data["idempotency_key"] = str(uuid.uuid4())
    return _checkout_page(request, cart, CheckoutForm(data), status=status, error=message)


def _remember_order(request: HttpRequest, order: OrderView) -> None:
    orders = dict(request.session.get("orders", {}))
    orders[order.number] = order.access_token
    request.session["orders"] = dict(list(orders.items())[-REMEMBERED_ORDERS:])
