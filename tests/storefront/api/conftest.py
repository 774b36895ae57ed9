import pytest
from rest_framework.test import APIClient


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def cart_token(api, db):
    return api.post("/api/v1/carts/").json()["token"]


def assert_error(response, status, code):
    """Assert the one error shape, with the expected status and machine code."""
    body = response.json()
    assert response.status_code == status, body
    assert response["Content-Type"] == "application/json"
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]
