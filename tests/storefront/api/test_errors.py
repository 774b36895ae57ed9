"""The one error shape, for every kind of failure the API can meet."""

import importlib
import pkgutil

import pytest
from rest_framework import exceptions

from storefront.api import views
from storefront.api.errors import ERROR_CODES, api_exception_handler
from tests.storefront.api.conftest import assert_error
from toolkit.errors import DomainError

# Domain errors only management commands and imports can raise.
NOT_REACHABLE_FROM_THE_API = {"slug_taken", "invalid_stock_change"}
APPS = [
    "toolkit",
    "integrations",
    "catalog",
    "pricing",
    "inventory",
    "search",
    "checkout",
    "releases",
]


def test_malformed_json(api, cart_token):
    response = api.post(
        f"/api/v1/carts/{cart_token}/lines/",
        '{"sku": "A", "quantity": ',
        content_type="application/json",
    )

    assert_error(response, 400, "malformed_json")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("sku=A&quantity=1", "application/x-www-form-urlencoded"), ("A,1", "text/plain")],
)
def test_wrong_content_type(api, cart_token, body, content_type):
    response = api.post(f"/api/v1/carts/{cart_token}/lines/", body, content_type=content_type)

    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("body", ["[]", '"text"', "42", "null"])
def test_body_that_is_not_an_object(api, cart_token, body):
    response = api.post(f"/api/v1/carts/{cart_token}/lines/", body, content_type="application/json")

    assert_error(response, 400, "invalid_request")


def test_method_not_allowed_names_the_allowed_ones(api, db):
    response = api.put("/api/v1/products/", {}, format="json")

    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


def test_not_acceptable(api, db):
    response = api.get("/api/v1/categories/", HTTP_ACCEPT="text/html")

    assert_error(response, 406, "not_acceptable")


@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/v2/products/", "/api/", "/api/v1/x/y/"])
def test_unknown_api_path_is_a_json_404(api, db, path):
    assert_error(api.get(path), 404, "not_found")
    assert_error(api.post(path, {}, format="json"), 404, "not_found")


def test_api_path_without_trailing_slash_redirects_to_it(api, db):
    response = api.get("/api/v1/products")

    assert response.status_code == 301
    assert response["Location"] == "/api/v1/products/"


def test_unexpected_exception_is_a_500_in_the_error_shape(api, db, monkeypatch, caplog):
    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(views, "category_items", broken)

    response = api.get("/api/v1/categories/")

    assert_error(response, 500, "internal_error")
    assert "boom" not in response.content.decode()
    assert any(
        record.exc_info and record.exc_info[1].args == ("boom",) for record in caplog.records
    )


def test_throttled_carries_retry_after():
    response = api_exception_handler(exceptions.Throttled(wait=3), {})

    assert response.status_code == 429
    assert response.data["error"]["code"] == "throttled"
    assert response.data["error"]["details"] == {"retry_after": 3}
    assert response["Retry-After"] == "3"


def test_domain_error_uses_its_own_code_status_and_details():
    class Teapot(DomainError):
        code = "teapot"
        status = 418

    response = api_exception_handler(Teapot("I am a teapot.", spout=1), {})

    assert response.status_code == 418
    assert response.data == {
        "error": {"code": "teapot", "message": "I am a teapot.", "details": {"spout": 1}}
    }


def _all_domain_errors():
    for app in APPS:
        package = importlib.import_module(app)
        for module in pkgutil.walk_packages(package.__path__, f"{app}."):
            if ".migrations" not in module.name and ".management" not in module.name:
                importlib.import_module(module.name)
    pending, seen = [DomainError], set()
    while pending:
        cls = pending.pop()
        seen.add(cls)
        pending.extend(set(cls.__subclasses__()) - seen)
    return seen


def test_every_domain_error_code_is_documented(db):
    codes = {cls.code for cls in _all_domain_errors() if cls.__module__.split(".")[0] in APPS}

    assert codes - NOT_REACHABLE_FROM_THE_API - set(ERROR_CODES) == set()
