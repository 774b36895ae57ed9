"""A shopper buys a product through the HTML pages in headless Chromium.

Runs against pytest-django's `live_server` (the store in a thread of this process), with
Debian's Chromium driven by Playwright's sync API. Playwright cannot download its own
browser here, so the test uses /usr/bin/chromium and skips outside CI when it is missing.
"""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from storefront.settings.environment import BASE_DIR
from tests.conftest import IN_CI
from tests.factories import CategoryFactory, stocked_product

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
# The flags a closed network needs: no background fetches, no QUIC, no sandbox as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = BASE_DIR / "reports" / "browser"


@pytest.fixture(scope="module", autouse=True)
def _allow_sync_django_beside_playwright() -> Iterator[None]:
    """Let Django run synchronous ORM code while Playwright's event loop is set.

    Playwright's sync API runs an asyncio event loop in the test's thread. Django sees a
    running loop there and refuses ORM calls from that thread (SynchronousOnlyOperation),
    which would break the database fixtures' set-up and flush. Nothing here runs Django
    code inside a coroutine, so the check guards nothing; it is lifted for this module only.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: apt-get install chromium"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


def _fill(page, name: str, value: str) -> None:
    """Fill a text input, or pick `value` (else the first real option) in a select."""
    field = page.locator(f"[name={name}]")
    if field.evaluate("element => element.tagName") == "SELECT":
        options = field.locator("option").evaluate_all("options => options.map(o => o.value)")
        field.select_option(value if value in options else next(o for o in options if o))
    else:
        field.fill(value)


@pytest.mark.django_db(transaction=True)
def test_shopper_buys_a_product_through_the_pages(live_server, browser):
    # given a product in stock
    category = CategoryFactory(name="Outdoor", slug="outdoor")
    stocked_product(category=category, name="Trail Runner", slug="trail-runner", stock=5)
    page = browser.new_page()
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
