"""Credentials of HTTP request steps in admin at 1280x800: add one in the form, see it in the
list and on its page with its secret shown as a mask only, in the light and dark themes."""

import pytest
from playwright.sync_api import expect

from connections.credentials import Credential
from tests.browser.admin_pages import ADMIN, PageCheck, sign_in
from tests.e2e.stack import unique

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]

SECRET = "crm_api_key_Browser_0123456789"
SIGNING = "signing_Browser_9876543210"


@pytest.fixture
def check(page, camera) -> PageCheck:
    page.set_viewport_size({"width": 1280, "height": 800})
    return PageCheck(page, camera)


def test_credential_pages_at_1280(page, check, stack, admin_user):
    base = stack.web_url
    name = unique("crm").replace(" ", "-")
    Credential.objects.create(
        name=unique("slack-alerts").replace(" ", "-"),
        kind=Credential.Kind.BEARER,
        secret="xoxb-other-secret-0000000000",
        allowed_hosts="hooks.slack.com",
        description="Incoming webhook of the #billing channel",
    )
    sign_in(page, base, *ADMIN)

    check.visit(f"{base}/admin/connections/credential/add/", "credential-add")
    page.fill("#id_name", name)
    page.select_option("#id_kind", "api_key")
    page.fill("#id_header_name", "X-Api-Key")
    page.fill("#id_new_secret", SECRET)
    page.fill("#id_new_signing_secret", SIGNING)
    page.fill("#id_allowed_hosts", "crm.example.com\n*.crm.example.com:8443")
    page.fill("#id_description", "Our CRM's REST API")
    page.click("input[name='_save']")
    expect(page.locator("ul.messagelist")).to_contain_text("was added successfully")
    check.check("credential-list")
    expect(page.locator("#result_list")).to_contain_text("••••6789")
    assert SECRET not in page.content()

    credential = Credential.objects.get(name=name)
    assert (credential.secret, credential.signing_secret) == (SECRET, SIGNING)
    check.visit(f"{base}/admin/connections/credential/{credential.pk}/change/", "credential")
    expect(page.locator(".field-secret_hint")).to_contain_text("••••6789")
    assert page.locator("#id_new_secret").input_value() == ""
    assert SECRET not in page.content() and SIGNING not in page.content()

    page.emulate_media(color_scheme="dark")  # admin's "auto" theme follows it
    check.check("credential-dark")
    page.goto(f"{base}/admin/connections/credential/")
    check.check("credential-list-dark")
