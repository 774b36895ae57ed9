"""Staff watch /ops/ in headless Chromium while shoppers browse; a screenshot is kept.

The store runs in pytest-django's `live_server`; a thread plays traffic against it while
the page refreshes itself from /ops/data.json.
"""

import threading
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from devstack.processes import loopback_open
from storefront.settings.environment import BASE_DIR
from tests.conftest import IN_CI
from tests.factories import CategoryFactory, stocked_product

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOT = BASE_DIR / "reports" / "browser" / "ops-dashboard.png"


@pytest.fixture(autouse=True)
def _allow_sync_django_beside_playwright(monkeypatch) -> None:
    # Playwright's sync API runs an event loop in this thread; no Django code runs in it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


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


def test_ops_dashboard_shows_live_routes_during_traffic(live_server, traffic, admin_user, client):
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is missing")
    client.force_login(admin_user)
    session = client.cookies["sessionid"].value

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1600, "height": 1000})
            context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
            page = context.new_page()
            page.goto(f"{live_server.url}/ops/")
            expect(
                page.get_by_role("heading", name="Routes against their SLO (p95)")
            ).to_be_visible()
            # The script swaps in fresh panels: the "updated" time moves on.
            first = page.locator("#ops-updated").get_attribute("datetime")
            expect(page.locator("#ops-updated")).not_to_have_attribute(
                "datetime", first, timeout=15_000
            )
            expect(page.locator("table.routes")).to_contain_text("pages:product")
            expect(page.locator("table.routes")).to_contain_text("unmatched")
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
