"""/ops/ on a phone, a laptop and a wall screen: it fits, nothing escapes its panel, axe passes.

The dashboard is drawn from a busy store's readings (`tests/storefront/ops_readings.py`:
every route, dependency and panel full, long SQL fingerprints), so the widest content
it can show is what is measured. A wide table may scroll inside its panel, in a region
the keyboard can reach; nothing else may stick out of a panel or be clipped.
"""

import pytest

from storefront.ops import views
from storefront.settings.environment import BASE_DIR
from tests.browser.conftest import SCREENSHOTS, axe_violations, document_overflow
from tests.storefront.ops_readings import busy_ring

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (390, 1280, 1920)
# `pytest tests/browser/test_ops_layout.py --ops-screenshots` refreshes the README's.
DOCS_SCREENSHOTS = BASE_DIR / "docs" / "screenshots"

# Per panel: what sticks out of it or is clipped. A scroll region's own content may be
# wider than the region (that is what it is for); the region itself must fit.
ESCAPES = """
() => {
  const found = [];
  const name = (e) => e.tagName.toLowerCase() + (e.className && e.className.baseVal === undefined
    ? "." + String(e.className).trim().split(/\\s+/).join(".") : "");
  for (const panel of document.querySelectorAll(".panel")) {
    const title = panel.querySelector("h2").textContent;
    const box = panel.getBoundingClientRect();
    if (panel.scrollWidth > panel.clientWidth + 1) found.push(`${title}: panel scrolls`);
    for (const element of panel.querySelectorAll("*")) {
      if (element.closest(".scroll") && !element.classList.contains("scroll")) continue;
      const rect = element.getBoundingClientRect();
      if (rect.width === 0 || rect.height === 0) continue;  // visually hidden text
      if (rect.left < box.left - 1 || rect.right > box.right + 1)
        found.push(`${title}: ${name(element)} spans ${rect.left}-${rect.right} ` +
                   `outside ${box.left}-${box.right}`);
      const style = getComputedStyle(element);
      const clips = style.overflowX === "hidden" || style.overflowX === "clip";
      if (clips && element.scrollWidth > element.clientWidth + 1)
        found.push(`${title}: ${name(element)} clips its content`);
    }
  }
  for (const region of document.querySelectorAll(".scroll")) {
    if (region.tabIndex !== 0 || !region.getAttribute("aria-label"))
      found.push(`${name(region)} scrolls but is not a labelled, focusable region`);
  }
  return found;
}
"""


@pytest.fixture
def busy_dashboard(monkeypatch) -> None:
    """/ops/ shows the busy store's readings instead of this process's metrics."""
    ring, now = busy_ring()
    monkeypatch.setattr(views, "reading_take", lambda: now)
    monkeypatch.setattr(views, "ring_update", lambda reading: ring)


@pytest.fixture
def staff_session(client, admin_user) -> str:
    client.force_login(admin_user)
    return client.cookies["sessionid"].value


@pytest.mark.parametrize("width", WIDTHS, ids=[f"{width}px" for width in WIDTHS])
def test_ops_fits_every_screen_and_passes_axe(
    live_server, chromium, busy_dashboard, staff_session, width, request
):
    context = chromium.new_context(viewport={"width": width, "height": 1000})
    context.add_cookies([{"name": "sessionid", "value": staff_session, "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/ops/")
    folder = DOCS_SCREENSHOTS if request.config.getoption("--ops-screenshots") else SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"ops-{width}.png"), full_page=True)

    assert page.locator(".panel").count() >= 8
    assert document_overflow(page) == 0
    assert page.evaluate(ESCAPES) == []
    assert axe_violations(page) == []
    context.close()
