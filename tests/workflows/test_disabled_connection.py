"""No Stripe call with the key of a disabled connection, from any path of the workflows app."""

import pytest
from django.urls import reverse
from django.utils import timezone

from connections.models import Connection, InboxEvent
from workflows import services, tasks
from workflows.models import Run, RunStatus, Step, StepRun

from .conftest import API, make_workflow, sample_event

pytestmark = pytest.mark.django_db

DISABLED = Connection.Status.DISABLED


def disable(connection: Connection) -> None:
    """What staff do in admin or the API: the row changes, loaded objects do not."""
    Connection.objects.filter(pk=connection.pk).update(status=DISABLED)


def stored_event(connection: Connection) -> InboxEvent:
    """An event the receiver stored in the seconds before it saw the connection disabled."""
    event = sample_event("customer.created", id="cus_D")
    return InboxEvent.objects.create(
        connection=connection,
        stripe_event_id=event["id"],
        type=event["type"],
        created=timezone.now(),
        livemode=False,
        payload=event,
    )


def three_steps(connection):
    return make_workflow(
        connection,
        "customer.created",
        [
            ("find", "find_customer", {"id": "{{ trigger.data.object.id }}"}),
            ("second", "find_customer", {"id": "cus_2"}, Step.OnFailure.CONTINUE),
            ("third", "find_customer", {"id": "cus_3"}),
        ],
    )


def test_a_run_caught_in_flight_stops_before_its_next_call(connection, deliver, stripe):
    three_steps(connection)

    def answer_then_disable(request):
        disable(connection)  # staff disable it while the first call is on its way
        return 200, {}, '{"id": "cus_D", "object": "customer"}'

    stripe.add_callback("GET", f"{API}/v1/customers/cus_D", callback=answer_then_disable)

    deliver(connection, sample_event("customer.created", id="cus_D"))

    assert len(stripe.calls) == 1
    run = Run.objects.get()
    assert run.status == RunStatus.FAILED
    second = StepRun.objects.get(step_name="second")
    assert second.status == RunStatus.FAILED
    assert second.error["type"] == "connection_disabled"
    assert "is disabled" in run.error
    # on_failure=continue does not reach the next step: it would use the same key.
    assert StepRun.objects.get(step_name="third").status == RunStatus.SKIPPED


def test_an_event_of_a_disabled_connection_creates_no_run(connection, stripe):
    three_steps(connection)
    event = stored_event(connection)
    disable(connection)

    assert tasks.dispatch_event(event.pk) == []

    assert not Run.objects.exists()
    event.refresh_from_db()
    assert event.status == InboxEvent.Status.IGNORED
    assert event.status_detail == "The connection is disabled: no run was created."


def test_a_schedule_tick_of_a_disabled_connection_creates_no_run(connection, stripe):
    workflow = make_workflow(connection, "schedule", [("a", "get_account", {})], schedule_minutes=5)
    disable(connection)
    assert services.run_scheduled(workflow.pk) is None
    assert not Run.objects.exists()


@pytest.fixture
def failed_run(connection, stripe, on_commit) -> Run:
    make_workflow(connection, "customer.created", [("find", "find_customer", {"id": "cus_X"})])
    stripe.get(f"{API}/v1/customers/cus_X", status=404, json={"error": {"message": "No such"}})
    event = stored_event(connection)
    with on_commit():
        tasks.dispatch_event(event.pk)
    run = Run.objects.get()
    assert run.status == RunStatus.FAILED
    return run


@pytest.mark.parametrize("replay", [services.resume_run, services.rerun])
def test_resume_and_rerun_are_refused_with_a_message(connection, failed_run, stripe, replay):
    disable(connection)
    calls = len(stripe.calls)

    with pytest.raises(services.ReplayError, match="is disabled: enable it before"):
        replay(failed_run)

    assert len(stripe.calls) == calls
    assert Run.objects.count() == 1
    failed_run.refresh_from_db()
    assert failed_run.status == RunStatus.FAILED


@pytest.mark.parametrize("action", ["resume_selected", "rerun_selected"])
def test_admin_refuses_resume_and_rerun_with_a_message(
    connection, failed_run, stripe, staff_client, action
):
    disable(connection)
    page = staff_client.post(
        reverse("admin:workflows_run_changelist"),
        {"action": action, "_selected_action": [failed_run.pk], "confirm": "yes"},
        follow=True,
    )
    shown = [str(message) for message in page.context["messages"]]
    assert any("is disabled: enable it before" in message for message in shown), shown
    assert Run.objects.count() == 1 and len(stripe.calls) == 1


def test_test_a_step_sends_nothing_for_a_disabled_connection(connection, stripe, staff_client):
    workflow = make_workflow(connection, "customer.updated", [("a", "get_account", {})])
    disable(connection)
    url = reverse("admin:workflows_test_step", args=[workflow.pk])

    page = staff_client.post(url, {"step": workflow.steps.get().pk})

    assert page.context["result"]["ok"] is False
    assert page.context["result"]["error"]["type"] == "connection_disabled"
    assert len(stripe.calls) == 0
