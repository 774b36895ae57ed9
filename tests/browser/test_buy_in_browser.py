"""A shopper buys a product through the HTML pages in headless Chromium.

Runs against pytest-django's `live_server` (the store in a thread of this process), with
Debian's Chromium driven by Playwright's sync API (`tests/browser/conftest.py`).
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.factories import CategoryFactory, stocked_product

pytestmark = pytest.mark.browser


def _fill(page, name: str, value: str) -> None:
    """Fill a text input, or pick `value` (else the first real option) in a select."""
    field = page.locator(f"[name={name}]")
    if field.evaluate("element => element.tagName") == "SELECT":
        options = field.locator("option").evaluate_all("options => options.map(o => o.value)")
        field.select_option(value if value in options else next(o for o in options if o))
    else:
        field.fill(value)


@pytest.mark.django_db(transaction=True)
def test_shopper_buys_a_product_through_the_pages(live_server, chromium):
    # given a product in stock
    category = CategoryFactory(name="Outdoor", slug="outdoor")
    stocked_product(category=category, name="Trail Runner", slug="trail-runner", stock=5)
    page = chromium.new_page()
    page.set_default_timeout(15_000)

    # when the shopper adds it to the cart, checks out and places the order
    page.goto(f"{live_server.url}/p/trail-runner/")
    page.get_by_role("button", name="Add to cart", exact=True).click()
    page.wait_for_url(re.compile(r"/cart/$"))
    checkout = page.get_by_role("link", name="Checkout", exact=True).or_(
        page.get_by_role("button", name="Checkout", exact=True)
    )
    checkout.first.click()
    page.wait_for_url(re.compile(r"/checkout/$"))
    for name, value in {
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "line1": "12 St James's Square",
        "city": "London",
        "postal_code": "SW1Y 4JH",
        "country": "GB",
    }.items():
        _fill(page, name, value)
    page.check("input[name=shipping_method][value=standard]")
    page.check("input[name=payment_token][value=tok_ok]")
    page.get_by_role("button", name="Place order", exact=True).click()
    page.wait_for_url(re.compile(r"/orders/[^/]+/"))

    # then the order page says it is paid
    expect(page.locator("[data-testid=order-status]")).to_have_text(re.compile(r"\bpaid\b", re.I))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "order-paid.png"), full_page=True)
    page.close()
