"""An inbox event's admin pages: the runs it started (a count linking to them in the list,
a table on its page), "Live"/"Test" for its mode, and the page's Dispatch again with a
report per workflow, offering to re-run the runs the event had already started."""

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from connections.models import Connection, InboxEvent
from tests.support.factories import event_envelope, inbox_event, make_workflow
from workflows.engine import create_run
from workflows.models import Run, RunStatus

pytestmark = pytest.mark.django_db

INBOX = "admin:connections_inboxevent_changelist"
FIND = [("find", "find_customer", {"id": "{{ trigger.data.object.id }}"})]
ONLY_DELINQUENT = [{"path": "data.object.delinquent", "op": "equals", "value": True}]


def page_url(event: InboxEvent) -> str:
    return reverse("admin:connections_inboxevent_change", args=[event.pk])


def dispatch_url(event: InboxEvent) -> str:
    return reverse("admin:connections_inboxevent_dispatch_again", args=[event.pk])


def rerun_url(event: InboxEvent) -> str:
    return reverse("admin:connections_inboxevent_rerun", args=[event.pk])


def finished_run(workflow, event, status=RunStatus.SUCCEEDED) -> Run:
    run = create_run(workflow, event=event, enqueue=False)
    Run.objects.filter(pk=run.pk).update(status=status)
    run.refresh_from_db()
    return run


@pytest.fixture
def event(connection) -> InboxEvent:
    return inbox_event(connection, status=InboxEvent.Status.DISPATCHED)


@pytest.fixture
def sync(connection):
    return make_workflow(connection, "customer.created", FIND, name="Sync")


def test_the_page_is_titled_view_not_change(staff_client, event):
    html = staff_client.get(page_url(event)).content.decode()

    assert "<h1>View inbox event</h1>" in html
    assert "Change inbox event" not in html


def test_live_mode_shows_as_live_or_test_text(staff_client, connection):
    live = inbox_event(connection, event_envelope(livemode=True))
    inbox_event(connection, event_envelope(livemode=False))

    listed = staff_client.get(reverse(INBOX)).content.decode()
    page = staff_client.get(page_url(live)).content.decode()

    assert 'alt="True"' not in listed and 'alt="False"' not in listed  # admin's tick and cross
    assert ">Live</span>" in listed and ">Test</span>" in listed
    assert "<label>Live mode:</label>" in page and ">Live</span>" in page
    filtered = staff_client.get(reverse(INBOX), {"livemode__exact": "1"}).content.decode()
    assert live.stripe_event_id in filtered and ">Test</span>" not in filtered


def test_the_list_shows_each_event_compactly(staff_client, event, sync):
    """Five columns: the event id (the link) over its type, the connection over the event's
    mode, status, runs, and when it was received over how."""
    finished_run(sync, event)

    response = staff_client.get(reverse(INBOX))

    headers = [str(header["text"]) for header in response.context["result_headers"]]
    assert headers[1:] == ["Event", "Connection", "Status", "Runs", "Received"]
    html = response.content.decode()
    link = f'<a href="{page_url(event)}" style="overflow-wrap:anywhere">{event.stripe_event_id}</a>'
    assert link in html
    assert "customer.created</div>" in html
    assert "Main test account<div>" in html and ">Test</span></div>" in html
    assert ">just now</span><div" in html and ">Webhook</div>" in html


def test_the_page_lists_the_runs_of_the_event_with_links(staff_client, event, sync):
    first = finished_run(sync, event, RunStatus.FAILED)
    other = make_workflow(event.connection, "customer.created", FIND, name="Other")
    second = finished_run(other, event)

    html = staff_client.get(page_url(event)).content.decode()

    run_page = reverse("admin:workflows_run_change", args=[first.pk])
    assert f'<a href="{run_page}">Run {first.pk}</a>' in html
    sync_page = reverse("admin:workflows_workflow_change", args=[sync.pk])
    assert f'<a href="{sync_page}">Sync</a>' in html
    assert f"Run {second.pk}</a>" in html and ">Other</a>" in html
    assert ">Failed</span>" in html and ">Succeeded</span>" in html
    assert html.index(f"Run {first.pk}</a>") < html.index(f"Run {second.pk}</a>")  # oldest first


def test_an_event_without_runs_says_so(staff_client, event):
    assert "This event started no run." in staff_client.get(page_url(event)).content.decode()


def test_run_links_are_left_out_for_who_may_not_view_runs(staff_as, event, sync):
    run = finished_run(sync, event)
    client = staff_as("view_inboxevent")

    html = client.get(page_url(event)).content.decode()

    assert f"Run {run.pk}" in html
    assert reverse("admin:workflows_run_change", args=[run.pk]) not in html


def test_the_list_counts_runs_and_links_to_exactly_them(staff_client, event, sync, connection):
    finished_run(sync, event)
    other = make_workflow(connection, "customer.created", FIND, name="Other")
    finished_run(other, event)
    unrelated = inbox_event(connection)
    finished_run(sync, unrelated)

    response = staff_client.get(reverse(INBOX))

    runs_list = reverse("admin:workflows_run_changelist")
    link = f"{runs_list}?event__id__exact={event.pk}"
    assert f'<a href="{link}">2</a>' in response.content.decode()
    listed = staff_client.get(link)
    assert listed.status_code == 200
    assert {run.pk for run in listed.context["cl"].result_list} == set(
        event.runs.values_list("pk", flat=True)
    )


def test_the_list_counts_runs_without_a_query_per_event(staff_client, connection, sync):
    def queries() -> int:
        with CaptureQueriesContext(db_connection) as captured:
            assert staff_client.get(reverse(INBOX)).status_code == 200
        return len(captured)

    finished_run(sync, inbox_event(connection))
    one = queries()
    for _ in range(5):
        finished_run(sync, inbox_event(connection))

    assert queries() == one


def test_the_page_offers_dispatch_again_as_a_post(staff_client, event):
    html = staff_client.get(page_url(event)).content.decode()

    assert f'<form method="post" action="{dispatch_url(event)}">' in html
    assert staff_client.get(dispatch_url(event)).status_code == 405


def test_dispatch_again_reports_each_workflow_with_its_run(staff_client, event, connection, sync):
    picky = make_workflow(
        connection, "customer.created", FIND, name="Picky", filters=ONLY_DELINQUENT
    )
    idle = make_workflow(connection, "customer.created", FIND, name="Idle", active=False)
    ran = make_workflow(connection, "customer.created", FIND, name="Ran before")
    earlier = finished_run(ran, event)

    response = staff_client.post(dispatch_url(event), follow=True)

    assert response.status_code == 200
    html = response.content.decode()
    created = Run.objects.get(workflow=sync, event=event)
    skipped = Run.objects.get(workflow=picky, event=event)
    for workflow, result, run in (
        (sync, "Created", created),
        (picky, "Filtered out", skipped),
        (ran, "Already ran", earlier),
    ):
        workflow_link = reverse("admin:workflows_workflow_change", args=[workflow.pk])
        run_link = reverse("admin:workflows_run_change", args=[run.pk])
        assert (
            f'<td><a href="{workflow_link}">{workflow.name}</a></td>\n      <td>{result}</td>\n'
            f'      <td><a href="{run_link}">Run {run.pk}</a>'
        ) in html
    assert f"created run {created.pk}." in html
    assert f"filtered out, recorded as skipped run {skipped.pk}" in html
    assert f"already ran as run {earlier.pk}" in html
    idle_page = reverse("admin:workflows_workflow_change", args=[idle.pk])
    assert f'<a href="{idle_page}">Idle</a>' in html
    assert "inactive: activate it first." in html
    # Re-running is offered for the workflow that had already run, and only for it.
    assert f'<input type="checkbox" name="run" value="{earlier.pk}" checked>' in html
    assert html.count('type="checkbox" name="run"') == 1
    assert f'action="{rerun_url(event)}"' in html


def test_dispatch_again_offers_the_latest_run_of_a_workflow_run_before(staff_client, event, sync):
    first = finished_run(sync, event)
    rerun = finished_run_of(first)

    html = staff_client.post(dispatch_url(event), follow=True).content.decode()

    assert f"already ran as run {rerun.pk}" in html
    assert f'name="run" value="{rerun.pk}" checked' in html


def finished_run_of(run: Run) -> Run:
    from workflows.services import start_rerun

    new, _ = start_rerun(run)
    Run.objects.filter(pk=new.pk).update(status=RunStatus.SUCCEEDED)
    return new


def test_a_run_in_progress_is_not_offered_for_a_re_run(staff_client, event, sync):
    run = create_run(sync, event=event, enqueue=False)  # pending

    html = staff_client.post(dispatch_url(event), follow=True).content.decode()

    assert (
        f"already started run {run.pk}, still pending: it can be re-run once it has ended." in html
    )
    assert "re-run that run" not in html  # nothing here offers it
    assert 'name="run"' not in html


def test_dispatch_again_redirects_to_its_report_so_a_reload_does_not_dispatch_again(
    staff_client, event, sync
):
    response = staff_client.post(dispatch_url(event))
    report = reverse("admin:connections_inboxevent_dispatch_again_report", args=[event.pk])

    assert response.status_code == 302 and response["Location"] == report
    created = Run.objects.get(workflow=sync, event=event)
    assert f"created run {created.pk}." in staff_client.get(report).content.decode()
    reload = staff_client.get(report, follow=True)  # F5 on the report: a GET, read once
    assert reload.redirect_chain == [(page_url(event), 302)]
    assert [str(m) for m in reload.context["messages"]] == [
        "The report of Dispatch again is shown once; the event's runs are listed here."
    ]
    assert Run.objects.filter(event=event).count() == 1
    assert staff_client.post(report).status_code == 405


def test_the_report_needs_the_rights_of_dispatch_again(staff_as, event, sync):
    client = staff_as("view_inboxevent", "add_run")  # may not use the connection
    report = reverse("admin:connections_inboxevent_dispatch_again_report", args=[event.pk])

    assert client.get(report).status_code == 403


def test_dispatch_again_when_no_workflow_waits(staff_client, event):
    html = staff_client.post(dispatch_url(event), follow=True).content.decode()

    assert "No workflow of its connection waits for customer.created." in html


def test_re_running_from_the_report_re_runs_those_runs(staff_client, event, sync, connection):
    earlier = finished_run(sync, event)
    elsewhere = finished_run(sync, inbox_event(connection))

    response = staff_client.post(rerun_url(event), {"run": [earlier.pk, elsewhere.pk]}, follow=True)

    assert response.redirect_chain == [(page_url(event), 302)]
    new = Run.objects.get(rerun_of=earlier)
    assert (new.event_id, new.replay, new.status) == (event.pk, 1, RunStatus.PENDING)
    assert not Run.objects.filter(rerun_of=elsewhere).exists()  # not this event's run
    assert [str(m) for m in response.context["messages"]] == [
        f"Run {earlier.pk} (Sync) re-run as run {new.pk}."
    ]
    assert f"Run {new.pk}</a> (re-run 1)" in response.content.decode()


def test_a_run_is_re_run_once(staff_client, event, sync):
    earlier = finished_run(sync, event)
    staff_client.post(rerun_url(event), {"run": [earlier.pk]}, follow=True)  # its message shown

    response = staff_client.post(rerun_url(event), {"run": [earlier.pk]}, follow=True)

    new = Run.objects.get(rerun_of=earlier)
    assert [str(m) for m in response.context["messages"]] == [
        f"Run {earlier.pk} was re-run already, as run {new.pk}."
    ]
    assert Run.objects.filter(event=event).count() == 2


def test_re_running_without_a_choice_says_so(staff_client, event):
    response = staff_client.post(rerun_url(event), {"run": ["x"]}, follow=True)

    assert [str(m) for m in response.context["messages"]] == ["Choose the runs to re-run."]


def test_an_event_that_cannot_be_dispatched_again_has_its_button_disabled(
    staff_client, connection, sync
):
    other_mode = inbox_event(connection, status=InboxEvent.Status.MODE_MISMATCH)

    html = staff_client.get(page_url(other_mode)).content.decode()
    response = staff_client.post(dispatch_url(other_mode), follow=True)

    assert 'disabled title="This event&#x27;s mode differs' in html
    assert [str(m) for m in response.context["messages"]] == [
        f"{other_mode.stripe_event_id} not dispatched: This event's mode differs from its "
        "connection's; it is not dispatched."
    ]
    assert not Run.objects.exists()


@pytest.mark.parametrize(
    "codenames",
    [
        ("view_inboxevent",),
        ("view_inboxevent", "add_run"),
        ("view_inboxevent", "use_connection"),
        ("add_run", "use_connection"),
    ],
    ids=["view-only", "without-use", "without-add-run", "without-viewing-events"],
)
def test_who_may_not_create_runs_with_the_key_neither_sees_nor_presses_the_buttons(
    staff_as, event, sync, codenames
):
    earlier = finished_run(sync, event)
    client = staff_as(*codenames)

    html = client.get(page_url(event)).content.decode()  # 403 without view_inboxevent

    assert "Dispatch again</button>" not in html
    assert client.post(dispatch_url(event)).status_code == 403
    assert client.post(rerun_url(event), {"run": [earlier.pk]}).status_code == 403
    assert Run.objects.filter(event=event).count() == 1
    event.refresh_from_db()
    assert event.status_detail == ""


def test_staff_who_may_create_runs_and_use_the_key_can(staff_as, event, sync):
    earlier = finished_run(sync, event)
    client = staff_as("view_inboxevent", "add_run", "use_connection")

    assert "Dispatch again</button>" in client.get(page_url(event)).content.decode()
    assert client.post(dispatch_url(event), follow=True).status_code == 200
    assert client.post(rerun_url(event), {"run": [earlier.pk]}).status_code == 302
    assert Run.objects.filter(rerun_of=earlier).exists()


def test_a_disabled_connections_event_is_refused(staff_client, event, sync):
    Connection.objects.filter(pk=event.connection_id).update(status=Connection.Status.DISABLED)

    response = staff_client.post(dispatch_url(event), follow=True)

    [message] = [str(m) for m in response.context["messages"]]
    assert "is disabled: it runs nothing." in message
    assert not Run.objects.exists()
