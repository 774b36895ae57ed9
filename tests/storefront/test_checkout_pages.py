import re

import pytest
from django.conf import settings
from django.test import Client

from checkout.interface import cart_view
from tests.storefront.conftest import (
    CHECKOUT_FIELDS,
    checkout_post,
    idempotency_key,
    messages_of,
)


def order_number(response) -> str:
    match = re.fullmatch(r"/orders/([-A-Z0-9]+)/", response["Location"])
    assert match, response["Location"]
    return match.group(1)


def test_a_visitor_buys_a_product_through_the_html_pages(client, product, sku):
    # given a visitor on the product page
    product_page = client.get("/p/trail-runner/").content.decode()
    assert f'name="sku" value="{sku}"' in product_page

    # when they add it, look at the cart, and check out
    added = client.post("/cart/add/", {"sku": sku, "quantity": 2})
    cart_page = client.get(added["Location"])
    checkout_page = client.get("/checkout/")
    placed = client.post(
        "/checkout/",
        {**CHECKOUT_FIELDS, "idempotency_key": idempotency_key(checkout_page.content.decode())},
    )
    order_page = client.get(placed["Location"])

    # then
    assert added.status_code == 303
    assert "Trail Runner" in cart_page.content.decode()
    assert placed.status_code == 303
    html = order_page.content.decode()
    assert order_page.status_code == 200
    status = re.search(r'data-testid="order-status">([^<]*)<', html).group(1)
    assert status.lower() == "paid"
    assert order_number(placed) in html
    assert "Trail Runner" in html
    assert '<meta name="robots" content="noindex">' in html
    assert "no-store" in order_page["Cache-Control"]


def test_placing_an_order_empties_the_cart(client, shopper):
    # when
    placed = checkout_post(client)

    # then
    assert placed.status_code == 303
    assert client.cookies[settings.CHECKOUT_CART_COOKIE].value == ""
    assert "Your cart is empty" in client.get("/cart/").content.decode()


def test_checkout_form_has_the_contract_fields(client, shopper):
    # when
    response = client.get("/checkout/")

    # then
    html = response.content.decode()
    assert response.status_code == 200
    for name in ("email", "name", "line1", "line2", "city", "postal_code", "country"):
        assert f'name="{name}"' in html, name
    for value in ("standard", "express"):
        assert re.search(rf'type="radio" name="shipping_method" value="{value}"', html)
    for value, label in (
        ("tok_ok", "Test card — succeeds"),
        ("tok_decline", "Test card — declined"),
        ("tok_timeout", "Test card — gateway times out"),
    ):
        assert re.search(rf'name="payment_token" value="{value}"[^>]*>\s*{label}', html)
    assert re.search(r'<input type="hidden" name="idempotency_key" value="[-0-9a-f]{36}"', html)
    assert re.search(r"<button[^>]*>Place order</button>", html)
    assert "Order summary" in html
    assert '<meta name="robots" content="noindex">' in html


def test_each_checkout_render_gets_a_new_idempotency_key(client, shopper):
    first = idempotency_key(client.get("/checkout/").content.decode())
    second = idempotency_key(client.get("/checkout/").content.decode())

    assert first != second


def test_a_double_submit_places_one_order(client, shopper):
    # given one rendering of the form
    key = idempotency_key(client.get("/checkout/").content.decode())
    data = {**CHECKOUT_FIELDS, "idempotency_key": key}
    cart_cookie = client.cookies[settings.CHECKOUT_CART_COOKIE].value

    # when it is submitted twice, the second time before the first answer arrived (so
    # the browser still sends the cart cookie)
    first = client.post("/checkout/", data)
    client.cookies[settings.CHECKOUT_CART_COOKIE] = cart_cookie
    second = client.post("/checkout/", data)

    # then both land on the same order
    assert first.status_code == second.status_code == 303
    assert first["Location"].startswith("/orders/")
    assert second["Location"] == first["Location"]


def test_a_new_checkout_of_a_checked_out_cart_goes_back_to_the_cart(client, shopper):
    # given a placed order, and a second form rendered before it was placed
    stale = idempotency_key(client.get("/checkout/").content.decode())
    cart_cookie = client.cookies[settings.CHECKOUT_CART_COOKIE].value
    checkout_post(client)

    # when the stale form is submitted with the old cart
    client.cookies[settings.CHECKOUT_CART_COOKIE] = cart_cookie
    response = client.post("/checkout/", {**CHECKOUT_FIELDS, "idempotency_key": stale})

    # then nothing is placed twice
    assert response.status_code == 303
    assert response["Location"] == "/cart/"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("country", "GBR"),
        ("country", "1!"),
        ("shipping_method", "teleport"),
        ("payment_token", "tok_steal"),
        ("idempotency_key", "not-a-uuid"),
        ("name", ""),
    ],
)
def test_invalid_checkout_fields_re_render_the_form_with_400(client, shopper, field, value):
    # when
    response = checkout_post(client, **{field: value})

    # then
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert "Please correct the fields marked below." in response.content.decode()
    assert len(cart_view(token=client.cookies[settings.CHECKOUT_CART_COOKIE].value).lines) == 1


def test_a_declined_payment_keeps_the_cart_and_offers_a_retry(client, shopper, sku):
    # given
    token = client.cookies[settings.CHECKOUT_CART_COOKIE].value
    page = client.get("/checkout/").content.decode()
    data = {**CHECKOUT_FIELDS, "payment_token": "tok_decline"}

    # when
    declined = client.post("/checkout/", {**data, "idempotency_key": idempotency_key(page)})

    # then the form comes back with the reason, a fresh key and the cart intact
    html = declined.content.decode()
    assert declined.status_code == 402
    assert "declined" in html.lower()
    assert 'value="Ada Lovelace"' in html
    assert idempotency_key(html) != idempotency_key(page)
    view = cart_view(token=token)
    assert view.is_open
    assert [(line.sku, line.quantity) for line in view.lines] == [(sku, 1)]

    # and a retry with a good card goes through
    retry = client.post("/checkout/", {**CHECKOUT_FIELDS, "idempotency_key": idempotency_key(html)})
    assert retry.status_code == 303
    assert retry["Location"].startswith("/orders/")


def test_checkout_with_an_empty_cart_sends_the_visitor_to_the_cart(client, db):
    # when
    response = client.get("/checkout/", follow=True)

    # then
    assert response.redirect_chain == [("/cart/", 303)]
    assert messages_of(response) == ["Your cart is empty. Add something before checking out."]


def test_posting_checkout_without_a_cart_places_nothing(client, db):
    response = client.post("/checkout/", CHECKOUT_FIELDS, follow=True)

    assert response.redirect_chain == [("/cart/", 303)]
    assert messages_of(response) == ["Your cart is empty. Add something before checking out."]


def test_posting_checkout_with_an_emptied_cart_places_nothing(shopper):
    # given a form rendered while the cart had a line, then the line removed
    key = idempotency_key(shopper.get("/checkout/").content.decode())
    line = shopper.get("/cart/").context["cart"].lines[0]
    shopper.post(f"/cart/lines/{line.id}/remove/", follow=True)

    # when
    response = shopper.post("/checkout/", {**CHECKOUT_FIELDS, "idempotency_key": key}, follow=True)

    # then
    assert response.redirect_chain == [("/cart/", 303)]
    assert messages_of(response) == ["The cart is empty."]


def test_payments_being_down_keeps_the_cart_and_explains(client, shopper, sku, upstream_simulator):
    # given a payment gateway that answers 503 to everything
    upstream_simulator.set_fault("payment", down=True)

    # when
    response = checkout_post(client)

    # then
    assert response.status_code == 503
    assert "Payments are unavailable" in response.content.decode()
    view = cart_view(token=client.cookies[settings.CHECKOUT_CART_COOKIE].value)
    assert view.is_open
    assert [line.sku for line in view.lines] == [sku]


def test_an_order_page_is_404_for_anyone_without_its_token(client, shopper):
    # given an order placed by the shopper
    number = order_number(checkout_post(client))

    # when another browser asks for it, with no token or a wrong one
    stranger = Client()
    without_token = stranger.get(f"/orders/{number}/")
    wrong_token = stranger.get(f"/orders/{number}/?token=guess")

    # then
    assert without_token.status_code == 404
    assert wrong_token.status_code == 404
    assert number not in without_token.content.decode()


def test_the_order_token_link_grants_access_from_any_browser(client, shopper):
    # given
    number = order_number(checkout_post(client))
    token = client.get(f"/orders/{number}/").context["order"].access_token

    # when
    response = Client().get(f"/orders/{number}/?token={token}")

    # then
    assert response.status_code == 200
    assert response.context["meta"].canonical_url == f"http://testserver/orders/{number}/"


def test_unknown_or_malformed_order_numbers_are_404(client, db):
    assert client.get("/orders/PS-NOPE/").status_code == 404
    assert client.get("/orders/%00/").status_code == 404


def test_a_pending_payment_explains_that_confirmation_is_on_its_way(client, shopper, settings):
    # given a gateway that times out, leaving the order pending
    settings.INTEGRATIONS_PAYMENT_TIMEOUT = 0.2

    # when
    placed = checkout_post(client, payment_token="tok_timeout")
    response = client.get(placed["Location"])

    # then
    html = response.content.decode()
    assert response.context["order"].status == "pending_payment"
    assert "confirmation is on its way" in html
    status = re.search(r'data-testid="order-status">([^<]*)<', html).group(1)
    assert status == response.context["order"].status_label


def test_resubmitting_a_form_after_payments_were_down_places_the_order(
    client, shopper, upstream_simulator
):
    # given a form whose first submit met a payment gateway that was down
    page = client.get("/checkout/").content.decode()
    data = {**CHECKOUT_FIELDS, "idempotency_key": idempotency_key(page)}
    upstream_simulator.set_fault("payment", down=True)
    down = client.post("/checkout/", data)
    upstream_simulator.reset()

    # when the browser sends the same form again (reload, back and submit)
    again = client.post("/checkout/", data)

    # then it is a new attempt, and it goes through
    assert down.status_code == 503
    assert again.status_code == 303
    order = client.get(again["Location"]).context["order"]
    assert order.status == "paid"


def test_reusing_a_form_key_with_another_card_is_a_422_page(client, shopper, sku):
    # given a form declined once
    page = client.get("/checkout/").content.decode()
    key = idempotency_key(page)
    declined = {**CHECKOUT_FIELDS, "payment_token": "tok_decline", "idempotency_key": key}
    assert client.post("/checkout/", declined).status_code == 402

    # when its key comes back with another card
    response = client.post("/checkout/", {**CHECKOUT_FIELDS, "idempotency_key": key})

    # then nothing is placed under the old key, and a fresh form explains why
    html = response.content.decode()
    assert response.status_code == 422
    assert "already sent with different details" in html
    assert idempotency_key(html) != key
    token = client.cookies[settings.CHECKOUT_CART_COOKIE].value
    assert cart_view(token=token).is_open
    assert 'value="Ada Lovelace"' in html


def test_reusing_a_placed_orders_form_key_with_another_card_is_a_422_page(shopper):
    # given an order placed from a form, and a script that kept the cart cookie and key
    page = shopper.get("/checkout/").content.decode()
    key = idempotency_key(page)
    cookie = shopper.cookies[settings.CHECKOUT_CART_COOKIE].value
    placed = shopper.post("/checkout/", {**CHECKOUT_FIELDS, "idempotency_key": key})
    shopper.cookies[settings.CHECKOUT_CART_COOKIE] = cookie

    # when the same key is sent with another card
    response = shopper.post(
        "/checkout/", {**CHECKOUT_FIELDS, "payment_token": "tok_decline", "idempotency_key": key}
    )

    # then a 4xx page, never a 500, and nothing else is placed
    assert placed.status_code == 303
    assert response.status_code == 422
    assert "already sent with different details" in response.content.decode()
