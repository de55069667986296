"""The workflow page's "Alerts when a run fails" section in Chromium at 1280x800.

A bad address is an error on the field; good ones save, one per line; light and dark
themes. Every page: no horizontal overflow, no console error, nothing from outside
127.0.0.1.
"""

import pytest
from playwright.sync_api import expect

from tests.browser.admin_pages import ADMIN, SCREENSHOTS, TAKEN, PageCheck, sign_in
from tests.e2e.stack import unique
from tests.support.factories import make_workflow
from workflows.models import Workflow

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def check(page, camera) -> PageCheck:
    page.set_viewport_size({"width": 1280, "height": 800})
    return PageCheck(page, camera)


def part(page, camera, what: str) -> None:
    path = SCREENSHOTS / f"{camera.prefix}-part-{what}.png"
    page.locator("fieldset:has(#id_alert_emails)").screenshot(path=str(path))
    TAKEN.append(path)


def test_the_alert_recipients_are_edited_on_the_workflow_page(
    page, check, camera, stack, admin_user, stripe_connection
):
    workflow = make_workflow(stripe_connection, "customer.created", [], name=unique("alerts"))
    url = f"{stack.web_url}/admin/workflows/workflow/{workflow.pk}/change/"
    sign_in(page, stack.web_url, *ADMIN)
    check.visit(url, "workflow-alerts")
    expect(page.locator("fieldset:has(#id_alert_emails) h2")).to_have_text(
        "Alerts when a run fails"
    )
    expect(page.locator("#id_alert_chat")).to_be_checked()

    page.fill("#id_alert_emails", "ops@example.com\nnot an address")
    page.click("input[name='_continue']")
    expect(page.locator(".errorlist")).to_contain_text("Not an email address: 'not an address'.")
    check.check("workflow-alerts-error")
    part(page, camera, "error")

    page.fill("#id_alert_emails", "ops@example.com, billing@example.com")
    page.uncheck("#id_alert_chat")
    page.click("input[name='_continue']")
    expect(page.locator("ul.messagelist")).to_contain_text("was changed successfully")
    expect(page.locator("#id_alert_emails")).to_have_value("ops@example.com\nbilling@example.com")
    check.check("workflow-alerts-saved")
    part(page, camera, "saved")
    saved = Workflow.objects.get(pk=workflow.pk)
    assert (saved.alert_emails, saved.alert_chat) == (
        ["ops@example.com", "billing@example.com"],
        False,
    )

    page.emulate_media(color_scheme="dark")  # admin's "auto" theme follows it
    check.visit(url, "workflow-alerts-dark")
    part(page, camera, "dark")
