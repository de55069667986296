"""Steps a staff member takes in admin, shared by the browser tests."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.support.processes import BASE_DIR

SCREENSHOTS = BASE_DIR / "test-artifacts" / "screenshots"
ADMIN = ("browser-admin", "a-long-Browser-pass-42")
TAKEN: list[Path] = []  # this session's screenshots


class Camera:
    """Saves numbered full-page screenshots named after the test and the page."""

    def __init__(self, page: Page, prefix: str) -> None:
        self.page = page
        self.prefix = prefix
        self.count = 0

    def shot(self, what: str) -> Path:
        self.count += 1
        path = SCREENSHOTS / f"{self.prefix}-{self.count:02d}-{what}.png"
        self.page.screenshot(path=str(path), full_page=True)
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
    """On a workflow's page: replace the first step's input mapping, save, stay."""
    page.fill("textarea[name='steps-0-input_mapping']", json.dumps(mapping))
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
