"""The runs pages at 1280x800: the list, a run's page, search by object id, cancel.

Every page fits the width, its own scrolling boxes included (a table that scrolls
inside its box is still too wide), logs no console error, loads nothing from outside
127.0.0.1 and is kept as a screenshot, in admin's light and dark themes.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.browser.admin_pages import ADMIN, PageCheck, sign_in
from tests.e2e.stack import finished_run, queue_is_empty, wait_for
from tests.support.factories import event_envelope, inbox_event
from workflows.automations import create_from_automation
from workflows.engine import step_run_for
from workflows.models import Run, RunStatus

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]

# Elements that scroll sideways inside the page: none may need to.
INNER_OVERFLOW = """() => [...document.querySelectorAll('body *')]
  .filter(el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX)
                && el.scrollWidth > el.clientWidth + 1)
  .map(el => `${el.tagName}.${el.className} ${el.scrollWidth} > ${el.clientWidth}`)"""


@pytest.fixture
def check(page, camera) -> PageCheck:
    page.set_viewport_size({"width": 1280, "height": 800})
    return PageCheck(page, camera)


def fits(page: Page, check: PageCheck, what: str) -> None:
    """``check`` the page in the light theme, then in the dark one; no inner box scrolls."""
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)  # admin's "auto" theme follows it
        check.check(f"{what}-{scheme}")
        assert page.evaluate(INNER_OVERFLOW) == [], f"{what} ({scheme}) scrolls inside"
    page.emulate_media(color_scheme="light")


def open_page(page: Page, url: str) -> None:
    """Go to ``url``, which must answer 200 (``fits`` then checks and keeps it)."""
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response)


def retrying_run(workflow) -> Run:
    """A run whose step got a 500 and waits an hour for its next attempt."""
    event = inbox_event(workflow.connection, event_envelope("customer.updated"))
    run = Run.objects.create(workflow=workflow, event=event, status=RunStatus.RETRYING)
    step_run = step_run_for(run, workflow.steps.get(), timezone.now())
    step_run.status, step_run.attempts = RunStatus.RETRYING, 1
    step_run.next_attempt_at = timezone.now() + timedelta(hours=1)
    step_run.input = {"id": event.object_id}
    step_run.error = {"type": "api_error", "message": "Stripe is down", "http_status": 500}
    step_run.save()
    return run


def test_the_runs_pages_fit_1280_and_a_retrying_run_is_canceled_from_its_page(
    page, check, stack, stripe_connection, admin_user
):
    base = stack.web_url
    workflow = create_from_automation("customer_updated_find_customer", stripe_connection)
    workflow.name = "When a customer is updated in Stripe, find them again " * 3
    workflow.active = True
    workflow.save()
    customers = [
        stack.localstripe.api("POST", "/v1/customers", {"email": f"{who}@example.com"})
        for who in ("ana", "ben")
    ]
    for customer in customers:
        stack.localstripe.api("POST", f"/v1/customers/{customer['id']}", {"description": "VIP"})
    wait_for(lambda: Run.objects.filter(workflow=workflow, status__in=Run.FINAL).count() == 2)
    run = finished_run(workflow)
    assert run.status == RunStatus.SUCCEEDED, run.error
    step_run = run.step_runs.get()
    assert step_run.request_id.startswith("req_")  # the stand-in sends Stripe's header

    sign_in(page, base, *ADMIN)

    # The list: badges, nothing pushed off to the side.
    open_page(page, f"{base}/admin/workflows/run/")
    expect(page.locator("#result_list .run-status-succeeded").first).to_be_visible()
    expect(page.locator("#result_list thead")).to_contain_text("Status")
    fits(page, check, "runs-list")

    # A run's page: read-only, JSON folded, the request id linked to Stripe's log.
    open_page(page, f"{base}/admin/workflows/run/{run.pk}/change/")
    expect(page.locator("h1").first).to_have_text("View run")
    output = page.locator(f"#step-run-{step_run.pk} details.run-json", has_text="Output")
    expect(output.locator("pre")).to_be_hidden()
    output.locator("summary").click()
    expect(output.locator("pre")).to_be_visible()
    expect(output.locator("pre")).to_contain_text(f'"id": "{step_run.output["id"]}"')
    link = page.locator("a.request-log")
    expect(link).to_have_text(step_run.request_id)
    expect(link).to_have_attribute(
        "href", f"https://dashboard.stripe.com/test/logs/{step_run.request_id}"
    )
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    fits(page, check, "run")

    # Search by the customer's id: exactly the run of the event about that customer.
    open_page(page, f"{base}/admin/workflows/run/")
    page.fill("#searchbar", customers[1]["id"])
    page.locator("#changelist-search input[type=submit]").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list tbody")).to_contain_text(customers[1]["id"])
    expect(page.locator("#result_list tbody")).not_to_contain_text(customers[0]["id"])
    fits(page, check, "runs-search")

    # Cancel a retrying run from its page, after a confirmation.
    waiting = retrying_run(workflow)
    key = waiting.step_runs.get().idempotency_key
    open_page(page, f"{base}/admin/workflows/run/{waiting.pk}/change/")
    expect(page.locator(".run-status-retrying").first).to_be_visible()
    fits(page, check, "retrying-run")
    page.click("button:has-text('Cancel run')")
    expect(page.locator("h1")).to_contain_text("Cancel these runs?")
    fits(page, check, "cancel-confirm")
    page.click("input[type=submit][value='Yes, cancel']")
    expect(page.locator("ul.messagelist")).to_contain_text("1 run(s) canceled.")
    fits(page, check, "canceled-message")
    open_page(page, f"{base}/admin/workflows/run/{waiting.pk}/change/")
    expect(page.locator(".field-status_column .run-status-canceled")).to_have_text("Canceled")
    expect(page.locator(".run-error-full")).to_contain_text(f"Canceled by {ADMIN[0]} at ")
    expect(page.locator("button:has-text('Cancel run')")).to_have_count(0)
    fits(page, check, "canceled-run")

    # Whatever wakes it now, nothing is sent for it.
    waiting.step_runs.update(next_attempt_at=timezone.now() - timedelta(minutes=1))
    from django_q.tasks import async_task

    async_task("workflows.tasks.run_workflow", waiting.pk, task_name="runs-pages-wake")
    async_task("workflows.tasks.sweep", task_name="runs-pages-sweep")
    wait_for(queue_is_empty)
    seen = stack.localstripe.control("GET", "requests").json()
    assert [r for r in seen if r["idempotency_key"] == key] == []
    assert Run.objects.get(pk=waiting.pk).status == RunStatus.CANCELED


def test_a_deep_page_of_the_runs_list_fits_and_shows_its_rows_in_order(
    page, check, stack, stripe_connection, admin_user
):
    """Page 12 of 1,150 runs is read ids first (``EstimatedCountPaginator``, from 1,000
    rows in): the same 50 rows, in the list's order, as any other page."""
    from connections.models import InboxEvent
    from tests.support.factories import make_workflow

    workflow = make_workflow(stripe_connection, "customer.updated", [], active=False)
    now = timezone.now()
    events = InboxEvent.objects.bulk_create(
        InboxEvent(
            connection=stripe_connection,
            stripe_event_id=f"evt_deep{n:05d}",
            type="customer.updated",
            object_id=f"cus_deep{n:05d}",
            created=now,
            livemode=False,
            payload={},
            received_at=now,
        )
        for n in range(1150)
    )
    Run.objects.bulk_create(
        Run(workflow=workflow, event=event, status=RunStatus.SUCCEEDED) for event in events
    )
    expected = list(Run.objects.order_by("-created_at", "-id").values_list("pk", flat=True))
    sign_in(page, stack.web_url, *ADMIN)

    open_page(page, f"{stack.web_url}/admin/workflows/run/?p=12")

    links = page.locator("#result_list tbody tr th a")
    expect(links).to_have_count(50)
    shown = [
        int(href.rstrip("/").split("/")[-3])
        for href in links.evaluate_all("links => links.map(link => link.getAttribute('href'))")
    ]
    assert shown == expected[1100:1150]
    fits(page, check, "runs-list-page-12")
