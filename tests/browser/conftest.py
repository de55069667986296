"""Browser tests: Playwright driving Debian's Chromium against the running product.

The processes are the end-to-end stack (tests/e2e/stack.py). Every page a test
visits is kept as a screenshot in test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.browser.admin_pages import ADMIN, SCREENSHOTS, Camera
from tests.e2e.stack import product_stack, report_child_logs, stack, stripe_connection

__all__ = ["product_stack", "stack", "stripe_connection"]

CHROMIUM = "/usr/bin/chromium"
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="package")
def chromium() -> Iterator[Launcher]:
    """Chromium under Playwright, started once for the folder; each test gets its own
    context (cookies, storage, cache), so tests share nothing but the process.

    Playwright's sync API runs an event loop in this thread as long as it is started;
    the ORM calls of the tests, their fixtures and pytest-django's flushes are still
    plain synchronous code, so Django is told to allow them meanwhile.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (never download one)")
    before = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            browsers = Launcher(playwright)
            try:
                yield browsers
            finally:
                browsers.close()
                # While Playwright's loop runs, the ORM uses connections of their own
                # (asgiref locals follow the loop's context), the last flush's too:
                # close them before it stops, or they outlive the tests and block
                # dropping the PostgreSQL test database.
                connections.close_all()
    finally:
        if before is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = before


class Launcher:
    """The folder's Chromium, launched again if a test left it gone (crashed, closed)."""

    def __init__(self, playwright: Playwright) -> None:
        self.playwright = playwright
        self.browser: Browser | None = None

    def running(self) -> Browser:
        if self.browser is None or not self.browser.is_connected():
            self.browser = self.playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
        return self.browser

    def close(self) -> None:
        if self.browser is not None and self.browser.is_connected():
            self.browser.close()


@pytest.fixture
def page(stack, chromium: Launcher) -> Iterator[Page]:
    """A fresh page in a fresh browser context of the folder's Chromium."""
    context = chromium.running().new_context(viewport={"width": 1600, "height": 900})
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()
        connections.close_all()  # see chromium(): the test's ORM connections


@pytest.fixture
def camera(page: Page, request) -> Camera:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return Camera(page, request.node.name.removeprefix("test_"))


@pytest.fixture
def admin_user(django_user_model, stack):
    username, password = ADMIN
    return django_user_model.objects.create_superuser(username, "ops@example.com", password)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report_child_logs(item, outcome.get_result())
