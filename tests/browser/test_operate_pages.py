"""The pages staff operate from, seen at 1280x800: the connections list and a connection's
page with its buttons (Test connection against localstripe), the inbox and an event's page
with its runs and Dispatch again's report per workflow, and the runs chart (index and a
workflow's page) with its date axis and bars opening the runs they count.

Each page must fit the width (the connections list's columns too, without scrolling in
their box), log no console error, load nothing from outside 127.0.0.1 and is kept as a
screenshot (one in admin's dark theme).
"""

import re
from datetime import timedelta
from itertools import count

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from connections.models import Connection
from tests.browser.admin_pages import ADMIN, PageCheck, sign_in
from tests.e2e.stack import unique, wait_for
from tests.support.factories import event_envelope, inbox_event, make_workflow
from workflows.engine import create_run
from workflows.models import Run, RunStatus

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow]

FIND = [("find", "find_customer", {"id": "{{ trigger.data.object.id }}"})]
ONLY_DELINQUENT = [{"path": "data.object.delinquent", "op": "equals", "value": True}]
TICKS = count(1)
BAR_LABEL = re.compile(r"^(\w+ \d+): (\d+) (\w+) \(open the runs list\)$")


@pytest.fixture
def check(page, camera) -> PageCheck:
    page.set_viewport_size({"width": 1280, "height": 800})
    return PageCheck(page, camera)


def add_runs(workflow, status: str, days_ago: int, n: int) -> None:
    """``n`` finished runs of ``workflow`` created ``days_ago`` days ago (noon, UTC)."""
    day = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    for _ in range(n):
        tick = timezone.now() - timedelta(days=400, seconds=next(TICKS))
        run = create_run(workflow, scheduled_for=tick, enqueue=False)
        Run.objects.filter(pk=run.pk).update(
            status=status, created_at=day - timedelta(days=days_ago)
        )


def assert_columns_fit(page: Page, what: str) -> None:
    """The changelist's table needs no scrolling in its box, its last column in view."""
    box = page.evaluate(
        "() => { const r = document.querySelector('#changelist .results');"
        " const last = document.querySelector('#result_list thead th:last-child');"
        " return [r.scrollWidth, r.clientWidth, last.getBoundingClientRect().right,"
        " window.innerWidth]; }"
    )
    assert box[0] <= box[1], f"{what}: the table scrolls in its box {box}"
    assert box[2] <= box[3], f"{what}: the last column ends off-screen {box}"


def open_bar_and_count(page: Page, bar) -> tuple[int, str]:
    """Click a chart bar; the count and status it said, once the runs list it opens is shown."""
    label = bar.get_attribute("aria-label")
    found = BAR_LABEL.match(label)
    assert found, label
    bar.locator("rect").click()
    expect(page.locator("#changelist")).to_be_visible()
    return int(found.group(2)), found.group(3)


def test_operating_pages_at_1280(page, check, stack, admin_user, stripe_connection):
    base = stack.web_url
    connection = stripe_connection
    # What an operator sees on a bad day: a long problem (a URL inside) on a second connection.
    troubled = Connection.objects.create(
        name=unique("Restricted EU account with a long name"),
        key_hint="rk_live_...wxyz",
        mode=Connection.Mode.LIVE,
        key_kind=Connection.KeyKind.RESTRICTED,
        account_id="acct_1LongAccountId0000",
        account_name="Example Store Europe GmbH",
        status=Connection.Status.INVALID,
        status_message="Stripe refused the key (401 Unauthorized): Invalid API Key provided: "
        "rk_live_...wxyz; see https://dashboard.stripe.com/apikeys/restricted-keys/overview",
        webhook_status=Connection.WebhookStatus.ERROR,
        webhook_error="The endpoint https://konnectify.example.com/webhooks/stripe/"
        "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9/ was disabled in Stripe's dashboard.",
        last_event_at=timezone.now() - timedelta(days=3),
    )
    # The event and the workflows waiting for its type.
    event = inbox_event(connection, event_envelope("customer.created", livemode=False))
    sync = make_workflow(connection, "customer.created", FIND, name=unique("Sync"))
    picky = make_workflow(
        connection, "customer.created", FIND, name=unique("Picky"), filters=ONLY_DELINQUENT
    )
    ran = make_workflow(connection, "customer.created", FIND, name=unique("Ran before"))
    idle = make_workflow(connection, "customer.created", FIND, name=unique("Idle"), active=False)
    earlier = create_run(ran, event=event, enqueue=False)
    Run.objects.filter(pk=earlier.pk).update(status=RunStatus.SUCCEEDED)
    # Runs over the last days, for the chart.
    chart = make_workflow(connection, "customer.updated", FIND, name=unique("Chart"), active=False)
    add_runs(chart, RunStatus.SUCCEEDED, 3, 4)
    add_runs(chart, RunStatus.FAILED, 3, 2)
    add_runs(chart, RunStatus.SUCCEEDED, 12, 3)
    add_runs(idle, RunStatus.SUCCEEDED, 3, 5)

    sign_in(page, base, *ADMIN)

    # The index: the chart's date axis, and a bar that opens the runs it counts.
    check.visit(f"{base}/admin/", "index-chart")
    expect(page.locator(".runs-chart .date-axis text").first).to_be_visible()
    assert page.locator(".runs-chart .date-axis > text:not([font-weight])").count() == 30
    expect(page.locator("#user-tools")).not_to_contain_text("View site")
    page.emulate_media(color_scheme="dark")  # the axis' labels follow the theme's colours
    check.check("index-chart-dark", full_page=False)
    page.emulate_media(color_scheme="light")
    bars = page.locator(".runs-chart svg a")
    expect(bars.first).to_be_visible()
    biggest = max(
        range(bars.count()), key=lambda i: bars.nth(i).locator("rect").bounding_box()["height"]
    )
    n, status = open_bar_and_count(page, bars.nth(biggest))
    assert (n, status) == (9, "succeeded")  # day -3: the Chart's four and the Idle's five
    expect(page.locator("#result_list tbody tr")).to_have_count(n)
    check.check("index-bar-runs-list")

    # The connections list: every column in view, without scrolling.
    check.visit(f"{base}/admin/connections/connection/", "connections-list")
    assert_columns_fit(page, "connections list")
    row = page.locator("#result_list tr", has_text=troubled.name)
    expect(row).to_contain_text("Live")
    expect(row).to_contain_text("3 days ago")
    expect(row).to_contain_text("disabled in Stripe's dashboard")
    expect(page.locator("#result_list thead")).to_contain_text("API key")

    # A connection's page: Test connection against localstripe, then Sync.
    check.visit(f"{base}/admin/connections/connection/{connection.pk}/change/", "connection")
    expect(page.locator("label[for=id_api_version]")).to_have_text("API version:")
    expect(page.locator("label[for=id_api_base]")).to_have_text("API base:")
    said = re.compile(re.escape(f"{connection.name}: "), re.IGNORECASE)  # capitalised by CSS
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("ul.messagelist")).to_contain_text(said)
    expect(page.locator("ul.messagelist")).to_contain_text("The key works")
    expect(page.locator("ul.messagelist .error")).to_have_count(0)
    check.check("connection-tested")
    page.get_by_role("button", name="Sync webhook endpoint").click()
    expect(page.locator("ul.messagelist")).to_contain_text(said)
    check.check("connection-synced")

    # A manual-mode connection's setup text: its list of event types starts at the text's edge.
    manual = Connection.objects.create(
        name=unique("Manual endpoint"),
        key_hint="sk_test_...abcd",
        webhook_mode=Connection.WebhookMode.MANUAL,
    )
    check.visit(f"{base}/admin/connections/connection/{manual.pk}/change/", "connection-manual")
    setup = page.locator(".field-webhook_setup .readonly")
    expect(setup.locator("li")).to_have_text("none in use yet")
    text_left = setup.bounding_box()["x"]
    item_left = setup.locator("li").bounding_box()["x"]
    assert abs(item_left - text_left) <= 2, (item_left, text_left)
    page.emulate_media(color_scheme="dark")  # admin's "auto" theme follows it
    check.check("connection-dark")
    page.emulate_media(color_scheme="light")

    # The inbox: live mode as text, the runs as a count linking to them.
    check.visit(f"{base}/admin/connections/inboxevent/", "inbox-list")
    assert_columns_fit(page, "inbox list")
    event_row = page.locator("#result_list tr", has_text=event.stripe_event_id)
    expect(event_row).to_contain_text("Test")
    expect(event_row.locator("img[alt=False]")).to_have_count(0)
    event_row.get_by_role("link", name="1", exact=True).click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    check.check("inbox-event-runs-list")

    # The event's page: its runs, then Dispatch again and the report per workflow.
    check.visit(f"{base}/admin/connections/inboxevent/{event.pk}/change/", "event")
    expect(page.locator("h1")).to_have_text("View inbox event")
    expect(page.locator(".event-runs")).to_contain_text(f"Run {earlier.pk}")
    expect(page.locator(".event-runs")).to_contain_text(ran.name)
    page.get_by_role("button", name="Dispatch again").click()
    report = page.locator(".dispatch-report")
    expect(report).to_be_visible()
    # POST/redirect/GET: the report is a GET page, so a reload never dispatches again.
    assert page.url.endswith(f"/admin/connections/inboxevent/{event.pk}/dispatch-again/report/")
    created = Run.objects.get(workflow=sync, event=event)
    skipped = Run.objects.get(workflow=picky, event=event)
    for workflow, result, what in (
        (sync, "Created", f"created run {created.pk}."),
        (picky, "Filtered out", f"filtered out, recorded as skipped run {skipped.pk}"),
        (ran, "Already ran", f"already ran as run {earlier.pk}"),
        (idle, "Inactive", "inactive: activate it first."),
    ):
        line = report.locator("tr", has_text=workflow.name)
        expect(line).to_contain_text(result)
        expect(line).to_contain_text(what)
    expect(page.locator(".rerun-runs input[name=run]")).to_have_count(1)
    check.check("dispatch-again-report")
    page.get_by_role("button", name="Re-run the chosen runs").click()
    rerun = wait_for(lambda: Run.objects.filter(rerun_of=earlier).first())
    expect(page.locator("ul.messagelist")).to_contain_text(f"re-run as run {rerun.pk}.")
    expect(page.locator(".event-runs")).to_contain_text(f"Run {rerun.pk}")
    check.check("event-after-rerun")
    page.emulate_media(color_scheme="dark")
    check.check("event-dark")
    page.emulate_media(color_scheme="light")

    # A workflow's page: its chart's bars open that workflow's runs.
    check.visit(f"{base}/admin/workflows/workflow/{chart.pk}/change/", "workflow-chart")
    bars = page.locator(".runs-chart svg a")
    expect(bars).to_have_count(3)
    failed = page.locator(".runs-chart svg a[aria-label*=' failed ']")
    n, status = open_bar_and_count(page, failed)
    assert (n, status) == (2, "failed")
    assert f"workflow__id__exact={chart.pk}" in page.url
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    check.check("workflow-bar-runs-list")
