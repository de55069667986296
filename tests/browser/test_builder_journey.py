"""The whole builder journey in Chromium at 1280x800, against localstripe.

A staff member creates a workflow from a popular automation, adds a step by choosing
its action and filling its fields from the data picker, tests step 1 then step 2,
activates it, causes the event in Stripe, finds the run by the customer's id, cancels
a retrying run and dispatches the event again. Every page on the way fits the width,
logs no console error, loads nothing from outside 127.0.0.1 and is kept as a
screenshot in test-artifacts/screenshots/.
"""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from connections.models import InboxEvent
from tests.browser.admin_pages import ADMIN, STEP_EDITOR, PageCheck, sign_in
from tests.e2e.stack import finished_run, wait_for
from tests.support.factories import event_envelope, inbox_event
from workflows.engine import step_run_for
from workflows.models import Run, RunStatus, Workflow

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]
TEMPLATE = "Customer Updated -> Find Customer"


@pytest.fixture
def check(page, camera) -> PageCheck:
    page.set_viewport_size({"width": 1280, "height": 800})
    return PageCheck(page, camera)


def pick(editor, field, reference: str) -> None:
    """Focus ``field``, search the editor's data picker, click the entry for ``reference``."""
    field.click()
    editor.locator(".kf-picker-search").fill(reference.strip("{} "))
    editor.locator(f".kf-picker-item[data-insert='{reference}']").click()


def run_this_step(page: Page, name: str) -> dict:
    """On Test a step: run the preselected step ``name``; its output, read as JSON."""
    expect(page.locator("#id_step option:checked")).to_contain_text(name)
    page.click("input[type=submit][value='Run this step now']")
    expect(page.locator("#test-result h2")).to_contain_text(f"{name}: succeeded")
    return json.loads(page.locator("#test-output").inner_text())


def retrying_run(workflow: Workflow) -> Run:
    """A run whose first step got a 500 from Stripe and waits an hour for its next attempt."""
    event = inbox_event(workflow.connection, event_envelope("customer.updated"))
    run = Run.objects.create(workflow=workflow, event=event, status=RunStatus.RETRYING)
    step_run = step_run_for(run, workflow.steps.order_by("order").first(), timezone.now())
    step_run.status, step_run.attempts = RunStatus.RETRYING, 1
    step_run.next_attempt_at = timezone.now() + timedelta(hours=1)
    step_run.error = {"type": "api_error", "message": "Stripe is down", "http_status": 500}
    step_run.save()
    return run


def test_staff_build_test_activate_and_operate_a_workflow_without_writing_json(
    page, check, stack, admin_user, stripe_connection
):
    base = stack.web_url
    # A customer in the stand-in, changed once: the sample event Load sample event finds.
    customer = stack.localstripe.api("POST", "/v1/customers", {"email": "ada@example.com"})
    stack.localstripe.api("POST", f"/v1/customers/{customer['id']}", {"description": "VIP"})
    sign_in(page, base, *ADMIN)
    check.visit(f"{base}/admin/", "index")

    # Create from a popular automation.
    check.visit(f"{base}/admin/workflows/workflow/automations/", "automations")
    template = page.locator("div.module", has=page.get_by_role("heading", name=TEMPLATE))
    template.locator("select[name=connection]").select_option(str(stripe_connection.pk))
    template.locator("input[type=submit]").click()
    expect(page.locator("ul.messagelist")).to_contain_text("(inactive)")
    check.check("created-from-template")
    workflow = Workflow.objects.get(connection=stripe_connection, name=TEMPLATE)

    # A second step: choosing its action shows its fields; the picker fills them.
    page.click("#steps-group .add-row a")
    step = page.locator("#steps-1")
    step.locator("input[name='steps-1-order']").fill("2")
    step.locator("input[name='steps-1-name']").fill("product")
    step.locator("select[name='steps-1-action_key']").select_option("create_product")
    editor = step.locator(STEP_EDITOR)
    fields = editor.locator(".kf-editor-fields")
    expect(fields.locator("label.rjf-required", has_text="Name")).to_be_visible()
    pick(editor, fields.locator("input[name='rjf§name']"), "{{ trigger.data.object.id }}")
    fields.locator("input[name='rjf§description']").fill("Made by the journey")
    check.check("step-two-built")
    page.click("input[name='_continue']")
    expect(page.locator("ul.messagelist")).to_contain_text("was changed successfully")
    check.check("saved")
    assert workflow.steps.get(name="product").input_mapping == {
        "name": "{{ trigger.data.object.id }}",
        "description": "Made by the journey",
    }

    # Test step 1: the catalog's made-up sample is unknown to Stripe; load a real one.
    page.click(".object-tools a:has-text('Test a step')")
    expect(page.locator("h1")).to_contain_text("Test a step")
    check.check("test-step")
    page.click("input[type=submit][value='Run this step now']")
    expect(page.locator("#hint-load-sample")).to_contain_text("made-up example")
    check.check("test-step-made-up-sample")
    page.click("#hint-load-sample button")
    expect(page.locator("ul.messagelist")).to_contain_text("sample loaded from Stripe")
    # The event Load sample event took: the stand-in is shared by the whole run, and lists
    # events oldest first, so it may be another test's customer.updated.
    sampled = Workflow.objects.get(pk=workflow.pk).sample_event["data"]["object"]
    assert run_this_step(page, "find_customer")["id"] == sampled["id"]
    check.check("step-one-tested")
    output = run_this_step(page, "product")
    assert (output["name"], output["description"]) == (sampled["id"], "Made by the journey")
    check.check("step-two-tested")

    # Back on the workflow: step 1's tested output is in the picker; use it, then activate.
    page.click("#back-to-workflow")
    editor = page.locator(f"#steps-1 {STEP_EDITOR}")
    fields = editor.locator(".kf-editor-fields")
    description = fields.locator("input[name='rjf§description']")
    description.fill("")  # the picker inserts at the cursor, beside what is there
    pick(editor, description, "{{ steps.find_customer.email }}")
    page.click("input[name='_continue']")
    expect(page.locator("ul.messagelist")).to_contain_text("was changed successfully")
    page.click(".object-tools button:has-text('Activate')")
    expect(page.locator("ul.messagelist")).to_contain_text("activated")
    check.check("activated")
    workflow.refresh_from_db()
    assert workflow.active
    assert workflow.steps.get(name="product").input_mapping["description"] == (
        "{{ steps.find_customer.email }}"
    )

    # The event, caused in Stripe: the run goes through both steps.
    stack.localstripe.api("POST", f"/v1/customers/{customer['id']}", {"name": "Ada"})
    run = finished_run(workflow)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert [s.status for s in run.step_runs.all()] == [RunStatus.SUCCEEDED] * 2
    assert run.step_runs.get(step_name="product").output["description"] == "ada@example.com"

    # Found by the customer's id in the runs list, then its page.
    check.visit(f"{base}/admin/workflows/run/", "runs")
    page.fill("#searchbar", customer["id"])
    page.locator("#changelist-search input[type=submit]").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    check.check("runs-found-by-customer")
    page.locator("#result_list th a", has_text=str(run.pk)).click()
    expect(page.locator("h1").first).to_have_text("View run")
    expect(page.locator("a.request-log")).to_have_count(2)
    check.check("run")

    # A retrying run, canceled from its page.
    waiting = retrying_run(workflow)
    check.visit(f"{base}/admin/workflows/run/{waiting.pk}/change/", "retrying-run")
    page.click("button:has-text('Cancel run')")
    page.click("input[type=submit][value='Yes, cancel']")
    expect(page.locator("ul.messagelist")).to_contain_text("1 run(s) canceled.")
    check.check("run-canceled")
    assert Run.objects.get(pk=waiting.pk).status == RunStatus.CANCELED

    # The event dispatched again: the report says the workflow ran; re-run it from there.
    event = InboxEvent.objects.get(pk=run.event_id)
    check.visit(f"{base}/admin/connections/inboxevent/{event.pk}/change/", "event")
    expect(page.locator(".event-runs")).to_contain_text(f"Run {run.pk}")
    page.get_by_role("button", name="Dispatch again").click()
    line = page.locator(".dispatch-report tr", has_text=workflow.name)
    expect(line).to_contain_text(f"already ran as run {run.pk}")
    check.check("dispatched-again")
    page.get_by_role("button", name="Re-run the chosen runs").click()
    rerun = wait_for(lambda: Run.objects.filter(rerun_of=run).first())
    expect(page.locator("ul.messagelist")).to_contain_text(f"re-run as run {rerun.pk}.")
    check.check("re-run")
    done = wait_for(lambda: Run.objects.filter(pk=rerun.pk, status__in=Run.FINAL).first())
    assert done.status == RunStatus.SUCCEEDED, done.error
