"""Export, Import a workflow and Copy to a live connection in Chromium at 1280x800.

Export downloads the document; the import page lists a bad document's problems by
path, then imports the downloaded file as an inactive workflow; Copy to a live
connection previews the test ids to replace, copies, and on a second copy shows
what differs and that the active live copy will be deactivated. Every page: no
horizontal overflow, no console error, nothing from outside 127.0.0.1.
"""

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from connections.models import Connection
from tests.browser.admin_pages import ADMIN, SCREENSHOTS, TAKEN, PageCheck, sign_in
from tests.e2e.stack import unique
from tests.support.factories import make_connection, make_workflow
from workflows import portable, services
from workflows.models import Step, Workflow

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]

TEST_PRICE = "price_1BrowserTestPrice01"
LIVE_PRICE = "price_1BrowserLivePrice01"
STEPS = [
    ("find", "find_customer", {"id": "{{ trigger.data.object.customer }}"}),
    (
        "item",
        "create_invoice_item",
        {
            "customer": "{{ steps.find.id }}",
            "invoice": "{{ trigger.data.object.id }}",
            "pricing": {"price": TEST_PRICE},
            "metadata": {"source": "konnectify-browser-test", "note": "a long literal " * 12},
        },
    ),
]


@pytest.fixture
def check(page, camera) -> PageCheck:
    page.set_viewport_size({"width": 1280, "height": 800})
    return PageCheck(page, camera)


@pytest.fixture
def live(stack) -> Connection:
    """A live-mode connection: copying calls nothing in Stripe, so no key is checked."""
    return make_connection(
        name=unique("Live shop"),
        secret_key="sk_live_"
        + "51BrowserLiveKey0000000000000000000000000000000wxyz",  # built, not a literal key
        webhook_secret="whsec_browser_live_0123456789abcdef",
        mode=Connection.Mode.LIVE,
    )


@pytest.fixture
def workflow(stripe_connection) -> Workflow:
    workflow = make_workflow(
        stripe_connection, "invoice.created", STEPS, active=False, name=unique("Bill lines")
    )
    step = workflow.steps.get(name="item")
    step.condition = [{"path": "trigger.data.object.amount_due", "op": "gt", "value": 0}]
    step.for_each = "trigger.data.object.lines.data"
    step.max_items = 20
    step.save()
    return workflow


def part(page, camera, selector: str, what: str) -> None:
    path = SCREENSHOTS / f"{camera.prefix}-part-{what}.png"
    page.locator(selector).screenshot(path=str(path))
    TAKEN.append(path)


def test_export_then_import_the_file(page, check, camera, stack, admin_user, workflow):
    base = stack.web_url
    sign_in(page, base, *ADMIN)
    check.visit(f"{base}/admin/workflows/workflow/{workflow.pk}/change/", "workflow")
    with page.expect_download() as download:
        page.click("#export-workflow")
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename.endswith(".workflow.json")
    assert exported == portable.export_text(workflow)

    check.visit(f"{base}/admin/workflows/workflow/", "list")
    page.click("#import-workflow-link")
    check.check("import")
    bad = json.loads(exported)
    bad["workflow"]["steps"][1]["action_key"] = "launch_rocket"
    bad["workflow"]["trigger_key"] = "invoice.exploded"
    page.select_option("#id_connection", str(workflow.connection_id))
    page.fill("#id_text", json.dumps(bad, indent=2))
    page.click("#import-form input[type=submit]")
    expect(page.locator("#import-problems")).to_contain_text("workflow.steps[1].action_key")
    expect(page.locator("#import-problems")).to_contain_text("workflow.trigger_key")
    check.check("import-problems")

    file = Path(download.value.path())
    page.fill("#id_text", "")
    page.set_input_files(
        "#id_file",
        files=[
            {
                "name": "bill-lines.workflow.json",
                "mimeType": "application/json",
                "buffer": file.read_bytes(),
            }
        ],
    )
    page.click("#import-form input[type=submit]")
    expect(page.locator("ul.messagelist")).to_contain_text("(inactive): review it")
    check.check("imported")
    imported = Workflow.objects.exclude(pk=workflow.pk).get(name=workflow.name)
    assert not imported.active
    assert portable.export_text(imported) == exported


def test_copy_to_a_live_connection_then_again(
    page, check, camera, stack, admin_user, workflow, live
):
    base = stack.web_url
    sign_in(page, base, *ADMIN)
    check.visit(f"{base}/admin/workflows/workflow/{workflow.pk}/change/", "workflow")
    part(page, camera, "ul.object-tools", "workflow-buttons")
    page.click("#copy-to-live-link")
    check.check("copy-choose")
    page.select_option("#copy-connection", str(live.pk))
    page.click("#copy-choose input[type=submit]")
    expect(page.locator("#copy-stripe-ids")).to_contain_text(TEST_PRICE)
    expect(page.locator("#copy-live-copy")).to_contain_text("None yet")
    check.check("copy-preview")

    page.click("#copy-submit")  # not confirmed
    expect(page.locator("#copy-problems")).to_contain_text("confirm_live")
    page.fill(f"input[name='replace_{TEST_PRICE}']", LIVE_PRICE)
    page.check("#copy-confirm")
    page.click("#copy-submit")
    expect(page.locator("ul.messagelist")).to_contain_text("Created the live copy")
    check.check("copied")
    copy = Workflow.objects.get(copied_from=workflow)
    assert (copy.connection_id, copy.active) == (live.pk, False)
    assert copy.steps.get(name="item").input_mapping["pricing"] == {"price": LIVE_PRICE}

    services.set_active(copy, True)
    step = workflow.steps.get(name="item")
    step.max_items = 50
    step.save()
    Step.objects.create(
        workflow=workflow,
        order=3,
        name="recheck",
        action_key="find_invoice",
        input_mapping={"id": "{{ trigger.data.object.id }}"},
    )
    check.visit(
        f"{base}/admin/workflows/workflow/{workflow.pk}/copy-to-live/?connection={live.pk}",
        "copy-again-preview",
    )
    expect(page.locator("#copy-will-deactivate")).to_be_visible()
    expect(page.locator(f"input[name='replace_{TEST_PRICE}']")).to_have_value(LIVE_PRICE)
    differences = page.locator("#copy-differences")
    expect(differences).to_contain_text("steps[item].max_items")
    expect(differences).to_contain_text("steps[recheck]")
    expect(differences).not_to_contain_text("pricing.price")  # copied with the live id
    part(page, camera, "#copy-differences-module", "differences")
    page.emulate_media(color_scheme="dark")
    check.check("copy-again-preview-dark")
    page.emulate_media(color_scheme="light")

    page.check("#copy-confirm")
    page.click("#copy-submit")
    expect(page.locator("ul.messagelist")).to_contain_text("It was active: it is now inactive.")
    check.check("copied-again")
    part(page, camera, "ul.messagelist", "copied-again-message")
    copy.refresh_from_db()
    assert not copy.active
    assert list(copy.steps.values_list("name", flat=True)) == ["find", "item", "recheck"]
