"""Helpers for driving the HTML pages the way a browser does: forms, cookies, redirects."""

import re

import pytest
from django.test import Client

CHECKOUT_FIELDS = {
    "email": "ada@example.com",
    "name": "Ada Lovelace",
    "line1": "1 Analytical Way",
    "line2": "",
    "city": "London",
    "postal_code": "N1 7AA",
    "country": "gb",
    "shipping_method": "standard",
    "payment_token": "tok_ok",
}


def add_to_cart(client: Client, sku: str, quantity: object = 1):
    return client.post("/cart/add/", {"sku": sku, "quantity": quantity})


def idempotency_key(html: str) -> str:
    """Read the hidden key from a rendered checkout form, as the browser would send it."""
    match = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    assert match, "the checkout form carries no idempotency key"
    return match.group(1)


def checkout_post(client: Client, **overrides: str):
    """Open the checkout page, fill the form, submit it."""
    page = client.get("/checkout/")
    assert page.status_code == 200
    data = {**CHECKOUT_FIELDS, "idempotency_key": idempotency_key(page.content.decode())}
    return client.post("/checkout/", {**data, **overrides})


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def shopper(client, sku):
    """A browser with one unit of `sku` in its cart, having seen the cart page."""
    response = client.post("/cart/add/", {"sku": sku, "quantity": 1}, follow=True)
    assert messages_of(response) == ["Added to your cart."]
    return client
