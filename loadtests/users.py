"""Journeys through the store, one Locust user class each.

Every request name starts with its journey in brackets (`[browse] /p/[slug]/`), so the
runner reports p50/p95/p99 and errors per journey as well as in total. Outcomes a real
shopper meets (an item sold out, a declined card) are successes; a 5xx, an unexpected
status or a timeout is an error.
"""

from __future__ import annotations

import functools
import random
import re
import uuid

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

from loadtests.catalog import CatalogSnapshot, snapshot_load
from loadtests.outcomes import expect, expect_or_refusal

_CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SHIPPING_ADDRESS = {
    "name": "Load Test",
    "line1": "1 Loopback Road",
    "city": "Localhost",
    "postal_code": "12345",
    "country": "DE",
}


@functools.cache
def catalog() -> CatalogSnapshot:
    """Load the snapshot once per Locust process."""
    return snapshot_load()


class StoreUser(FastHttpUser):
    abstract = True
    wait_time = between(0.2, 1.0)
    # Anything slower than this is an error: a store under campaign load must still answer.
    network_timeout = 10.0
    connection_timeout = 5.0

    def on_start(self) -> None:
        self.rng = random.Random()
        self.catalog = catalog()

    def get_page(self, path: str, *, name: str) -> str:
        """GET a page that must answer 200; return its body ("" on failure)."""
        with self.client.get(path, name=name, catch_response=True) as response:
            ok = expect(response, 200)
        return (response.text or "") if ok else ""


class BrowseUser(StoreUser):
    """Anonymous browsing: home, categories (some filtered or paged), product pages."""

    weight = 6

    @task(1)
    def home(self) -> None:
        self.get_page("/", name="[browse] /")

    @task(3)
    def category(self) -> None:
        slug = self.catalog.categories.pick(self.rng).slug
        self.get_page(f"/c/{slug}/", name="[browse] /c/[slug]/")

    @task(1)
    def category_filtered(self) -> None:
        category = self.catalog.categories.pick(self.rng)
        filters = ["sort=newest"]
        if category.brands:
            filters.append(f"brand={self.rng.choice(category.brands)}")
        if category.pages > 1:
            filters.append(f"page={self.rng.randint(2, min(category.pages, 5))}")
        query = self.rng.choice(filters)
        self.get_page(f"/c/{category.slug}/?{query}", name="[browse] /c/[slug]/?filter")

    @task(5)
    def product(self) -> None:
        slug = self.catalog.products.pick(self.rng).slug
        self.get_page(f"/p/{slug}/", name="[browse] /p/[slug]/")


class SearchUser(StoreUser):
    """Searches, then opens one of the popular products."""

    weight = 2

    @task
    def search(self) -> None:
        term = self.catalog.search_terms.pick(self.rng)
        self.get_page(f"/search/?q={term}", name="[search] /search/?q=")
        if self.rng.random() < 0.5:
            slug = self.catalog.products.pick(self.rng).slug
            self.get_page(f"/p/{slug}/", name="[search] /p/[slug]/")


class CartUser(StoreUser):
    """Adds products to a cart through the HTML form, looks at the cart and the checkout."""

    weight = 2
    # A new visitor (new session, empty cart) every few items, as carts are in real traffic.
    items_per_visit = 5

    def on_start(self) -> None:
        super().on_start()
        self.items_in_cart = 0

    @task
    def add_to_cart(self) -> None:
        if self.items_in_cart >= self.items_per_visit:
            self.client.cookiejar.clear()
            self.items_in_cart = 0
        product = self.catalog.buyable.pick(self.rng)
        with self.client.get(
            f"/p/{product.slug}/", name="[cart] /p/[slug]/", catch_response=True
        ) as response:
            token = _CSRF_TOKEN.search(response.text or "")
            if response.status_code == 200 and token is None:
                response.failure("the product page has no add-to-cart form")
                return
            if not expect(response, 200):
                return
        form = {
            "csrfmiddlewaretoken": token.group(1),
            "sku": self.rng.choice(product.skus),
            "quantity": "1",
        }
        with self.client.post(
            "/cart/add/",
            data=form,
            name="[cart] /cart/add/",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            # The form always redirects to the cart; a refusal (sold out) is a message there.
            location = response.headers.get("Location", "")
            if not expect(response, 302, 303):
                return
            if not location.rstrip("/").endswith("/cart"):
                response.failure(f"redirected to {location!r}, expected /cart/")
                return
        self.items_in_cart += 1
        self.get_page("/cart/", name="[cart] /cart/")
        if self.rng.random() < 0.25:
            self.get_page("/checkout/", name="[cart] /checkout/")


class BuyerUser(StoreUser):
    """Completes real orders through the API, each with its own Idempotency-Key."""

    weight = 1

    @task
    def buy(self) -> None:
        with self.client.post(
            "/api/v1/carts/", json={}, name="[buy] /api/v1/carts/", catch_response=True
        ) as response:
            if not expect(response, 201):
                return
            token = response.json()["token"]
        lines = 0
        for _ in range(self.rng.randint(1, 2)):
            product = self.catalog.buyable.pick(self.rng)
            with self.client.post(
                f"/api/v1/carts/{token}/lines/",
                json={"sku": self.rng.choice(product.skus), "quantity": 1},
                name="[buy] /api/v1/carts/[token]/lines/",
                catch_response=True,
            ) as response:
                lines += expect_or_refusal(response, 201)
        if not lines:
            return
        order = {
            "cart": token,
            "email": f"buyer-{uuid.uuid4().hex[:12]}@example.com",
            "shipping_address": SHIPPING_ADDRESS,
            "shipping_method": "standard",
            "payment_token": "tok_ok",
        }
        with self.client.post(
            "/api/v1/orders/",
            json=order,
            headers={"Idempotency-Key": str(uuid.uuid4())},
            name="[buy] /api/v1/orders/",
            catch_response=True,
        ) as response:
            expect_or_refusal(response, 201)
