"""Steps a staff member takes in admin, shared by the browser tests."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

from tests.support.processes import BASE_DIR

SCREENSHOTS = BASE_DIR / "test-artifacts" / "screenshots"
ADMIN = ("browser-admin", "a-long-Browser-pass-42")
TAKEN: list[Path] = []  # this session's screenshots
# A step's input editor; its row also holds the "Run only if" rules editor.
STEP_EDITOR = ".kf-editor[data-kf-editor='step']"


class Camera:
    """Saves numbered full-page screenshots named after the test and the page."""

    def __init__(self, page: Page, prefix: str) -> None:
        self.page = page
        self.prefix = prefix
        self.count = 0

    def shot(self, what: str, *, full_page: bool = True) -> Path:
        """The whole page, or only the viewport (a page tens of thousands of pixels tall)."""
        self.count += 1
        path = SCREENSHOTS / f"{self.prefix}-{self.count:02d}-{what}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        TAKEN.append(path)
        return path


def log_in(page: Page, base_url: str, camera: Camera) -> None:
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    camera.shot("login")
    page.fill("#id_username", ADMIN[0])
    page.fill("#id_password", ADMIN[1])
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text(ADMIN[0])
    camera.shot("admin-index")


def set_mapping(page: Page, camera: Camera, mapping: dict, what: str) -> None:
    """On a workflow's page: replace the first step's input mapping, save, stay.

    The raw JSON is the step editor's "Advanced: JSON" view, opened first.
    """
    raw = page.locator("textarea[name='steps-0-input_mapping']")
    raw.evaluate("field => { field.closest('details').open = true; }")
    raw.fill(json.dumps(mapping))
    camera.shot(f"{what}-edited")
    page.click("input[name='_continue']")
    expect(page.locator("ul.messagelist")).to_contain_text("was changed successfully")
    camera.shot(f"{what}-saved")


def open_run(page: Page, base_url: str, camera: Camera, run_id: int, what: str) -> None:
    """The runs list, then one run's page with its step log."""
    page.goto(f"{base_url}/admin/workflows/run/")
    camera.shot(f"{what}-runs-list")
    page.click(f"#result_list a[href$='/run/{run_id}/change/']")
    expect(page.locator("h1")).to_be_visible()
    camera.shot(f"{what}-run-detail")


def sign_in(page: Page, base_url: str, username: str, password: str) -> None:
    """Admin's login form, as ``username``; fails unless admin greets them."""
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text(username)


class PageCheck:
    """Pages held to the definition of done: they fit the viewport's width, log no
    console error, load nothing from outside 127.0.0.1, and are kept as screenshots.

    Listens on ``page`` from creation on: console messages of type error, uncaught
    exceptions (``pageerror``) and every request the page makes.
    """

    def __init__(self, page: Page, camera: Camera) -> None:
        self.page = page
        self.camera = camera
        self.errors: list[str] = []
        self.outside: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("request", self._request)

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location.get('url')})")

    def _request(self, request) -> None:
        host = urlsplit(request.url).hostname
        if request.url.startswith(("http:", "https:", "ws:", "wss:")) and host != "127.0.0.1":
            self.outside.append(request.url)

    def visit(self, url: str, what: str, *, status: int = 200, full_page: bool = True) -> None:
        """Open ``url`` (it must answer ``status``), then ``check`` it."""
        response = self.page.goto(url)
        assert response is not None and response.status == status, (url, response)
        self.check(what, status=status, full_page=full_page)

    def check(self, what: str, *, status: int = 200, full_page: bool = True) -> None:
        """Assert the page as it is now; keep its screenshot as ``what``.

        A document answered with an error ``status`` on purpose (401, 429) makes
        Chromium log "Failed to load resource" for it: that one line is expected.
        """
        self.page.wait_for_load_state("networkidle")
        expected = f"the server responded with a status of {status}"
        width = self.page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        path = self.camera.shot(what, full_page=full_page)
        errors = [e for e in self.errors if status == 200 or expected not in e]
        self.errors.clear()
        assert width[0] <= width[1], f"{what}: horizontal overflow {width} ({path})"
        assert not errors, f"{what}: {errors} ({path})"
        assert not self.outside, f"{what}: requests left 127.0.0.1: {self.outside}"
