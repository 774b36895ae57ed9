"""Checkout in one form, and the order status page.

An order page is shown only to whoever holds the order's access token: from the session
of the browser that placed it, or from a `?token=` link (the confirmation email's).
"""

import time
import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from checkout.interface import (
    SHIPPING_METHODS,
    CartView,
    IdempotencyKeyReused,
    IdempotencyRequestInFlight,
    IdempotentOutcome,
    IdempotentResponse,
    OrderNotFound,
    ShippingAddress,
    idempotent_response,
    order_place,
    order_view,
    request_fingerprint,
)
from storefront.pages.cart_cookie import cart_token, forget_cart
from storefront.pages.forms import CheckoutForm
from storefront.pages.shell import private_meta, render_page
from storefront.pages.views.cart import SeeOther, open_cart
from toolkit.errors import DomainError
from toolkit.query import url_token

# The session remembers this many recent orders; older ones stay reachable by token link.
REMEMBERED_ORDERS = 20
# A double submit waits this long for the first submit's answer (the payment budget).
DOUBLE_SUBMIT_WAIT_S = 5.0


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
        answer = _place_once(token=token, data=data)
    except IdempotencyRequestInFlight:
        return _retry_page(
            request, "Your order is still being placed; check your email in a minute.", status=409
        )
    except IdempotencyKeyReused:
        # This form (its hidden key) was already sent with other details, e.g. another card
        # after a decline: nothing is placed under the old key; a fresh form is offered.
        message = "This form was already sent with different details. Check them and retry."
        if open_cart(request) is None:
            return _cart_page(request, message, status=422)
        return _retry_page(request, message, status=422)
    if answer.status in {400, 404} or answer.body.get("code") in {"cart_not_open"}:
        return _back_to_cart(request, answer.body["message"])
    if answer.status != 303:
        # Declined, out of stock, payments down: the cart is open again, so the visitor
        # can fix it and retry with a fresh key (the old key names the failed attempt).
        return _retry_page(request, answer.body["message"], status=answer.status)
    _remember_order(request, answer.body["number"], answer.body["token"])
    response = SeeOther(reverse("pages:order", kwargs={"number": answer.body["number"]}))
    forget_cart(response)
    return response


def _place_once(*, token: str, data: dict) -> IdempotentResponse:
    """Place the order at most once per form (its hidden key), as the API does.

    A double submit waits briefly for the first submit's answer and replays it; a
    resubmit after payments were down makes a new attempt (`order_place`).
    """
    key = str(data["idempotency_key"])

    def produce() -> IdempotentOutcome:
        try:
            order = order_place(
                cart_token=token,
                idempotency_key=key,
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
        except DomainError as error:
            return IdempotentOutcome(error.status, {"code": error.code, "message": error.message})
        placed = {"number": order.number, "token": order.access_token}
        # A pending payment is not settled: a resubmit asks the order service again.
        return IdempotentOutcome(303, placed, settled=order.status == "paid")

    fingerprint = request_fingerprint({"cart": token, **data})
    deadline = time.monotonic() + DOUBLE_SUBMIT_WAIT_S
    while True:
        try:
            return idempotent_response(
                scope=f"cart:{token}", key=key, fingerprint=fingerprint, produce=produce
            )
        except IdempotencyRequestInFlight:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def _back_to_cart(request: HttpRequest, message: str) -> HttpResponse:
    messages.error(request, message)
    return SeeOther(reverse("pages:cart"))


def _cart_page(request: HttpRequest, message: str, *, status: int) -> HttpResponse:
    """Answer a refused checkout with the cart page itself, the reason on top."""
    messages.error(request, message)
    return render_page(
        request,
        "storefront/cart.html",
        meta=private_meta(request, title="Your cart"),
        status=status,
        cart=open_cart(request),
    )


@never_cache
@require_safe
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    """Show an order's status to whoever holds its token; anyone else gets 404."""
    token = request.GET.get("token") or request.session.get("orders", {}).get(number, "")
    try:
        order = order_view(number=number, access_token=url_token(token))
    except (ValueError, OrderNotFound):  # ValueError: not a token the store issues
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


def _remember_order(request: HttpRequest, number: str, access_token: str) -> None:
    orders = dict(request.session.get("orders", {}))
    orders[number] = access_token
    request.session["orders"] = dict(list(orders.items())[-REMEMBERED_ORDERS:])
