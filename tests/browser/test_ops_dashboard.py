"""Staff watch /ops/ in headless Chromium while shoppers browse; a screenshot is kept.

The store runs in pytest-django's `live_server`; a thread plays traffic against it while
the page refreshes itself from /ops/data.json.
"""

import threading
from collections.abc import Iterator
from contextlib import suppress

import pytest
from playwright.sync_api import expect

from devstack.processes import loopback_open
from tests.browser.conftest import SCREENSHOTS
from tests.factories import CategoryFactory, stocked_product

pytestmark = pytest.mark.browser


@pytest.fixture
def traffic(live_server) -> Iterator[None]:
    """Shoppers browsing until the test ends: product pages, search, a 404."""
    category = CategoryFactory(name="Outdoor", slug="outdoor")
    stocked_product(category=category, name="Trail Runner", slug="trail-runner")
    stop = threading.Event()
    paths = ["/p/trail-runner/", "/c/outdoor/", "/search/?q=trail", "/no-such-page/"]

    def browse() -> None:
        index = 0
        while not stop.is_set():
            # The 404 raises; it is traffic all the same.
            with suppress(OSError):
                loopback_open(live_server.url + paths[index % len(paths)], timeout=5).read()
            index += 1

    thread = threading.Thread(target=browse, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=10)


def test_ops_dashboard_shows_live_routes_during_traffic(
    live_server, traffic, admin_user, client, chromium
):
    client.force_login(admin_user)
    session = client.cookies["sessionid"].value

    context = chromium.new_context(viewport={"width": 1600, "height": 1000})
    context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/ops/")
    expect(page.get_by_role("heading", name="Routes against their SLO (p95)")).to_be_visible()
    # The script swaps in fresh panels: the "updated" time moves on.
    first = page.locator("#ops-updated").get_attribute("datetime")
    expect(page.locator("#ops-updated")).not_to_have_attribute("datetime", first, timeout=15_000)
    expect(page.locator("table.routes")).to_contain_text("pages:product")
    expect(page.locator("table.routes")).to_contain_text("unmatched")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "ops-dashboard.png"), full_page=True)
    context.close()
