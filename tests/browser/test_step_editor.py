"""Staff build a step and a filter from forms, with the data picker, never writing JSON."""

import json

import pytest
from playwright.sync_api import Page, expect

from tests.browser.admin_pages import STEP_EDITOR, PageCheck, log_in
from workflows.models import Workflow

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]


def raw_json(editor) -> dict | list:
    """The editor's Advanced: JSON view, opened, read as JSON."""
    details = editor.locator("details.kf-editor-json")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    return json.loads(editor.locator("textarea").input_value())


def pick(editor, field, text: str) -> None:
    """Focus ``field``, then click the picker's entry inserting ``text``."""
    field.click()
    editor.locator(".kf-picker-search").fill(text.strip("{} "))
    editor.locator(f".kf-picker-item[data-insert='{text}']").click()


def workflow_with_a_tested_step(connection) -> Workflow:
    workflow = Workflow.objects.create(
        name="Builder", connection=connection, trigger_key="customer.created"
    )
    workflow.steps.create(
        order=1,
        name="find",
        action_key="find_customer",
        input_mapping={"id": "{{ trigger.data.object.id }}"},
        sample_output={"id": "cus_Found", "email": "found@example.com"},
    )
    return workflow


def test_staff_build_a_step_and_a_filter_without_writing_json(
    page: Page, camera, stack, admin_user, stripe_connection
):
    base = stack.web_url
    page.set_viewport_size({"width": 1280, "height": 800})
    checks = PageCheck(page, camera)
    log_in(page, base, camera)
    workflow = workflow_with_a_tested_step(stripe_connection)
    url = f"{base}/admin/workflows/workflow/{workflow.pk}/change/"
    checks.visit(url, "workflow")

    # A new step: its action's fields appear as soon as the action is chosen.
    page.click("#steps-group .add-row a")
    step = page.locator("#steps-1")
    step.locator("input[name='steps-1-order']").fill("2")
    step.locator("input[name='steps-1-name']").fill("tag")
    step.locator("select[name='steps-1-action_key']").select_option("update_customer")
    editor = step.locator(STEP_EDITOR)
    fields = editor.locator(".kf-editor-fields")
    expect(fields.locator("label", has_text="Email")).to_be_visible()
    expect(fields.locator("label.rjf-required", has_text="Id")).to_be_visible()
    expect(fields).to_contain_text("Metadata")

    # The picker lists the trigger's sample and the earlier step's tested output.
    expect(editor.locator(".kf-picker")).to_contain_text("Step find (from Test a step)")
    pick(editor, fields.locator("input[name='rjf§id']"), "{{ trigger.data.object.id }}")
    pick(editor, fields.locator("input[name='rjf§email']"), "{{ steps.find.email }}")
    fields.locator("input[name='rjf§description']").fill("Built in the form")
    expect(fields.locator("input[name='rjf§email']")).to_have_value("{{ steps.find.email }}")
    assert raw_json(editor) == {
        "id": "{{ trigger.data.object.id }}",
        "email": "{{ steps.find.email }}",
        "description": "Built in the form",
    }
    checks.check("step-built")

    # Editing the JSON re-renders the form, nested metadata included.
    edited = {
        "id": "{{ trigger.data.object.id }}",
        "email": "{{ steps.find.email }}",
        "description": "Edited as JSON",
        "metadata": {"source": "builder"},
    }
    editor.locator("textarea").fill(json.dumps(edited))
    expect(fields.locator("input[name='rjf§description']")).to_have_value("Edited as JSON")
    expect(fields.locator("input[name='rjf§metadata§source']")).to_have_value("builder")
    assert raw_json(editor) == edited
    checks.check("step-json-edited")

    # A filter row: the picker inserts a plain path; the operator is a select.
    filters = page.locator(".kf-editor[data-kf-editor='filters']")
    filters.locator(".kf-editor-fields button", has_text="Add item").click()
    pick(filters, filters.locator("input[name='rjf§0§path']"), "data.object.email")
    filters.locator("select[name='rjf§0§op']").select_option("equals")
    filters.locator("input[name='rjf§0§value']").fill("jenny.rosen@example.com")
    assert raw_json(filters) == [
        {"path": "data.object.email", "op": "equals", "value": "jenny.rosen@example.com"}
    ]
    checks.check("filter-built")

    page.click("input[name='_continue']")
    expect(page.locator("ul.messagelist")).to_contain_text("was changed successfully")
    checks.check("saved")
    workflow.refresh_from_db()
    assert workflow.steps.get(name="tag").input_mapping == edited
    assert workflow.filters == [
        {"path": "data.object.email", "op": "equals", "value": "jenny.rosen@example.com"}
    ]

    # After a reload the forms show what was saved.
    checks.visit(url, "reloaded")
    step = page.locator(f"#steps-1 {STEP_EDITOR} .kf-editor-fields")
    expect(step.locator("input[name='rjf§description']")).to_have_value("Edited as JSON")
    expect(step.locator("input[name='rjf§metadata§source']")).to_have_value("builder")
    expect(filters.locator("input[name='rjf§0§path']")).to_have_value("data.object.email")

    # The dark theme: the same page, legible (see the screenshot), no error.
    page.emulate_media(color_scheme="dark")
    checks.visit(url, "dark")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgb(255, 255, 255)"


def test_a_new_workflows_picker_follows_the_trigger_before_saving(
    page: Page, camera, stack, admin_user, stripe_connection
):
    base = stack.web_url
    page.set_viewport_size({"width": 1280, "height": 800})
    checks = PageCheck(page, camera)
    log_in(page, base, camera)
    checks.visit(f"{base}/admin/workflows/workflow/add/", "add")
    page.select_option("#id_trigger_key", "invoice.created")
    filters = page.locator(".kf-editor[data-kf-editor='filters']")
    expect(filters.locator(".kf-picker-item[data-insert='data.object.amount_due']")).to_be_visible()
    page.select_option("#id_trigger_key", "customer.created")
    expect(filters.locator(".kf-picker-item[data-insert='data.object.email']")).to_be_visible()
    expect(filters.locator(".kf-picker-item[data-insert='data.object.amount_due']")).to_have_count(
        0
    )

    page.click("#steps-group .add-row a")
    editor = page.locator(f"#steps-0 {STEP_EDITOR}")
    page.select_option("select[name='steps-0-action_key']", "create_price")
    fields = editor.locator(".kf-editor-fields")
    expect(fields.get_by_text("Unit amount", exact=True)).to_be_visible()
    # An integer field takes a reference; its choices are suggestions, not a closed list.
    interval = fields.locator("input[name='rjf§recurring§interval']")
    choices = page.locator(f"datalist#{interval.get_attribute('list')} option")
    expect(choices).to_have_count(4)
    assert choices.evaluate_all("options => options.map(o => o.value)") == [
        "day",
        "week",
        "month",
        "year",
    ]
    interval.fill("{{ trigger.data.object.metadata.interval }}")
    amount = fields.locator("input[name='rjf§unit_amount']")
    pick(editor, amount, "{{ trigger.data.object.created }}")
    assert raw_json(editor) == {
        "unit_amount": "{{ trigger.data.object.created }}",
        "recurring": {"interval": "{{ trigger.data.object.metadata.interval }}"},
    }
    checks.check("add-page-step")


def boxes_apart(editor) -> None:
    """The open Advanced: JSON textarea and the data picker do not overlap."""
    raw_json(editor)
    area = editor.locator("textarea").bounding_box()
    picker = editor.locator(".kf-picker").bounding_box()
    assert area and picker
    apart = (
        area["x"] + area["width"] <= picker["x"]
        or picker["x"] + picker["width"] <= area["x"]
        or area["y"] + area["height"] <= picker["y"]
        or picker["y"] + picker["height"] <= area["y"]
    )
    assert apart, (area, picker)


def assert_indented(text: str) -> None:
    """``text`` is JSON indented by 2 (in the database's key order: PostgreSQL sorts keys)."""
    assert "\n  " in text
    assert text == json.dumps(json.loads(text), indent=2)


def test_nothing_typed_is_lost_and_empty_values_clear_in_stripe(
    page: Page, camera, stack, admin_user, stripe_connection
):
    base = stack.web_url
    page.set_viewport_size({"width": 1280, "height": 800})
    checks = PageCheck(page, camera)
    log_in(page, base, camera)
    workflow = Workflow.objects.create(
        name="Clearing", connection=stripe_connection, trigger_key="payment_intent.succeeded"
    )
    workflow.steps.create(
        order=1,
        name="pay",
        action_key="update_payment_intent",
        input_mapping={
            "id": "{{ trigger.data.object.id }}",
            "metadata": "{{ trigger.data.object.metadata }}",
            "description": "",
        },
    )
    url = f"{base}/admin/workflows/workflow/{workflow.pk}/change/"
    checks.visit(url, "workflow")
    editor = page.locator(f"#steps-0 {STEP_EDITOR}")
    fields = editor.locator(".kf-editor-fields")
    raw = editor.locator("textarea")

    # Saved JSON shows indented, as the form writes it.
    assert raw_json(editor) == {
        "id": "{{ trigger.data.object.id }}",
        "metadata": "{{ trigger.data.object.metadata }}",
        "description": "",
    }
    assert_indented(raw.input_value())

    # A group held as a reference is read-only in the form: nothing can be typed and lost.
    metadata = fields.locator("input[name='rjf§metadata']")
    expect(metadata).to_be_disabled()
    expect(metadata).to_have_value("{{ trigger.data.object.metadata }}")
    expect(fields.locator("input[name^='rjf§metadata§']")).to_have_count(0)
    expect(editor.locator(".kf-editor-note")).to_contain_text("shown read-only")
    checks.check("reference-group-read-only")

    # "" in the JSON shows as "" in the form; typing "" writes Stripe's empty value.
    description = fields.locator("input[name='rjf§description']")
    expect(description).to_have_value('""')
    fields.locator("input[name='rjf§setup_future_usage']").fill('""')
    assert raw_json(editor)["setup_future_usage"] == ""
    description.fill("")  # an emptied field is left out
    assert "description" not in raw_json(editor)

    # Once the reference is gone, metadata is a group again, and typed keys reach the JSON.
    mapping = raw_json(editor)
    del mapping["metadata"]
    raw.fill(json.dumps(mapping))
    page.once("dialog", lambda dialog: dialog.accept("mine"))
    fields.locator("button:has-text('Add key')").click()
    fields.locator("input[name='rjf§metadata§mine']").fill('""')
    page.once("dialog", lambda dialog: dialog.accept("typed"))
    fields.locator("button:has-text('Add key')").click()
    fields.locator("input[name='rjf§metadata§typed']").fill("typed value")
    expected = {
        "id": "{{ trigger.data.object.id }}",
        "setup_future_usage": "",
        "metadata": {"mine": "", "typed": "typed value"},
    }
    assert raw_json(editor) == expected

    # Switching the action leaves keys out with an Undo; switching back restores them.
    select = page.locator("select[name='steps-0-action_key']")
    select.select_option("find_customer")
    note = editor.locator(".kf-editor-note")
    expect(note).to_contain_text("Left out, not fields of this action: setup_future_usage")
    expect(note).to_contain_text("Choosing Update Payment Intent again restores them")
    assert raw_json(editor) == {"id": "{{ trigger.data.object.id }}"}
    checks.check("action-switched")
    note.locator("button", has_text="Undo").click()
    expect(select).to_have_value("update_payment_intent")
    assert raw_json(editor) == expected
    select.select_option("find_customer")
    select.select_option("update_payment_intent")
    assert raw_json(editor) == expected

    # The open JSON view stays clear of the picker, for the step and for the filters.
    filters = page.locator(".kf-editor[data-kf-editor='filters']")
    boxes_apart(editor)
    boxes_apart(filters)
    checks.check("json-open")

    # In the filters, a path clicked while the Value box has focus becomes that row's path.
    filters.locator(".kf-editor-fields button", has_text="Add item").click()
    filters.locator("input[name='rjf§0§value']").fill("succeeded")
    pick(filters, filters.locator("input[name='rjf§0§value']"), "data.object.status")
    expect(filters.locator("input[name='rjf§0§path']")).to_have_value("data.object.status")
    expect(filters.locator("input[name='rjf§0§value']")).to_have_value("succeeded")
    assert raw_json(filters) == [
        {"path": "data.object.status", "op": "equals", "value": "succeeded"}
    ]

    page.click("input[name='_continue']")
    expect(page.locator("ul.messagelist")).to_contain_text("was changed successfully")
    checks.check("saved")
    assert workflow.steps.get(name="pay").input_mapping == expected
    assert raw_json(editor) == expected
    assert_indented(raw.input_value())

    page.emulate_media(color_scheme="dark")
    checks.visit(url, "dark")
    boxes_apart(page.locator(f"#steps-0 {STEP_EDITOR}"))
    boxes_apart(page.locator(".kf-editor[data-kf-editor='filters']"))
    checks.check("dark-json-open")


def test_suggestions_survive_removing_an_earlier_unsaved_step(
    page: Page, camera, stack, admin_user, stripe_connection
):
    base = stack.web_url
    page.set_viewport_size({"width": 1280, "height": 800})
    checks = PageCheck(page, camera)
    log_in(page, base, camera)
    checks.visit(f"{base}/admin/workflows/workflow/add/", "add")
    for index in range(3):
        page.click("#steps-group .add-row a")
        page.select_option(f"select[name='steps-{index}-action_key']", "create_price")
    page.locator("#steps-0 .inline-deletelink").click()
    expect(page.locator("select[name='steps-2-action_key']")).to_have_count(0)
    for index in range(2):
        interval = page.locator(f"#steps-{index} input[name='rjf§recurring§interval']")
        choices = page.locator(f"datalist#{interval.get_attribute('list')} option")
        expect(choices).to_have_count(4)
    checks.check("row-removed")
