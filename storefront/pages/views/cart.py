"""The cart page and its forms.

Every POST answers 303 to the cart page; a refused change (bad quantity, unknown SKU,
too little stock, a wrong coupon) becomes a message shown there, so the visitor always
lands on a page that explains what happened and the browser never re-posts on reload.
A client over a throttle (`storefront.throttling`) gets a 429 page instead.
"""

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from checkout.interface import (
    CartNotFound,
    CartNotOpen,
    CartView,
    cart_add_line,
    cart_create,
    cart_remove_line,
    cart_set_coupon,
    cart_update_line,
    cart_view,
)
from storefront.pages.cart_cookie import cart_token, forget_cart, remember_cart
from storefront.pages.forms import AddToCartForm, CouponForm, LineQuantityForm
from storefront.pages.origin import same_origin_post
from storefront.pages.shell import private_meta, render_page
from storefront.throttling import (
    CART_CREATE,
    CART_LINES,
    COUPON_ATTEMPT,
    throttle,
    throttled_page,
)
from toolkit.clients import client_key
from toolkit.errors import DomainError


class SeeOther(HttpResponseRedirect):
    """Redirect after a POST: the browser follows with GET."""

    status_code = 303


def open_cart(request: HttpRequest) -> CartView | None:
    """Return the visitor's open cart, or None if there is none (or it was checked out)."""
    token = cart_token(request)
    if token is None:
        return None
    try:
        view = cart_view(token=token)
    except CartNotFound:
        return None
    return view if view.is_open else None


@never_cache
@require_safe
def cart_detail(request: HttpRequest) -> HttpResponse:
    """Show the cart. Seven queries (eight with a coupon), whatever the number of lines."""
    cart = open_cart(request)
    response = render_page(
        request, "storefront/cart.html", meta=private_meta(request, title="Your cart"), cart=cart
    )
    if cart is None and cart_token(request):
        forget_cart(response)
    return response


@same_origin_post
@never_cache
@require_POST
@throttled_page(CART_LINES)
def cart_add(request: HttpRequest) -> HttpResponse:
    """Add a SKU to the cart, creating the cart on the first add (throttled as the API's)."""
    form = AddToCartForm(request.POST)
    if not form.is_valid():
        return _refused(request, form)
    response = SeeOther(reverse("pages:cart"))
    try:
        _add_line(request, response, **form.cleaned_data)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Added to your cart.")
    return response


def _add_line(request: HttpRequest, response: HttpResponse, *, sku: str, quantity: int) -> None:
    """Add to the visitor's cart; the first add, or one after checkout, starts a new cart."""
    token = cart_token(request)
    client = client_key(request)
    if token is not None:
        try:
            cart_add_line(token=token, sku=sku, quantity=quantity, client=client)
        except (CartNotFound, CartNotOpen):
            pass  # expired, or already an order: start a new cart below
        else:
            return
    throttle(request, CART_CREATE)
    token = cart_create()
    # Remembered before adding, so a refused first line does not orphan the new cart.
    remember_cart(response, token)
    cart_add_line(token=token, sku=sku, quantity=quantity, client=client)


@never_cache
@require_POST
@throttled_page(CART_LINES)
def cart_line_update(request: HttpRequest, line_id: int) -> HttpResponse:
    """Set a line's quantity."""
    form = LineQuantityForm(request.POST)
    if not form.is_valid():
        return _refused(request, form)
    return _change_cart(
        request,
        lambda token: cart_update_line(
            token=token,
            line_id=line_id,
            quantity=form.cleaned_data["quantity"],
            client=client_key(request),
        ),
        done="Quantity updated.",
    )


@never_cache
@require_POST
def cart_line_remove(request: HttpRequest, line_id: int) -> HttpResponse:
    return _change_cart(
        request,
        lambda token: cart_remove_line(token=token, line_id=line_id),
        done="Removed from your cart.",
    )


@never_cache
@require_POST
@throttled_page(COUPON_ATTEMPT)
def cart_coupon(request: HttpRequest) -> HttpResponse:
    """Apply a coupon code; a blank code removes the coupon."""
    form = CouponForm(request.POST)
    if not form.is_valid():
        return _refused(request, form)
    code = form.cleaned_data["code"]
    return _change_cart(
        request,
        lambda token: cart_set_coupon(token=token, code=code),
        done="Coupon applied." if code else "Coupon removed.",
    )


def _change_cart(
    request: HttpRequest, change: Callable[[str], object], *, done: str
) -> HttpResponse:
    token = cart_token(request)
    try:
        if token is None:
            raise CartNotFound("Your cart is empty.")
        change(token)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return SeeOther(reverse("pages:cart"))


def _refused(
    request: HttpRequest, form: AddToCartForm | LineQuantityForm | CouponForm
) -> HttpResponse:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, str(error))
    return SeeOther(reverse("pages:cart"))
