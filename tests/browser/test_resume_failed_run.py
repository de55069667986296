"""A run fails on a wrong mapping; staff fix the mapping and resume it from admin."""

import pytest
from playwright.sync_api import expect

from tests.browser.admin_pages import log_in, open_run, set_mapping
from tests.e2e.stack import finished_run, wait_for
from workflows.automations import create_from_automation
from workflows.models import Run, RunStatus

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]
GOOD = {"id": "{{ trigger.data.object.id }}"}
# A well-formed id of a customer that does not exist: Stripe (localstripe) answers 404.
WRONG = {"id": "cus_Missing{{ trigger.data.object.id[4:] }}"}


def test_a_failed_run_resumes_after_the_mapping_is_fixed(
    page, camera, stack, stripe_connection, admin_user
):
    base = stack.web_url
    workflow = create_from_automation("customer_updated_find_customer", stripe_connection)
    workflow.active = True
    workflow.save()
    log_in(page, base, camera)
    page.goto(f"{base}/admin/workflows/workflow/{workflow.pk}/change/")
    set_mapping(page, camera, WRONG, "wrong-mapping")

    customer = stack.localstripe.api("POST", "/v1/customers", {"email": "bo@example.com"})
    stack.localstripe.api("POST", f"/v1/customers/{customer['id']}", {"description": "VIP"})
    run = finished_run(workflow)
    assert run.status == RunStatus.FAILED
    error = run.step_runs.get().error
    assert (error["type"], error["http_status"]) == ("invalid_request_error", 404), error
    open_run(page, base, camera, run.pk, "failed")
    expect(page.locator("body")).to_contain_text("Failed")
    expect(page.locator("body")).to_contain_text(f"cus_Missing{customer['id'][4:]}")

    page.goto(f"{base}/admin/workflows/workflow/{workflow.pk}/change/")
    set_mapping(page, camera, GOOD, "fixed-mapping")
    page.goto(f"{base}/admin/workflows/run/{run.pk}/change/")
    page.click("button:has-text('Resume from failed step')")
    expect(page.locator("h1")).to_contain_text("Resume from the failed step?")
    camera.shot("resume-confirm")
    page.click("input[type=submit][value='Yes, resume']")
    expect(page.locator("ul.messagelist")).to_contain_text("1 run(s) queued")
    camera.shot("resume-queued")

    wait_for(lambda: Run.objects.get(pk=run.pk).status == RunStatus.SUCCEEDED)
    open_run(page, base, camera, run.pk, "resumed")
    expect(page.locator("body")).to_contain_text("Succeeded")
    step_run = run.step_runs.get()
    assert step_run.output["id"] == customer["id"]
    assert Run.objects.filter(workflow=workflow).count() == 1
