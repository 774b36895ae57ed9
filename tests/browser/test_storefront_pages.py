"""Every storefront page type, as a phone and a laptop show it, in headless Chromium.

axe-core (bundled by axe-playwright-python) runs every rule it runs by default (WCAG 2
A and AA, best practices) on home, category, product, search and cart: none may fail.
On a 390 px phone no page is wider than the screen, and on a listing the filters wait
behind one "Filter and sort" control, so the first product shows without scrolling.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, SCREENSHOTS, axe_violations, document_overflow
from tests.factories import BrandFactory, CategoryFactory, stocked_product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = {
    "home": "/",
    "category": "/c/outdoor/",
    "product": "/p/trail-runner-1/",
    "search": "/search/?q=trail",
    "cart": "/cart/",
}
LAPTOP = {"width": 1280, "height": 800}


@pytest.fixture
def catalog(db) -> None:
    """A category with subcategories and a long brand filter, as a seeded store has."""
    outdoor = CategoryFactory(name="Outdoor", slug="outdoor")
    for name in ("Tents", "Sleeping bags", "Backpacks"):
        CategoryFactory(name=name, slug=name.lower().replace(" ", "-"), parent=outdoor)
    for index in range(1, 25):
        brand = BrandFactory(name=f"Summit Works {index}", slug=f"summit-works-{index}")
        name = f"Trail Runner {index}"
        stocked_product(category=outdoor, brand=brand, name=name, slug=f"trail-runner-{index}")


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["390px", "1280px"])
def test_every_page_type_passes_axe_and_fits_the_screen(live_server, chromium, catalog, viewport):
    context = chromium.new_context(viewport=viewport)
    page = context.new_page()
    # The cart page shows a line: the product page's button puts it there.
    page.goto(f"{live_server.url}{PAGES['product']}")
    page.get_by_role("button", name="Add to cart", exact=True).click()
    page.wait_for_url(re.compile(r"/cart/$"))

    found = {}
    for name, path in PAGES.items():
        page.goto(f"{live_server.url}{path}")
        found[name] = {"axe": axe_violations(page), "overflow_px": document_overflow(page)}
    context.close()

    assert found == {name: {"axe": [], "overflow_px": 0} for name in PAGES}


@pytest.mark.parametrize("path", [PAGES["category"], PAGES["search"]])
def test_on_a_phone_the_first_products_come_before_the_filters(
    live_server, chromium, catalog, path
):
    context = chromium.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}{path}")

    # the first product card is within the first screen, the brands are folded away
    first_card = page.locator(".results .card").first.bounding_box()
    assert first_card is not None
    assert first_card["y"] < PHONE["height"] - 100, first_card
    brand = page.get_by_role("checkbox", name=re.compile(r"^Summit Works 1 \("))
    expect(brand).to_be_hidden()

    # and one control opens them, without JavaScript
    page.get_by_text("Filter and sort", exact=True).click()
    expect(brand).to_be_visible()
    expect(page.get_by_role("button", name="Apply")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"filters-open-{path.split('/')[1]}.png"))
    context.close()


def test_on_a_laptop_the_filters_are_open_beside_the_products(live_server, chromium, catalog):
    context = chromium.new_context(viewport=LAPTOP, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}{PAGES['category']}")

    expect(page.get_by_text("Filter and sort", exact=True)).to_be_hidden()
    expect(page.get_by_role("checkbox", name=re.compile(r"^Summit Works 1 \("))).to_be_visible()
    filters = page.locator("aside.filters").bounding_box()
    first_card = page.locator(".results .card").first.bounding_box()
    assert filters is not None
    assert first_card is not None
    assert filters["x"] + filters["width"] <= first_card["x"]
    context.close()
