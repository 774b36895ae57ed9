import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from checkout.interface import cart_view
from tests.factories import CouponFactory, PromotionFactory, stocked_product
from tests.storefront.conftest import add_to_cart, messages_of


def cart_cookie(client):
    return client.cookies[settings.CHECKOUT_CART_COOKIE]


def test_first_add_creates_the_cart_in_an_httponly_lax_cookie(client, sku):
    # when
    response = add_to_cart(client, sku, quantity=2)

    # then
    assert response.status_code == 303
    assert response["Location"] == "/cart/"
    cookie = cart_cookie(client)
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert [(line.sku, line.quantity) for line in cart_view(token=cookie.value).lines] == [(sku, 2)]


def test_adding_again_uses_the_same_cart(client, sku):
    # given
    add_to_cart(client, sku)
    token = cart_cookie(client).value

    # when
    add_to_cart(client, sku, quantity=3)

    # then
    assert cart_cookie(client).value == token
    assert cart_view(token=token).lines[0].quantity == 4


def test_the_add_form_redirects_without_pricing_the_cart(client, sku):
    # given a cart with a line
    add_to_cart(client, sku)

    # when the form adds again
    with CaptureQueriesContext(connection) as queries:
        response = add_to_cart(client, sku)

    # then it answers with the redirect alone: the cart page it leads to prices the cart,
    # so the add reads no price (the API's add answers with the cart, and does)
    assert response.status_code == 303
    assert [q["sql"] for q in queries if "pricing_" in q["sql"]] == []
    assert len(queries) > 0


def test_cart_page_shows_lines_promotion_totals_and_checkout_link(client, category):
    # given a promoted product in the cart
    PromotionFactory(name="Spring sale", value=Decimal("10"))
    product = stocked_product(category=category, name="Tent", price="100.00")
    add_to_cart(client, product.variants.get().sku, quantity=2)

    # when
    response = client.get("/cart/")

    # then
    html = response.content.decode()
    line = response.context["cart"].lines[0]
    assert response.status_code == 200
    assert '<a href="/p/' + product.slug + '/">Tent</a>' in html
    assert "Spring sale" in html
    assert "€100.00" in html  # unit price
    assert "€180.00" in html  # line total after 10% off
    assert f'action="/cart/lines/{line.id}/"' in html
    assert f'action="/cart/lines/{line.id}/remove/"' in html
    assert 'action="/cart/coupon/"' in html
    assert re.search(r'<a class="button primary" href="/checkout/">Checkout</a>', html)
    assert '<meta name="robots" content="noindex">' in html
    assert "no-store" in response["Cache-Control"]


def test_an_empty_cart_says_so(client, db):
    response = client.get("/cart/")

    assert response.status_code == 200
    assert "Your cart is empty" in response.content.decode()


def test_updating_a_line_sets_its_quantity(shopper):
    # given
    line = shopper.get("/cart/").context["cart"].lines[0]

    # when
    response = shopper.post(f"/cart/lines/{line.id}/", {"quantity": 3}, follow=True)

    # then
    assert response.redirect_chain == [("/cart/", 303)]
    assert response.context["cart"].lines[0].quantity == 3
    assert messages_of(response) == ["Quantity updated."]


def test_removing_a_line_empties_the_cart(shopper):
    # given
    line = shopper.get("/cart/").context["cart"].lines[0]

    # when
    response = shopper.post(f"/cart/lines/{line.id}/remove/", follow=True)

    # then
    assert response.context["cart"].lines == ()
    assert "Your cart is empty" in response.content.decode()


def test_a_valid_coupon_lowers_the_total(shopper):
    # given
    CouponFactory(code="SAVE10", value=Decimal("10"))

    # when
    response = shopper.post("/cart/coupon/", {"code": "save10"}, follow=True)

    # then
    cart = response.context["cart"]
    assert cart.coupon.applied
    assert cart.total == Decimal("17.91")
    assert messages_of(response) == ["Coupon applied."]


def test_an_unknown_coupon_is_refused_with_a_message(shopper):
    # when
    response = shopper.post("/cart/coupon/", {"code": "NOPE"}, follow=True)

    # then
    assert response.redirect_chain == [("/cart/", 303)]
    assert messages_of(response) == ["That coupon code is not valid."]
    assert response.context["cart"].coupon is None


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        (0, "Quantity must be a whole number from 1 to 20."),
        (-5, "Quantity must be a whole number from 1 to 20."),
        (10**9, "Quantity must be a whole number from 1 to 20."),
        ("abc", "Quantity must be a whole number."),
        ("", "Enter a quantity."),
        ("1" * 5000, "Quantity must be a whole number."),
    ],
)
def test_bad_quantities_redirect_with_a_friendly_message(client, sku, quantity, message):
    # when
    response = add_to_cart(client, sku, quantity=quantity)

    # then
    assert response.status_code == 303
    followed = client.get(response["Location"])
    assert messages_of(followed) == [message]
    assert message in followed.content.decode()
    assert followed.context["cart"] is None or followed.context["cart"].lines == ()


def test_unknown_sku_redirects_with_a_message(client, product):
    # when
    response = client.post("/cart/add/", {"sku": "NO-SUCH-SKU", "quantity": 1}, follow=True)

    # then
    assert response.redirect_chain == [("/cart/", 303)]
    assert messages_of(response) == ["No product has that SKU."]


def test_more_than_the_stock_is_refused_with_a_message(client, category):
    # given a product with three units left
    product = stocked_product(category=category, name="Last Few", stock=3)

    # when
    response = add_to_cart(client, product.variants.get().sku, quantity=4)

    # then
    assert response.status_code == 303
    [message] = messages_of(client.get("/cart/"))
    assert message.startswith("Only 3 left")


@pytest.mark.parametrize("path", ["/cart/lines/999/", "/cart/lines/999/remove/", "/cart/coupon/"])
def test_cart_changes_without_a_cart_redirect_with_a_message(client, db, path):
    # when
    response = client.post(path, {"quantity": 1, "code": "X"}, follow=True)

    # then
    assert response.redirect_chain == [("/cart/", 303)]
    assert messages_of(response) == ["Your cart is empty."]


def test_another_carts_line_cannot_be_changed(shopper, sku):
    # given the shopper's line, and a second visitor with a cart of their own
    line = shopper.get("/cart/").context["cart"].lines[0]
    other = Client()
    other.post("/cart/add/", {"sku": sku, "quantity": 1}, follow=True)

    # when
    response = other.post(f"/cart/lines/{line.id}/", {"quantity": 5}, follow=True)

    # then
    assert messages_of(response) == ["No such line in this cart."]
    assert shopper.get("/cart/").context["cart"].lines[0].quantity == 1


def test_a_huge_line_id_is_a_404_not_an_error(shopper):
    assert shopper.post("/cart/lines/99999999999999999999999/", {"quantity": 1}).status_code == 404


def test_a_forged_cart_cookie_is_ignored(client, db):
    # given
    client.cookies[settings.CHECKOUT_CART_COOKIE] = "bad token\x00"

    # when
    response = client.get("/cart/")

    # then
    assert response.status_code == 200
    assert response.context["cart"] is None


def test_an_unknown_cart_cookie_is_replaced_on_the_next_add(client, sku):
    # given a cookie naming a cart that no longer exists
    client.cookies[settings.CHECKOUT_CART_COOKIE] = "expired-cart-token"

    # when
    response = add_to_cart(client, sku)

    # then
    assert response.status_code == 303
    assert cart_cookie(client).value != "expired-cart-token"
    assert cart_view(token=cart_cookie(client).value).lines[0].sku == sku


def test_cart_forms_need_post(client, db):
    assert client.get("/cart/add/").status_code == 405
    assert client.get("/cart/coupon/").status_code == 405
