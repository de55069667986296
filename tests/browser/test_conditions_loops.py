"""Staff build a step that runs only if a rule holds and a step that repeats for each
invoice line, in admin, without writing JSON; then see the run: the first step skipped
with its reason, the second done once per line.

Chromium at 1280x800 against localstripe and the worker: every page on the way fits
the width, logs no console error, loads nothing from outside 127.0.0.1 and is kept as a
screenshot in test-artifacts/screenshots/ (conditions_loops-NN-*.png).
"""

import json

import pytest
from playwright.sync_api import expect

from tests.browser.admin_pages import ADMIN, STEP_EDITOR, PageCheck, sign_in
from tests.e2e.stack import finished_run, unique
from workflows.models import RunStatus, Workflow

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]
LINES = "trigger.data.object.lines.data"
BIG = [{"path": "trigger.data.object.amount_due", "op": "gt", "value": 100000}]


@pytest.fixture
def check(page, camera) -> PageCheck:
    page.set_viewport_size({"width": 1280, "height": 800})
    return PageCheck(page, camera)


def pick(editor, field, insert: str) -> None:
    """Focus ``field``, search ``editor``'s data picker, click the entry inserting ``insert``."""
    field.click()
    editor.locator(".kf-picker-search").fill(insert.strip("{} "))
    editor.locator(f".kf-picker-item[data-insert='{insert}']").click()


def add_step(page, index: int, name: str, action: str):
    """A new step row: its order, name and action; returns the row."""
    page.click("#steps-group .add-row a")
    row = page.locator(f"#steps-{index}")
    row.locator(f"input[name='steps-{index}-order']").fill(str(index + 1))
    row.locator(f"input[name='steps-{index}-name']").fill(name)
    row.locator(f"select[name='steps-{index}-action_key']").select_option(action)
    return row


def extras(row):
    """The row's "Run only if / Repeat for each" section, opened."""
    details = row.locator("fieldset.kf-step-extras > details")
    if details.get_attribute("open") is None:
        details.locator(":scope > summary").click()
    return row.locator("fieldset.kf-step-extras")


def test_conditions_loops(page, check, stack, admin_user, stripe_connection):
    base = stack.web_url
    name = unique("Lines to products")
    sign_in(page, base, *ADMIN)
    check.visit(f"{base}/admin/workflows/workflow/add/", "add")
    page.fill("#id_name", name)
    page.select_option("#id_connection", str(stripe_connection.pk))
    page.select_option("#id_trigger_key", "invoice.created")

    # Step 1 runs only if the invoice is big: a rule built from the picker.
    big = add_step(page, 0, "big_only", "update_customer")
    inputs = big.locator(STEP_EDITOR)
    pick(
        inputs,
        inputs.locator("input[name='rjf§id']"),
        "{{ trigger.data.object.customer }}",
    )
    inputs.locator("input[name='rjf§description']").fill("Big spender")
    section = extras(big)
    rules = section.locator(".kf-editor[data-kf-editor='condition']")
    rules.locator(".kf-editor-fields button", has_text="Add item").click()
    pick(rules, rules.locator("input[name='rjf§0§path']"), "trigger.data.object.amount_due")
    rules.locator("select[name='rjf§0§op']").select_option("gt")
    rules.locator("input[name='rjf§0§value']").fill("100000")
    expect(section.locator(".kf-extras-state")).to_have_text("Only if its rule holds")

    # Step 2 repeats for each line; first with a filter-style path, which the save refuses.
    each = add_step(page, 1, "line_products", "create_product")
    section = extras(each)
    for_each = section.locator("input[name='steps-1-for_each']")
    for_each.fill("data.object.lines.data")
    section.locator("input[name='steps-1-max_items']").fill("10")
    inputs = each.locator(STEP_EDITOR)
    inputs.locator("input[name='rjf§description']").fill("Line {{ item_index }}")
    check.check("built-with-a-mistake")
    page.click("input[name='_continue']")
    expect(page.locator("p.errornote", has_text="Please correct")).to_be_visible()
    each = page.locator("#steps-1")
    section = each.locator("fieldset.kf-step-extras")
    expect(section.locator(".errorlist")).to_contain_text(
        "data.object.lines.data must start with trigger. (the event)"
    )
    # Nothing typed was lost, hidden section or not: step 1's rule, step 2's fields.
    expect(section.locator("input[name='steps-1-max_items']")).to_have_value("10")
    # Shown open for its error, the section's heading still says what is set.
    expect(section.locator(".fieldset-heading .kf-extras-state")).to_have_text(
        "For each item of data.object.lines.data"
    )
    expect(section.locator("details.kf-editor-json")).not_to_have_attribute("open", "")
    kept = page.locator("textarea[name='steps-0-condition']").input_value()
    assert json.loads(kept) == BIG
    expect(page.locator("#steps-0 .kf-extras-state")).to_have_text("Only if its rule holds")
    check.check("for-each-error-on-its-field")

    # The list picked from the picker; the step's own picker then offers the item's fields.
    rules = section.locator(".kf-editor[data-kf-editor='condition']")
    for_each = section.locator("input[name='steps-1-for_each']")
    for_each.fill("")
    for_each.click()
    expect(rules.locator(".kf-picker-hint")).to_contain_text("Click a list")
    rules.locator(f".kf-picker-item[data-insert='{LINES}']").click()
    expect(for_each).to_have_value(LINES)
    inputs = each.locator(STEP_EDITOR)
    expect(inputs.locator(".kf-picker")).to_contain_text(f"Each item of {LINES}")
    pick(inputs, inputs.locator("input[name='rjf§name']"), "{{ item.description }}")
    expect(section.locator(".kf-extras-state")).to_have_text(f"For each item of {LINES}")
    check.check("for-each-picked")
    page.click("input[name='_continue']")
    expect(page.locator("ul.messagelist")).to_contain_text("was added successfully")
    check.check("saved")

    workflow = Workflow.objects.get(name=name)
    big_only, line_products = workflow.steps.order_by("order")
    assert (big_only.condition, big_only.condition_match, big_only.for_each) == (BIG, "all", "")
    assert (line_products.for_each, line_products.max_items) == (LINES, 10)
    assert line_products.input_mapping == {
        "name": "{{ item.description }}",
        "description": "Line {{ item_index }}",
    }
    # Saved sections open with what is set; the one without anything set stays closed.
    expect(page.locator("#steps-0 fieldset.kf-step-extras > details")).to_have_attribute("open", "")
    check.check("reloaded")

    page.click(".object-tools button:has-text('Activate')")
    expect(page.locator("ul.messagelist")).to_contain_text("activated")
    check.check("activated")

    # In Stripe: a pending invoice item (Ink), then a subscription (Pen), whose first
    # invoice has both as lines. Step 1 is skipped (the invoice is small), step 2 makes
    # one product per line.
    customer = stack.localstripe.customer_with_card(f"{unique('lines')}@example.com")
    stack.localstripe.api(
        "POST",
        "/v1/invoiceitems",
        {"customer": customer["id"], "amount": 700, "currency": "usd", "description": "Ink"},
    )
    plan = stack.localstripe.api(
        "POST",
        "/v1/plans",
        {"id": unique("plan"), "amount": 500, "currency": "usd", "interval": "month",
         "product": {"name": "Pen"}},
    )  # fmt: skip
    stack.localstripe.api(
        "POST", "/v1/subscriptions", {"customer": customer["id"], "items": [{"plan": plan["id"]}]}
    )
    run = finished_run(workflow)
    assert run.status == RunStatus.SUCCEEDED, run.error
    skipped, repeated = run.step_runs.order_by("order")
    assert skipped.status == RunStatus.SKIPPED
    assert "trigger.data.object.amount_due gt 100000" in skipped.skip_reason
    assert (repeated.status, repeated.item_count) == (RunStatus.SUCCEEDED, 2)
    assert [(p["name"], p["description"]) for p in repeated.output] == [
        ("Ink", "Line 0"),
        ("Pen", "Line 1"),
    ]

    check.visit(f"{base}/admin/workflows/run/{run.pk}/change/", "run")
    first = page.locator("tbody.run-step").nth(0)
    expect(first.locator(".run-status")).to_have_text("Skipped")
    expect(first.locator(".run-step-skip")).to_contain_text(skipped.skip_reason)
    second = page.locator("tbody.run-step").nth(1)
    expect(second.locator(".run-item-count")).to_have_text("2 items")
    second.locator("details.run-items > summary", has_text="Output: 2 items").click()
    expect(second.locator("details.run-item > summary").nth(2)).to_contain_text(
        repeated.output[0]["id"]
    )
    check.check("run-items-open")
