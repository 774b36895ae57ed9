"""Bodies past the cap and JSON past the depth limit: a counted 4xx, never a 500."""

import json

import pytest
from django.conf import settings

from tests.storefront.api.conftest import assert_error
from toolkit.query import MAX_JSON_DEPTH

OVER_THE_CAP = json.dumps({"padding": "x" * 3_000_000})


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("path", ["/api/v1/orders/", "/api/v1/carts/{token}/lines/"])
def test_a_body_over_the_cap_is_a_413_in_the_error_shape_and_counted(
    client, cart_token, metric_delta, path
):
    route = "api:order-list" if "orders" in path else "api:cart-lines"
    metric_delta.watch("peakstore_http_responses_total", route=route, method="POST", status="4xx")

    response = client.post(
        path.format(token=cart_token), OVER_THE_CAP, content_type="application/json"
    )

    error = assert_error(response, 413, "payload_too_large")
    assert str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) in error["message"]
    assert (
        metric_delta("peakstore_http_responses_total", route=route, method="POST", status="4xx")
        == 1
    )


def test_a_page_form_over_the_cap_is_a_plain_413(client, db):
    response = client.post(
        "/cart/add/", "sku=" + "x" * 70_000, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/plain")


def test_a_content_length_that_is_not_a_number_is_a_400(client, db):
    response = client.post("/api/v1/carts/", CONTENT_LENGTH="12abc")

    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5_000])
def test_json_nested_past_the_limit_is_a_400_json_too_deep(client, cart_token, depth):
    response = client.post(
        f"/api/v1/carts/{cart_token}/lines/", nested(depth), content_type="application/json"
    )

    assert_error(response, 400, "json_too_deep")


def test_json_at_the_limit_is_parsed_and_judged_on_its_fields(client, cart_token):
    response = client.post(
        f"/api/v1/carts/{cart_token}/lines/",
        json.dumps({"sku": "x", "quantity": json.loads(nested(MAX_JSON_DEPTH - 1))}),
        content_type="application/json",
    )

    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/api/v1/carts/%00/", "not_found"),
        ("/api/v1/carts/" + "a" * 65 + "/", "not_found"),
        ("/api/v1/orders/PS-%C2%B2/", "not_found"),
        ("/api/v1/products/" + "a" * 221 + "/", "not_found"),
    ],
)
def test_path_segments_outside_their_converter_match_nothing(client, db, path, code):
    assert_error(client.get(path), 404, code)


def test_a_forged_order_token_reads_as_none(client, db):
    response = client.get("/api/v1/orders/PS-0000000000/", HTTP_X_ORDER_TOKEN="tok\x00en")

    assert_error(response, 404, "order_not_found")
