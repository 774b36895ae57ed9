"""Journeys through the store, one Locust user class each.

Every request name starts with its journey in brackets (`[browse] /p/[slug]/`), so the
runner reports p50/p95/p99 and errors per journey as well as in total. Outcomes a real
shopper meets (an item sold out, a declined card) are successes; a request the store
shed under load is its own outcome; a 5xx, an unexpected status or a timeout is an error
(see `outcomes.py`).

| class | journey | who |
|---|---|---|
| BrowseUser | browse | anonymous: home, categories (filtered, paged, sometimes deep), products |
| SearchUser | search | searches, then a product |
| ApiSearchUser | search | an app: search API screens, scrolled via `next` (lab) |
| CartUser | cart | add-to-cart form, cart, checkout page |
| BuyerUser | buy | real orders through the API, each with its own Idempotency-Key |
| FlashSaleUser | flash | the flash-sale crowd: one hot SKU, bought through the API |
| BackOfficeUser | backoffice | price and stock writes during the run (back-office API) |
| CartHoarderBot | bot | many carts holding hot SKUs, never checked out |
| CatalogApiUser | feed | a partner's catalog feed paging through the product API (lab shapes) |

In the campaign shapes, visitors arrive from a campaign: the first home, category or
product page of each visit carries `utm_*` and a click id of its own (`campaign.py`),
while the request keeps its page's stats name.

With PEAKSTORE_LOAD_SEED set, each user draws its choices from a generator seeded with it
and the user's number in its process, so two runs of one scenario (the failure-mode
lab's "mode on" and "mode off") ask for the same pages in the same order.

Every Locust user sends from one address, yet stands for one shopper per visit, as
real traffic comes from many: each visit names a client id of its own
(`identity.py`), and the store throttles and caps each as it would a real client. The
bot keeps one id for its whole life: it is one client, and meets the throttles.
"""

from __future__ import annotations

import functools
import os
import re
import uuid
from decimal import Decimal
from urllib.parse import urlencode

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment

from loadtests.assignment import host_for_next_user, user_rng
from loadtests.campaign import CampaignTraffic, campaign_for_shape
from loadtests.catalog import CatalogSnapshot, snapshot_load
from loadtests.identity import client_headers
from loadtests.outcomes import BOT_REFUSALS, EXPECTED_REFUSALS, expect, expect_or_refusal
from loadtests.shapes import SHAPE_ENV

BACKOFFICE_TOKEN_ENV = "PEAKSTORE_BACKOFFICE_TOKEN"
# The product page is cached for everyone, so its form has no CSRF token; the store
# checks the Origin header instead, which a browser sends with every form POST.
_ADD_TO_CART_FORM = re.compile(r'<form class="add-to-cart" method="post" action="/cart/add/">')
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

    def __init__(self, environment: Environment) -> None:
        # Before FastHttpUser builds its client on `self.host`.
        self.host = host_for_next_user(environment.host or self.host)
        super().__init__(environment)

    def on_start(self) -> None:
        self.rng = user_rng()
        self.catalog = catalog()
        campaign = campaign_for_shape(os.environ.get(SHAPE_ENV, ""))
        self.campaign = CampaignTraffic(campaign, self.rng) if campaign else None
        self.new_visitor()

    def new_visitor(self) -> None:
        """From here on, requests come from another shopper (another client)."""
        self.identity = client_headers(uuid.uuid4().hex)

    def page_url(self, path: str, *, landing: bool = False) -> str:
        """`path`, or its campaign URL when it opens a campaign visit (`campaign.py`)."""
        return self.campaign.url(path, landing=landing) if self.campaign else path

    def get_page(self, path: str, *, name: str, landing: bool = False) -> str:
        """GET a page that must answer 200; return its body ("" on failure).

        `landing`: a page a campaign visit may open on. `name` is the stats name whatever
        the URL, so campaign parameters and click ids never split the stats.
        """
        url = self.page_url(path, landing=landing)
        with self.client.get(
            url, name=name, headers=self.identity, catch_response=True
        ) as response:
            ok = expect(response, 200)
        return (response.text or "") if ok else ""


class BrowseUser(StoreUser):
    """Anonymous browsing: home, categories (some filtered or paged), product pages."""

    weight = 6

    @task(1)
    def home(self) -> None:
        self.get_page("/", name="[browse] /", landing=True)

    @task(3)
    def category(self) -> None:
        slug = self.catalog.categories.pick(self.rng).slug
        self.get_page(f"/c/{slug}/", name="[browse] /c/[slug]/", landing=True)

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
        self.get_page(f"/p/{slug}/", name="[browse] /p/[slug]/", landing=True)

    @task(1)
    def category_deep(self) -> None:
        """Page 4 or beyond of a long listing: what admission control sheds first."""
        category = self.catalog.categories.pick(self.rng)
        if category.pages < 4:
            return
        page = self.rng.randint(4, category.pages)
        self.get_page(f"/c/{category.slug}/?page={page}", name="[browse] /c/[slug]/?page=deep")


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


class ApiSearchUser(StoreUser):
    """A shop app's search and category screens, through the search API: a word typed, or
    a category opened, in stock only, then scrolled a few pages by following `next`.

    The API answers every request itself (no page cache in front of it), as an app's
    screens are personal to their scroll position. Only the lab shapes run it.
    """

    weight = 3
    journey = "search"

    @task
    def search(self) -> None:
        if self.rng.random() < 0.5:
            query = {"q": self.catalog.search_terms.pick(self.rng), "sort": "relevance"}
        else:
            query = {"category": self.catalog.categories.pick(self.rng).slug, "sort": "popular"}
        url: str | None = "/api/v1/search/?" + urlencode({**query, "in_stock": "true"})
        for _ in range(1 + self.rng.randint(0, 3)):
            if url is None:
                return
            with self.client.get(
                url,
                name="[search] /api/v1/search/",
                headers=self.identity,
                catch_response=True,
            ) as response:
                if not expect(response, 200):
                    return
                url = response.json()["next"]


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
            self.new_visitor()
            self.items_in_cart = 0
        product = self.catalog.buyable.pick(self.rng)
        url = self.page_url(f"/p/{product.slug}/", landing=True)
        with self.client.get(
            url, name="[cart] /p/[slug]/", headers=self.identity, catch_response=True
        ) as response:
            if response.status_code == 200 and not _ADD_TO_CART_FORM.search(response.text or ""):
                response.failure("the product page has no add-to-cart form")
                return
            if not expect(response, 200):
                return
        form = {"sku": self.rng.choice(product.skus), "quantity": "1"}
        with self.client.post(
            "/cart/add/",
            data=form,
            headers={**self.identity, "Origin": (self.host or "").rstrip("/")},
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


class ApiBuyer(StoreUser):
    """Buys through the API: a cart, its lines, then the order with an Idempotency-Key."""

    abstract = True
    journey = "buy"
    refusals = EXPECTED_REFUSALS

    def cart_create(self) -> str | None:
        with self.client.post(
            "/api/v1/carts/",
            json={},
            headers=self.identity,
            name=f"[{self.journey}] /api/v1/carts/",
            catch_response=True,
        ) as response:
            created = expect_or_refusal(response, 201, refusals=self.refusals)
            return response.json()["token"] if created else None

    def cart_add(self, token: str, sku: str) -> bool:
        with self.client.post(
            f"/api/v1/carts/{token}/lines/",
            json={"sku": sku, "quantity": 1},
            headers=self.identity,
            name=f"[{self.journey}] /api/v1/carts/[token]/lines/",
            catch_response=True,
        ) as response:
            return expect_or_refusal(response, 201, refusals=self.refusals)

    def order_place(self, token: str) -> None:
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
            headers={**self.identity, "Idempotency-Key": str(uuid.uuid4())},
            name=f"[{self.journey}] /api/v1/orders/",
            catch_response=True,
        ) as response:
            expect_or_refusal(response, 201, refusals=self.refusals)


class BuyerUser(ApiBuyer):
    """Completes real orders through the API, 1-2 Zipf-picked items each."""

    weight = 1

    @task
    def buy(self) -> None:
        self.new_visitor()
        token = self.cart_create()
        if token is None:
            return
        lines = 0
        for _ in range(self.rng.randint(1, 2)):
            product = self.catalog.buyable.pick(self.rng)
            lines += self.cart_add(token, self.rng.choice(product.skus))
        if lines:
            self.order_place(token)


class FlashSaleUser(ApiBuyer):
    """The flash-sale crowd: everyone wants the one hot SKU the moment it goes live.

    Joins only in a shape's sale phase. Once the sale stock is gone, adding it is an
    expected `insufficient_stock` refusal, never an error, and never an oversell.
    """

    weight = 8
    journey = "flash"
    wait_time = between(0.5, 2.0)

    @task
    def buy_the_hot_sku(self) -> None:
        hot = self.catalog.hot_product
        self.new_visitor()
        self.get_page(f"/p/{hot.slug}/", name="[flash] /p/[hot]/", landing=True)
        token = self.cart_create()
        if token is not None and self.cart_add(token, hot.skus[0]):
            self.order_place(token)


class BackOfficeUser(StoreUser):
    """A PIM/ERP connector: price and stock writes on hot SKUs while the store sells.

    Writes go through the back-office API (token from PEAKSTORE_BACKOFFICE_TOKEN), so the
    owners' services run, cache invalidation and stock locks included. One per run.
    """

    fixed_count = 1
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        super().on_start()
        self.headers = {"Authorization": f"Bearer {os.environ.get(BACKOFFICE_TOKEN_ENV, '')}"}

    @task(2)
    def price_update(self) -> None:
        sku = self.rng.choice(self.catalog.buyable.pick(self.rng).skus)
        amount = Decimal(self.rng.randint(500, 25_000)) / 100
        with self.client.put(
            f"/backoffice/v1/prices/{sku}",
            json={"amount": str(amount)},
            headers=self.headers,
            name="[backoffice] /backoffice/v1/prices/[sku]",
            catch_response=True,
        ) as response:
            expect(response, 200)

    @task(1)
    def restock(self) -> None:
        sku = self.rng.choice(self.catalog.buyable.pick(self.rng).skus)
        with self.client.post(
            f"/backoffice/v1/stock/{sku}",
            json={"add": self.rng.randint(1, 20), "reason": "load test: goods received"},
            headers=self.headers,
            name="[backoffice] /backoffice/v1/stock/[sku]",
            catch_response=True,
        ) as response:
            expect(response, 200)


class CartHoarderBot(ApiBuyer):
    """A bot filling many carts with hot SKUs and never checking out.

    It says what it is in its User-Agent, as well-behaved bots do, so admission control
    sheds it first. It is one client all its life: the throttles answer it 429 and its
    holds stop at its share of each SKU (`throttled` and `reservation_limit` are its
    expected refusals); its reservations expire on their own (inventory's TTL and
    maximum lifetime).
    """

    weight = 1
    journey = "bot"
    wait_time = between(0.1, 0.5)
    default_headers = {"User-Agent": "HoardBot/1.0 (+load test)"}
    refusals = BOT_REFUSALS

    def new_visitor(self) -> None:
        if not hasattr(self, "identity"):  # one identity for its whole life
            super().new_visitor()

    @task
    def hoard(self) -> None:
        token = self.cart_create()
        if token is None:
            return
        for _ in range(self.rng.randint(1, 3)):
            product = self.catalog.buyable.pick(self.rng)
            self.cart_add(token, self.rng.choice(product.skus))


class CatalogApiUser(StoreUser):
    """A partner's catalog feed (a price-comparison site, a mobile app) paging through the
    product API: the whole catalog, popular first, a random page at a time. Only the lab
    shapes run it; the everyday mix has no feed."""

    weight = 2
    journey = "feed"

    @task
    def product_page(self) -> None:
        # Pages the snapshot's products fill (the store's page size is 24): never past the end.
        page = self.rng.randint(1, max(1, len(self.catalog.products) // 24))
        sort = self.rng.choice(("popular", "newest", "name"))
        with self.client.get(
            f"/api/v1/products/?sort={sort}&page={page}",
            name="[feed] /api/v1/products/?page=",
            headers=self.identity,
            catch_response=True,
        ) as response:
            expect(response, 200)
