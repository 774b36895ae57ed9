"""What the browser tests share: Debian's Chromium under Playwright, axe-core, layout checks.

Playwright cannot download its own browser here, so the tests use /usr/bin/chromium and
skip outside CI when it is missing (with the reason); in CI they fail instead.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

from storefront.settings.environment import BASE_DIR
from tests.conftest import IN_CI

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
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def _allow_sync_django_beside_playwright(monkeypatch) -> None:
    """Playwright's sync API runs an event loop in the test's thread; no Django code runs
    inside it, so Django's check against ORM calls from that thread guards nothing."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def chromium(_allow_sync_django_beside_playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: apt-get install chromium"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def axe_violations(page: Page) -> list[str]:
    """axe-core's violations on the page as it is now: every rule axe runs by default
    (WCAG 2 A and AA, best practices), one line per rule with its first offending node."""
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} "
        f"at {violation['nodes'][0]['target']} and {len(violation['nodes']) - 1} more"
        for violation in results.response["violations"]
    ]


def document_overflow(page: Page) -> int:
    """How many CSS pixels the document is wider than the viewport (0 when it fits)."""
    return int(
        page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )
