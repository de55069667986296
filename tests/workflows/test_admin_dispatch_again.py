"""Admin's "Dispatch again" does what the API's dispatch-again does: it creates the runs
now and says, per workflow, what happened; an event that cannot be dispatched again
(disabled connection, pruned payload, the other mode's event) is refused by name."""

import pytest
from django.urls import reverse
from django.utils import timezone

from connections.models import Connection, InboxEvent
from tests.support.factories import inbox_event
from workflows.models import Run, RunStatus

from .conftest import make_workflow

pytestmark = pytest.mark.django_db

INBOX = "admin:connections_inboxevent_changelist"
FIND = [("find", "find_customer", {"id": "{{ trigger.data.object.id }}"})]
ONLY_DELINQUENT = [{"path": "data.object.delinquent", "op": "equals", "value": True}]


def dispatch_again(client, *events) -> list[str]:
    """Run the admin action on ``events``; the messages it shows."""
    response = client.post(
        reverse(INBOX),
        {"action": "dispatch_again_action", "_selected_action": [e.pk for e in events]},
        follow=True,
    )
    assert response.status_code == 200
    return [str(message) for message in response.context["messages"]]


def test_dispatch_again_creates_the_runs_now_and_reports_each_workflow(staff_client, connection):
    sync = make_workflow(connection, "customer.created", FIND, name="Sync")
    picky = make_workflow(
        connection, "customer.created", FIND, name="Picky", filters=ONLY_DELINQUENT
    )
    idle = make_workflow(connection, "customer.created", FIND, name="Idle", active=False)
    event = inbox_event(connection, status=InboxEvent.Status.DISPATCHED)

    [message] = dispatch_again(staff_client, event)

    created = Run.objects.get(workflow=sync, event=event)
    skipped = Run.objects.get(workflow=picky, event=event)
    assert skipped.status == RunStatus.SKIPPED
    assert message.startswith(f"{event.stripe_event_id}: ")
    assert f"Workflow 'Sync' (#{sync.pk}): created run {created.pk}." in message
    assert f"Workflow 'Picky' (#{picky.pk}): filtered out, recorded as skipped run" in message
    assert f"Workflow 'Idle' (#{idle.pk}): inactive: activate it first." in message
    event.refresh_from_db()
    assert event.status_detail == "Dispatched again through admin: 1 run(s) created."


def test_dispatch_again_says_which_run_an_event_already_started(staff_client, connection):
    sync = make_workflow(connection, "customer.created", FIND, name="Sync")
    event = inbox_event(connection)
    dispatch_again(staff_client, event)
    first = Run.objects.get(workflow=sync, event=event)

    [message] = dispatch_again(staff_client, event)
    Run.objects.filter(pk=first.pk).update(status=RunStatus.SUCCEEDED)
    [after_it_ended] = dispatch_again(staff_client, event)

    status = first.get_status_display().lower()
    assert f"Workflow 'Sync' (#{sync.pk}): already started run {first.pk}, still {status}" in (
        message
    )
    assert f"already ran as run {first.pk} (re-run that run to run it again)." in after_it_ended
    assert Run.objects.filter(workflow=sync, event=event).count() == 1


def test_dispatch_again_refuses_by_name_what_cannot_be_dispatched(staff_client, connection):
    make_workflow(connection, "customer.created", FIND, name="Sync")
    other_mode = inbox_event(connection, status=InboxEvent.Status.MODE_MISMATCH)
    pruned = inbox_event(connection, payload={}, payload_pruned_at=timezone.now())

    messages = dispatch_again(staff_client, other_mode, pruned)

    assert messages == [
        f"{other_mode.stripe_event_id} not dispatched: This event's mode differs from its "
        "connection's; it is not dispatched.",
        f"{pruned.stripe_event_id} not dispatched: This event's payload was pruned "
        "(RETENTION_DAYS); it cannot be dispatched again.",
    ]
    assert not Run.objects.exists()


def test_dispatch_again_refuses_the_events_of_a_disabled_connection(staff_client, connection):
    make_workflow(connection, "customer.created", FIND, name="Sync")
    event = inbox_event(connection, status=InboxEvent.Status.DISPATCHED)
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.DISABLED)

    [message] = dispatch_again(staff_client, event)

    assert message == (
        f"{event.stripe_event_id} not dispatched: Connection 'Workflows test account' is "
        "disabled: it runs nothing."
    )
    assert not Run.objects.exists()
    event.refresh_from_db()
    assert event.status == InboxEvent.Status.DISPATCHED
