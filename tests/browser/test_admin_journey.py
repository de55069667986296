"""A staff member connects localstripe, sets up a template workflow and watches it run."""

import pytest
from playwright.sync_api import expect

from connections.models import Connection
from tests.browser.admin_pages import log_in, open_run, set_mapping
from tests.e2e.stack import SECRET_KEY, finished_run, unique
from workflows.models import RunStatus, Workflow

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]
TEMPLATE = "Customer Updated -> Find Customer"


def test_staff_connect_stripe_activate_a_template_and_see_its_run(page, camera, stack, admin_user):
    base = stack.web_url
    log_in(page, base, camera)

    # A connection to localstripe, manual webhook mode with a pasted signing secret.
    name, secret = unique("Local Stripe"), f"whsec_{unique('browser')}"
    page.goto(f"{base}/admin/connections/connection/add/")
    page.fill("#id_name", name)
    page.fill("#id_new_key", SECRET_KEY)
    page.select_option("#id_webhook_mode", "manual")
    page.fill("#id_new_webhook_secret", secret)
    camera.shot("connection-form")
    page.click("input[name='_save']")
    expect(page.locator("ul.messagelist")).to_contain_text("was added successfully")
    expect(page.locator("#result_list")).to_contain_text("sk_test_...")
    camera.shot("connections-list")
    connection = Connection.objects.get(name=name)
    page.click(f"#result_list a:text-is('{name}')")
    expect(page.locator("body")).to_contain_text(connection.webhook_url)
    camera.shot("connection-detail")
    # What staff do in Stripe's dashboard, done in localstripe's.
    stack.localstripe.register_webhook(f"browser-{connection.pk}", connection.webhook_url, secret)

    # The popular automation, one field mapped, activated.
    page.goto(f"{base}/admin/workflows/workflow/")
    page.click("text=Popular automations")
    camera.shot("automations")
    page.locator("div.module", has=page.get_by_role("heading", name=TEMPLATE)).locator(
        "input[type=submit]"
    ).click()
    expect(page.locator("ul.messagelist")).to_contain_text("(inactive)")
    camera.shot("workflow-created")
    page.check("#id_active")
    set_mapping(
        page, camera, {"id": "{{ trigger.data.object.id }}", "if_not_found": "fail"}, "workflow"
    )
    workflow = Workflow.objects.get(connection=connection, name=TEMPLATE)
    assert workflow.active
    assert workflow.steps.get().input_mapping["if_not_found"] == "fail"

    # The event, caused in localstripe: a customer changes.
    customer = stack.localstripe.api("POST", "/v1/customers", {"email": "lin@example.com"})
    stack.localstripe.api("POST", f"/v1/customers/{customer['id']}", {"metadata": {"tier": "gold"}})
    run = finished_run(workflow)
    assert run.status == RunStatus.SUCCEEDED, run.error

    open_run(page, base, camera, run.pk, "succeeded")
    expect(page.locator("div.field-status, .readonly").first).to_be_visible()
    expect(page.locator("body")).to_contain_text("Succeeded")
    expect(page.locator("body")).to_contain_text(customer["id"])
    expect(page.locator("body")).to_contain_text("find_customer")
    stack.localstripe.forget_webhook(f"browser-{connection.pk}")
