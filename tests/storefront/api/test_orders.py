import uuid

import pytest

from tests.storefront.api.conftest import assert_error

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "1 Analytical Way",
    "city": "London",
    "postal_code": "N1 7AA",
    "country": "gb",
}


def order_body(cart_token, **overrides):
    return {
        "cart": cart_token,
        "email": "ada@example.com",
        "shipping_address": ADDRESS,
        "payment_token": "tok_ok",
        **overrides,
    }


def place(api, body, key=None):
    key = key if key is not None else str(uuid.uuid4())
    headers = {"Idempotency-Key": key} if key else {}
    return api.post("/api/v1/orders/", body, format="json", headers=headers)


@pytest.fixture
def filled_cart(api, cart_token, sku):
    response = api.post(
        f"/api/v1/carts/{cart_token}/lines/", {"sku": sku, "quantity": 2}, format="json"
    )
    assert response.status_code == 201
    return cart_token


def test_api_purchase_end_to_end(api, db, sku):
    token = api.post("/api/v1/carts/").json()["token"]
    api.post(f"/api/v1/carts/{token}/lines/", {"sku": sku, "quantity": 3}, format="json")

    response = place(api, order_body(token))

    assert response.status_code == 201
    order = response.json()
    assert order["status"] == "paid"
    assert order["total"] == "59.70"  # 3 x 19.90; standard shipping is free over 50
    assert order["lines"] == [
        {
            "sku": sku,
            "product_name": "Trail Runner",
            "variant_name": order["lines"][0]["variant_name"],
            "quantity": 3,
            "unit_price": "19.90",
            "discount": "0.00",
            "total": "59.70",
        }
    ]
    assert set(order) == {
        "number",
        "status",
        "status_label",
        "token",
        "email",
        "shipping_address",
        "shipping_method",
        "lines",
        "subtotal",
        "discount",
        "shipping_total",
        "total",
        "currency",
        "coupon_code",
        "created_at",
    }
    assert order["shipping_address"] == {**ADDRESS, "line2": "", "country": "GB"}
    assert order["shipping_method"] == "standard"
    assert response["Location"] == f"/api/v1/orders/{order['number']}/"
    assert api.get(f"/api/v1/carts/{token}/").json()["is_open"] is False
    assert api.get("/api/v1/products/trail-runner/").json()["variants"][0]["available"] == 7


def test_client_sent_amounts_are_ignored(api, filled_cart):
    body = order_body(filled_cart, total="0.01", discount="39.79", subtotal="0.01")
    body["lines"] = [{"sku": "X", "unit_price": "0.00"}]

    order = place(api, body).json()

    assert (order["subtotal"], order["discount"], order["total"]) == ("39.80", "0.00", "44.70")


def test_declined_payment_keeps_the_cart_open(api, filled_cart, sku):
    response = place(api, order_body(filled_cart, payment_token="tok_decline"))

    assert_error(response, 402, "payment_declined")
    cart = api.get(f"/api/v1/carts/{filled_cart}/").json()
    assert cart["is_open"] is True
    assert [(line["sku"], line["quantity"]) for line in cart["lines"]] == [(sku, 2)]
    assert cart["lines"][0]["available"] == 10


def test_unavailable_payment_is_a_503_and_keeps_the_cart_open(api, filled_cart):
    response = place(api, order_body(filled_cart, payment_token="tok_unavailable"))

    assert_error(response, 503, "payment_unavailable")
    assert api.get(f"/api/v1/carts/{filled_cart}/").json()["is_open"] is True


def test_repeat_with_the_same_key_returns_the_first_order(api, filled_cart):
    first = place(api, order_body(filled_cart), key="retry-me")
    again = place(api, order_body(filled_cart), key="retry-me")

    assert first.status_code == 201
    assert again.json()["number"] == first.json()["number"]
    assert again.json()["total"] == first.json()["total"]


def test_missing_idempotency_key(api, filled_cart):
    assert_error(place(api, order_body(filled_cart), key=""), 400, "idempotency_key_missing")
    assert_error(place(api, order_body(filled_cart), key="   "), 400, "idempotency_key_missing")
    assert api.get(f"/api/v1/carts/{filled_cart}/").json()["is_open"] is True


def test_overlong_idempotency_key(api, filled_cart):
    assert_error(place(api, order_body(filled_cart), key="k" * 256), 400, "idempotency_key_invalid")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": None}, "email"),
        ({"cart": ""}, "cart"),
        ({"payment_token": ""}, "payment_token"),
        ({"shipping_address": {**ADDRESS, "country": "GBR"}}, "shipping_address"),
        ({"shipping_address": {**ADDRESS, "name": "x" * 121}}, "shipping_address"),
        ({"shipping_address": "1 Analytical Way"}, "shipping_address"),
    ],
)
def test_order_rejects_bad_fields(api, filled_cart, change, field):
    error = assert_error(place(api, order_body(filled_cart, **change)), 400, "invalid_request")

    assert list(error["details"]["fields"]) == [field]


def test_order_missing_fields(api, filled_cart):
    error = assert_error(place(api, {}), 400, "invalid_request")

    assert set(error["details"]["fields"]) == {
        "cart",
        "email",
        "shipping_address",
        "payment_token",
    }


def test_order_for_unknown_cart(api, db):
    assert_error(place(api, order_body("no-such-cart")), 404, "cart_not_found")


def test_order_for_empty_cart(api, cart_token):
    assert_error(place(api, order_body(cart_token)), 400, "cart_empty")


def test_order_with_unknown_shipping_method(api, filled_cart):
    response = place(api, order_body(filled_cart, shipping_method="teleport"))

    assert_error(response, 400, "unknown_shipping_method")


def test_order_is_readable_with_its_token_only(api, filled_cart):
    order = place(api, order_body(filled_cart)).json()
    url = f"/api/v1/orders/{order['number']}/"

    by_query = api.get(url, {"token": order["token"]})
    by_header = api.get(url, headers={"X-Order-Token": order["token"]})

    assert by_query.status_code == 200
    assert by_query.json() == order
    assert by_header.json() == order
    assert_error(api.get(url), 404, "order_not_found")
    assert_error(api.get(url, {"token": "guess"}), 404, "order_not_found")
    assert_error(api.get(url, headers={"X-Order-Token": "guess"}), 404, "order_not_found")
    assert_error(
        api.get("/api/v1/orders/PS-NOPE/", {"token": order["token"]}), 404, "order_not_found"
    )


def test_order_read_queries(api, filled_cart, django_assert_num_queries):
    order = place(api, order_body(filled_cart)).json()

    # order, lines
    with django_assert_num_queries(2):
        response = api.get(f"/api/v1/orders/{order['number']}/", {"token": order["token"]})

    assert response.status_code == 200


def test_a_method_the_carrier_does_not_offer_to_the_country_is_a_400(api, filled_cart):
    body = order_body(
        filled_cart,
        shipping_address={**ADDRESS, "country": "IT", "postal_code": "00100"},
        shipping_method="express",
    )

    response = place(api, body)

    assert_error(response, 400, "unknown_shipping_method")
    assert response.json()["error"]["details"]["choices"] == ["standard"]


def test_an_order_abroad_is_charged_the_carriers_zone_rate(api, filled_cart):
    body = order_body(filled_cart, shipping_address={**ADDRESS, "country": "FR"})

    response = place(api, body)

    assert response.status_code == 201
    # 2 x 19.90 = 39.80, under France's free-shipping limit (80.00): 4.90 + 3.00 zone
    assert response.json()["shipping_total"] == "7.90"
    assert response.json()["total"] == "47.70"
