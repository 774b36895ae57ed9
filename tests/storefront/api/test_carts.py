import pytest
from django.test import override_settings

from tests.factories import CouponFactory, PromotionFactory, stocked_product
from tests.storefront.api.conftest import assert_error


def add(api, token, sku, quantity):
    return api.post(
        f"/api/v1/carts/{token}/lines/", {"sku": sku, "quantity": quantity}, format="json"
    )


def test_create_cart_answers_201_with_a_token(api, db):
    response = api.post("/api/v1/carts/")

    assert response.status_code == 201
    token = response.json()["token"]
    assert set(response.json()) == {"token"}
    assert len(token) >= 32
    assert response["Location"] == f"/api/v1/carts/{token}/"


def test_new_cart_is_empty(api, cart_token):
    response = api.get(f"/api/v1/carts/{cart_token}/")

    assert response.status_code == 200
    assert response.json() == {
        "token": cart_token,
        "is_open": True,
        "lines": [],
        "item_count": 0,
        "subtotal": "0.00",
        "discount": "0.00",
        "total": "0.00",
        "currency": "EUR",
        "coupon": None,
        "explanation": [],
    }


def test_add_line_answers_201_with_the_priced_cart(api, cart_token, product, sku):
    PromotionFactory(name="Spring", value=10)

    response = add(api, cart_token, sku, 2)

    assert response.status_code == 201
    cart = response.json()
    line = cart["lines"][0]
    assert line == {
        "id": line["id"],
        "sku": sku,
        "product_name": "Trail Runner",
        "product_slug": "trail-runner",
        "variant_name": product.variants.get().name,
        "image_url": product.image_url,
        "quantity": 2,
        "unit_price": "19.90",
        "discount": "3.98",
        "total": "35.82",
        "promotion": "Spring",
        "available": 10,
    }
    assert (cart["subtotal"], cart["discount"], cart["total"]) == ("39.80", "3.98", "35.82")
    assert cart["item_count"] == 2
    assert api.get(f"/api/v1/carts/{cart_token}/").json() == cart


def test_adding_the_same_sku_again_raises_the_quantity(api, cart_token, sku):
    add(api, cart_token, sku, 2)

    cart = add(api, cart_token, sku, 3).json()

    assert [(line["sku"], line["quantity"]) for line in cart["lines"]] == [(sku, 5)]


def test_update_line_quantity(api, cart_token, sku):
    line_id = add(api, cart_token, sku, 1).json()["lines"][0]["id"]

    response = api.patch(
        f"/api/v1/carts/{cart_token}/lines/{line_id}/", {"quantity": 4}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["lines"][0]["quantity"] == 4
    assert response.json()["total"] == "79.60"


def test_delete_line_answers_200_with_the_cart(api, cart_token, sku, db):
    other = stocked_product(price="5.00").variants.get().sku
    line_id = add(api, cart_token, sku, 1).json()["lines"][0]["id"]
    add(api, cart_token, other, 1)

    response = api.delete(f"/api/v1/carts/{cart_token}/lines/{line_id}/")

    assert response.status_code == 200
    assert [line["sku"] for line in response.json()["lines"]] == [other]
    assert response.json()["total"] == "5.00"


def test_apply_coupon(api, cart_token, sku):
    CouponFactory(code="TENOFF", value=10)
    add(api, cart_token, sku, 1)

    response = api.post(f"/api/v1/carts/{cart_token}/coupon/", {"code": "TENOFF"}, format="json")

    assert response.status_code == 200
    assert response.json()["coupon"] == {
        "code": "TENOFF",
        "applied": True,
        "reason": "applied",
        "discount": "1.99",
    }
    assert response.json()["total"] == "17.91"


def test_blank_coupon_removes_it(api, cart_token, sku):
    CouponFactory(code="TENOFF")
    add(api, cart_token, sku, 1)
    api.post(f"/api/v1/carts/{cart_token}/coupon/", {"code": "TENOFF"}, format="json")

    response = api.post(f"/api/v1/carts/{cart_token}/coupon/", {"code": ""}, format="json")

    assert response.status_code == 200
    assert response.json()["coupon"] is None
    assert response.json()["total"] == "19.90"


def test_unknown_coupon_is_refused(api, cart_token, sku):
    add(api, cart_token, sku, 1)

    response = api.post(f"/api/v1/carts/{cart_token}/coupon/", {"code": "NOPE"}, format="json")

    assert_error(response, 400, "invalid_coupon")


@pytest.mark.parametrize("quantity", [0, -5, 10**9, 21, "abc", "3", 1.5, 2.0, True, None, [1]])
def test_add_line_rejects_bad_quantities(api, cart_token, sku, quantity):
    error = assert_error(add(api, cart_token, sku, quantity), 400, "invalid_request")

    assert set(error["details"]["fields"]) == {"quantity"}
    assert api.get(f"/api/v1/carts/{cart_token}/").json()["lines"] == []


@override_settings(CHECKOUT_MAX_LINE_QUANTITY=3)
def test_quantity_cap_follows_the_setting(api, cart_token, sku):
    assert_error(add(api, cart_token, sku, 4), 400, "invalid_request")
    assert add(api, cart_token, sku, 3).status_code == 201


@pytest.mark.parametrize("quantity", [0, -5, 10**9, "abc", 1.5, True])
def test_update_line_rejects_bad_quantities(api, cart_token, sku, quantity):
    line_id = add(api, cart_token, sku, 1).json()["lines"][0]["id"]

    response = api.patch(
        f"/api/v1/carts/{cart_token}/lines/{line_id}/", {"quantity": quantity}, format="json"
    )

    assert_error(response, 400, "invalid_request")


def test_add_line_missing_fields(api, cart_token):
    error = assert_error(
        api.post(f"/api/v1/carts/{cart_token}/lines/", {}, format="json"), 400, "invalid_request"
    )

    assert set(error["details"]["fields"]) == {"sku", "quantity"}


def test_add_unknown_sku(api, cart_token):
    assert_error(add(api, cart_token, "NO-SUCH-SKU", 1), 400, "unknown_sku")


def test_add_more_than_in_stock(api, cart_token, sku):
    error = assert_error(add(api, cart_token, sku, 11), 409, "insufficient_stock")

    assert error["details"] == {"available": {sku: 10}}


def test_unknown_cart_token(api, sku, db):
    assert_error(api.get("/api/v1/carts/not-a-token/"), 404, "cart_not_found")
    assert_error(add(api, "not-a-token", sku, 1), 404, "cart_not_found")
    assert_error(
        api.post("/api/v1/carts/not-a-token/coupon/", {"code": "X"}, format="json"),
        404,
        "cart_not_found",
    )


def test_unknown_line(api, cart_token):
    url = f"/api/v1/carts/{cart_token}/lines/999999/"

    assert_error(api.patch(url, {"quantity": 1}, format="json"), 404, "cart_line_not_found")
    assert_error(api.delete(url), 404, "cart_line_not_found")


@pytest.mark.parametrize("line_id", [2**63, 10**30])
def test_line_id_beyond_any_database_id(api, cart_token, line_id):
    url = f"/api/v1/carts/{cart_token}/lines/{line_id}/"

    assert_error(api.patch(url, {"quantity": 1}, format="json"), 404, "cart_line_not_found")
    assert_error(api.delete(url), 404, "cart_line_not_found")


def test_cart_explains_which_promotions_applied_and_why_others_did_not(api, cart_token, sku):
    PromotionFactory(name="Spring", value=10)
    PromotionFactory(name="Members", value=30, segment="vip")

    cart = add(api, cart_token, sku, 1).json()

    assert cart["explanation"] == [
        {"name": "Spring", "applied": True, "amount": "1.99", "reason": "applied"},
        {"name": "Members", "applied": False, "amount": "0.00", "reason": "not for this customer"},
    ]
