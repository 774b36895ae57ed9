"""The add-to-cart form sits on cached pages, so it carries no CSRF token; the store
accepts it only from its own pages (Origin, or Referer when a browser omits Origin)."""

import pytest
from django.test import Client


@pytest.fixture
def browser():
    """A client that enforces CSRF protection as a real browser session would meet it."""
    return Client(enforce_csrf_checks=True)


def test_the_product_page_form_has_no_token(client, product):
    page = client.get("/p/trail-runner/").content.decode()

    assert 'action="/cart/add/"' in page
    assert "csrfmiddlewaretoken" not in page


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "http://testserver"}, {"Referer": "http://testserver/p/trail-runner/"}],
)
def test_a_post_from_the_stores_own_page_is_accepted(browser, sku, headers):
    response = browser.post("/cart/add/", {"sku": sku, "quantity": 1}, headers=headers)

    assert response.status_code == 303
    assert response["Location"] == "/cart/"


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/p/trail-runner/"},
        {"Origin": "https://evil.example", "Referer": "http://testserver/p/trail-runner/"},
        {},
    ],
)
def test_a_cross_site_or_anonymous_post_is_refused(browser, sku, headers):
    response = browser.post("/cart/add/", {"sku": sku, "quantity": 1}, headers=headers)

    assert response.status_code == 403
    assert not response.cookies


def test_other_cart_forms_still_need_their_token(browser, sku):
    response = browser.post(
        "/cart/coupon/", {"code": "SAVE10"}, headers={"Origin": "http://testserver"}
    )

    assert response.status_code == 403
