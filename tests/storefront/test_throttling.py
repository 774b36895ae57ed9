"""Throttles per client on cart creation, line changes and coupon attempts: the API's
`throttled` error and the pages' 429, one counter for both, per client, failing open."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from devstack.processes import free_port
from storefront.throttling import throttle_wait
from tests.storefront.api.conftest import assert_error
from toolkit.clients import LOADGEN_HEADER, loadgen_signature

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _small_rates(settings):
    settings.STOREFRONT_THROTTLE_RATES = {
        "cart_create": "2/m",
        "cart_lines": "3/m",
        "coupon_attempt": "2/m",
    }
    settings.TRUSTED_PROXIES = ()


def api_from(address: str) -> APIClient:
    return APIClient(REMOTE_ADDR=address)


def assert_throttled(response) -> int:
    error = assert_error(response, 429, "throttled")
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 60
    assert error["details"] == {"retry_after": wait}
    return wait


def test_cart_creation_is_throttled_per_client(db):
    shopper, other = api_from("203.0.113.1"), api_from("203.0.113.2")
    for _ in range(2):
        assert shopper.post("/api/v1/carts/").status_code == 201

    assert_throttled(shopper.post("/api/v1/carts/"))
    assert other.post("/api/v1/carts/").status_code == 201


def test_a_forged_forwarded_for_from_loopback_is_the_same_client(db):
    script = APIClient(REMOTE_ADDR="127.0.0.1")
    for n in range(2):
        script.post("/api/v1/carts/", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")

    assert_throttled(script.post("/api/v1/carts/", HTTP_X_FORWARDED_FOR="198.51.100.99"))


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_count(db, settings):
    settings.TRUSTED_PROXIES = ("10.0.0.0/8",)
    proxy = APIClient(REMOTE_ADDR="10.0.0.2")
    for _ in range(2):
        proxy.post("/api/v1/carts/", HTTP_X_FORWARDED_FOR="198.51.100.1")

    assert_throttled(proxy.post("/api/v1/carts/", HTTP_X_FORWARDED_FOR="198.51.100.1"))
    assert proxy.post("/api/v1/carts/", HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 201


def test_line_adds_and_quantity_changes_share_a_throttle_removals_do_not(db, sku):
    api = api_from("203.0.113.1")
    token = api.post("/api/v1/carts/").json()["token"]
    line = api.post(f"/api/v1/carts/{token}/lines/", {"sku": sku, "quantity": 1}, format="json")
    line_id = line.json()["lines"][0]["id"]
    path = f"/api/v1/carts/{token}/lines/{line_id}/"
    assert api.patch(path, {"quantity": 2}, format="json").status_code == 200
    assert api.patch(path, {"quantity": 3}, format="json").status_code == 200

    assert_throttled(api.patch(path, {"quantity": 4}, format="json"))
    assert_throttled(
        api.post(f"/api/v1/carts/{token}/lines/", {"sku": sku, "quantity": 1}, format="json")
    )
    assert api.delete(path).status_code == 200


def test_coupon_attempts_are_throttled(db):
    api = api_from("203.0.113.1")
    token = api.post("/api/v1/carts/").json()["token"]
    for guess in ("AAAA", "BBBB"):
        response = api.post(f"/api/v1/carts/{token}/coupon/", {"code": guess}, format="json")
        assert_error(response, 400, "invalid_coupon")

    assert_throttled(api.post(f"/api/v1/carts/{token}/coupon/", {"code": "CCCC"}, format="json"))


def test_the_cart_page_answers_a_throttled_client_with_a_429_page(db, sku):
    browser = Client(REMOTE_ADDR="203.0.113.1")
    for _ in range(3):
        assert browser.post("/cart/add/", {"sku": sku, "quantity": 1}).status_code == 303

    page = browser.post("/cart/add/", {"sku": sku, "quantity": 1})

    assert page.status_code == 429
    assert int(page["Retry-After"]) >= 1
    assert "no-store" in page["Cache-Control"]
    assert b"Too many requests" in page.content


def test_pages_and_api_count_against_the_same_throttle(db):
    browser = Client(REMOTE_ADDR="203.0.113.1")
    api = api_from("203.0.113.1")
    api.post("/api/v1/carts/")
    api.post("/api/v1/carts/")

    # the page would start a cart for this visitor: cart creation is spent
    page = browser.post("/cart/add/", {"sku": "ANY-SKU", "quantity": 1})

    assert page.status_code == 429


def test_each_page_form_is_throttled(db):
    browser = Client(REMOTE_ADDR="203.0.113.1")
    for path, data, scope_size in (
        ("/cart/coupon/", {"code": "GUESS"}, 2),
        ("/cart/lines/1/", {"quantity": 2}, 3),
    ):
        statuses = [browser.post(path, data).status_code for _ in range(scope_size + 1)]
        assert statuses == [303] * scope_size + [429], path


def test_throttles_fail_open_when_the_cache_is_down(db, settings):
    # The services profile's default alias: errors swallowed, every call a miss.
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.25, "IGNORE_EXCEPTIONS": True},
        },
    }
    api = api_from("203.0.113.1")

    statuses = {api.post("/api/v1/carts/").status_code for _ in range(5)}

    assert statuses == {201}


def test_a_cache_backend_that_raises_lets_the_request_through(settings):
    settings.CACHES = {
        **settings.CACHES,
        "throttle-test": {"BACKEND": "tests.toolkit.failing_cache.FailingCache"},
    }
    settings.RATELIMIT_USE_CACHE = "throttle-test"
    request = RequestFactory().post("/api/v1/carts/", REMOTE_ADDR="203.0.113.1")

    assert [throttle_wait(request, "cart_create") for _ in range(5)] == [None] * 5


def test_each_simulated_shopper_of_the_load_generator_is_its_own_client(db, settings):
    settings.PEAKSTORE_LOADGEN_KEY = "run-key"
    generator = APIClient(REMOTE_ADDR="127.0.0.1")
    header = "HTTP_" + LOADGEN_HEADER.upper().replace("-", "_")

    def as_visit(n: int) -> dict[str, str]:
        return {header: f"visit-{n}.{loadgen_signature(f'visit-{n}', 'run-key')}"}

    for n in range(5):
        assert generator.post("/api/v1/carts/", **as_visit(n)).status_code == 201
    for _ in range(2):
        generator.post("/api/v1/carts/", **as_visit(99))
    assert_throttled(generator.post("/api/v1/carts/", **as_visit(99)))


def test_production_never_honours_the_load_generator_key(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
        "DJANGO_SETTINGS_MODULE": "storefront.settings.production",
        "DJANGO_SECRET_KEY": "x" * 60,
        "DJANGO_ALLOWED_HOSTS": "shop.example",
        "PEAKSTORE_OPS_TOKEN": "ops-token",
        "PEAKSTORE_VAR_DIR": str(tmp_path),
        "PEAKSTORE_LOADGEN_KEY": "leaked-into-production",
    }
    code = "from django.conf import settings; print(repr(settings.PEAKSTORE_LOADGEN_KEY))"
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "''"
