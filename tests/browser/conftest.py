"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, the real service in demo mode.

Playwright never downloads a browser here: it launches /usr/bin/chromium
(override with NOTIFICATIONS_TEST_CHROMIUM).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright

from devkit.servers import ServiceProcess, running_service
from tests.browser.helpers import DESKTOP

CHROMIUM = os.environ.get("NOTIFICATIONS_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the browser tests.

    Package scope, not session: Playwright's sync API keeps an event loop
    registered as running while it is open, which would break every asyncio
    test collected after the browser tests.
    """
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (its own storage and BroadcastChannels) at desktop size."""
    ctx = browser.new_context(viewport=DESKTOP)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def demo(database_url: str) -> Iterator[ServiceProcess]:
    """`notifications serve --demo` on this test's own database (seeds alice, bob, carol, ...)."""
    with running_service(database_url, demo=True) as service:
        yield service
