"""The workflow's page and Test a step in Chromium at 1280x800, against localstripe.

The trigger's fields follow the trigger select; the sample event is collapsed and
filterable; Test a step loads a real sample when the catalog's made-up one fails,
then tests step 1 and step 2 (which uses step 1's output); Activate and Deactivate.
Every page: no horizontal overflow, no console error, nothing from outside 127.0.0.1.
"""

import json

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from tests.browser.admin_pages import ADMIN, SCREENSHOTS, TAKEN, PageCheck, sign_in
from tests.e2e.stack import unique
from tests.support.factories import make_workflow
from workflows.models import Workflow

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]
TRIGGER_FIELDS = ("custom_event_type", "schedule_cron", "schedule_minutes")
STEPS = [
    ("find", "find_customer", {"id": "{{ trigger.data.object.id }}"}),
    ("tag", "update_customer", {"id": "{{ steps.find.id }}", "metadata": {"seen_by": "test"}}),
]


@pytest.fixture
def check(page, camera) -> PageCheck:
    page.set_viewport_size({"width": 1280, "height": 800})
    return PageCheck(page, camera)


def part(page, camera, selector: str, what: str) -> None:
    """A screenshot of one part of the page, beside the full-page ones (easier to read)."""
    path = SCREENSHOTS / f"{camera.prefix}-part-{what}.png"
    page.locator(selector).screenshot(path=str(path))
    TAKEN.append(path)


def shown_trigger_fields(page) -> list[str]:
    return [name for name in TRIGGER_FIELDS if page.locator(f".form-row.field-{name}").is_visible()]


def test_the_trigger_select_shows_only_its_kinds_fields(
    page, check, camera, stack, admin_user, stripe_connection
):
    sign_in(page, stack.web_url, *ADMIN)
    check.visit(f"{stack.web_url}/admin/workflows/workflow/add/", "add-no-trigger")
    expect(page.locator("#id_trigger_key")).to_have_value("")
    assert shown_trigger_fields(page) == []

    page.select_option("#id_trigger_key", "schedule")
    assert shown_trigger_fields(page) == ["schedule_cron", "schedule_minutes"]
    check.check("add-schedule")
    part(page, camera, "fieldset:has(#id_trigger_key)", "trigger-schedule")
    page.fill("#id_schedule_cron", "not a cron")
    page.select_option("#id_trigger_key", "custom")
    assert shown_trigger_fields(page) == ["custom_event_type"]
    expect(page.locator("#id_schedule_cron")).to_be_disabled()
    check.check("add-custom")
    page.select_option("#id_trigger_key", "customer.created")
    assert shown_trigger_fields(page) == []
    check.check("add-customer-created")

    # The hidden cron is not posted: the workflow saves without it.
    name = unique("page")
    page.fill("#id_name", name)
    page.select_option("#id_connection", str(stripe_connection.pk))
    page.click("input[name='_continue']")
    expect(page.locator("ul.messagelist")).to_contain_text("was added successfully")
    check.check("change-after-add")
    assert shown_trigger_fields(page) == []
    saved = Workflow.objects.get(name=name)
    assert (saved.trigger_key, saved.schedule_cron) == ("customer.created", "")


def test_the_workflow_page_then_testing_step_one_and_step_two(
    page, check, camera, stack, admin_user, stripe_connection
):
    base = stack.web_url
    customer = stack.localstripe.api("POST", "/v1/customers", {"email": "ada@example.com"})
    stack.localstripe.api("POST", f"/v1/customers/{customer['id']}", {"description": "VIP"})
    workflow = make_workflow(
        stripe_connection, "customer.updated", STEPS, active=False, name=unique("page")
    )
    change = f"{base}/admin/workflows/workflow/{workflow.pk}/change/"
    sign_in(page, base, *ADMIN)

    check.visit(change, "change")
    assert shown_trigger_fields(page) == []
    expect(page.locator("#workflow-sample")).to_contain_text("catalog's made-up sample")
    expect(page.locator("#sample-rows")).to_be_hidden()  # collapsed
    steps_top = page.locator("#steps-group").bounding_box()["y"]
    assert steps_top < page.locator("#workflow-sample").bounding_box()["y"]
    # Collapsed, the sample takes a few lines (the whole event is about 2,500 px).
    height = page.locator("#workflow-sample").bounding_box()["height"]
    assert height < 250, f"the collapsed sample is {height} px tall"

    page.click("#sample-details > summary")
    rows = page.locator("#sample-rows tbody tr")
    expect(rows.first).to_be_visible()
    total = rows.count()
    page.fill("#sample-filter", "email")
    visible = page.locator("#sample-rows tbody tr:visible")
    assert 0 < visible.count() < total
    for text in visible.all_inner_texts():
        assert "email" in text.lower()
    expect(page.locator("#sample-filter-count")).to_contain_text(f"of {total} fields")
    check.check("change-sample-filtered")
    part(page, camera, "#workflow-sample", "sample-filtered")

    page.click(".object-tools a:has-text('Test a step')")
    expect(page.locator("h1")).to_contain_text("Test a step")
    check.check("test-step")
    page.click("input[type=submit][value='Run this step now']")  # find, with the made-up sample
    expect(page.locator("#test-result h2")).to_contain_text("failed")
    expect(page.locator("#hint-load-sample")).to_contain_text("made-up example")
    check.check("test-step-made-up-sample-missing")

    page.click("#hint-load-sample button")
    expect(page.locator("ul.messagelist")).to_contain_text("sample loaded from Stripe")
    check.check("test-step-sample-loaded")
    expect(page.locator("#id_step option:checked")).to_contain_text("find")
    page.click("input[type=submit][value='Run this step now']")
    expect(page.locator("#test-result h2")).to_contain_text("find: succeeded")
    # The event Load sample event took: the stand-in is shared by the whole run, and lists
    # events oldest first, so it may be another test's customer.updated.
    sampled = Workflow.objects.get(pk=workflow.pk).sample_event["data"]["object"]
    output = json.loads(page.locator("#test-output").inner_text())
    assert (output["id"], output["email"]) == (sampled["id"], sampled["email"])
    assert f'"email": "{sampled["email"]}"' in page.locator("#test-output").inner_text()
    check.check("test-step-one-succeeded")

    expect(page.locator("#id_step option:checked")).to_contain_text("tag")
    page.click("input[type=submit][value='Run this step now']")
    expect(page.locator("#test-result h2")).to_contain_text("tag: succeeded")
    output = json.loads(page.locator("#test-output").inner_text())
    assert (output["id"], output["metadata"]["seen_by"]) == (sampled["id"], "test")
    check.check("test-step-two-succeeded")

    page.click("#back-to-workflow")
    expect(page.locator("#workflow-sample")).not_to_contain_text("catalog's made-up sample")
    page.click(".object-tools button:has-text('Activate')")
    expect(page.locator("ul.messagelist")).to_contain_text("activated")
    assert Workflow.objects.get(pk=workflow.pk).active
    check.check("change-activated")
    part(page, camera, ".object-tools", "buttons-activated")
    page.emulate_media(color_scheme="dark")  # admin's "auto" theme follows it
    page.click("#sample-details > summary")
    check.check("change-activated-dark")
    part(page, camera, "#workflow-sample", "sample-dark")
    page.emulate_media(color_scheme="light")

    page.click(".object-tools button:has-text('Deactivate')")
    expect(page.locator("ul.messagelist")).to_contain_text("deactivated")
    assert not Workflow.objects.get(pk=workflow.pk).active
    check.check("change-deactivated")

    # Another trigger: the loaded event and the steps' tested outputs go, and the page says so.
    page.select_option("#id_trigger_key", "customer.created")
    page.click("input[name=_continue]")
    expect(page.locator("ul.messagelist .warning")).to_contain_text(
        "The trigger changed, so the sample event and the steps' Test a step outputs were cleared"
    )
    expect(page.locator("#workflow-sample")).to_contain_text("catalog's made-up sample")
    assert Workflow.objects.get(pk=workflow.pk).sample_event is None
    assert not workflow.steps.filter(sample_output_at__isnull=False).exists()
    check.check("change-trigger-changed")
    page.emulate_media(color_scheme="dark")
    check.check("change-trigger-changed-dark", full_page=False)
    page.emulate_media(color_scheme="light")


def test_the_page_offers_only_what_its_user_may_follow(
    page, check, stack, django_user_model, stripe_connection
):
    """Without view_run: no Runs button, no chart; without view_step: a note, not nothing."""
    workflow = make_workflow(
        stripe_connection, "customer.updated", STEPS, active=False, name=unique("viewer")
    )
    viewer = django_user_model.objects.create_user(
        unique("viewer"), password="a-long-Viewer-pass-42", is_staff=True
    )
    viewer.user_permissions.add(*Permission.objects.filter(codename="view_workflow"))
    sign_in(page, stack.web_url, viewer.username, "a-long-Viewer-pass-42")

    check.visit(f"{stack.web_url}/admin/workflows/workflow/{workflow.pk}/change/", "as-viewer")
    expect(page.locator("#workflow-steps-hidden")).to_contain_text(
        "This workflow has 2 steps. Seeing them needs the permission to view steps"
    )
    expect(page.locator(".object-tools a:has-text('Runs')")).to_have_count(0)
    expect(page.locator(".runs-chart")).to_have_count(0)
    page.emulate_media(color_scheme="dark")
    check.check("as-viewer-dark")
    page.emulate_media(color_scheme="light")
