"""Browser tests: Playwright driving Debian's Chromium against the running product.

The processes are the end-to-end stack (tests/e2e/stack.py). Every page a test
visits is kept as a screenshot in test-artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import Page, sync_playwright

from tests.browser.admin_pages import ADMIN, SCREENSHOTS, Camera
from tests.e2e.stack import product_stack, report_child_logs, stack, stripe_connection

__all__ = ["product_stack", "stack", "stripe_connection"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def page(stack, monkeypatch) -> Iterator[Page]:
    """A fresh Chromium page; Playwright started and stopped around each test."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (never download one)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls of
    # the test are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1600, "height": 900})
        context.set_default_timeout(15_000)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()
            # While Playwright's loop runs, the ORM used connections of their own
            # (asgiref locals follow the loop's context): close them, or they
            # outlive the test and block dropping the PostgreSQL test database.
            connections.close_all()


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
