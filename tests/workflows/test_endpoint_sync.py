"""Activating, deactivating, deleting or retargeting a workflow resyncs the webhook endpoint."""

from urllib.parse import parse_qs

import pytest

from connections.models import Connection
from connections.tasks import check_webhook_endpoints
from connections.webhooks import event_types_in_use
from workflows.models import Workflow
from workflows.services import active_event_types, delete_workflow, save_workflow

from .conftest import API, make_workflow

pytestmark = pytest.mark.django_db

ENDPOINT = f"{API}/v1/webhook_endpoints/we_1Workflows"
STEPS = [("find", "find_customer", {"id": "{{ trigger.data.object.id }}"})]


def enabled_events(call) -> list[str]:
    return sorted(
        v
        for k, vs in parse_qs(call.request.body).items()
        if k.startswith("enabled_events")
        for v in vs
    )


def endpoint_answer(events):
    return {
        "id": "we_1Workflows",
        "object": "webhook_endpoint",
        "status": "enabled",
        "enabled_events": events,
        "url": "http://x",
        "api_version": "2026-04-22.dahlia",
    }


def test_activating_enables_the_workflows_event_type(connection, stripe, on_commit):
    stripe.post(ENDPOINT, json=endpoint_answer(["customer.updated"]))
    with on_commit():
        make_workflow(connection, "customer.updated", STEPS, active=True)

    assert enabled_events(stripe.calls[0]) == ["customer.updated"]
    connection.refresh_from_db()
    assert connection.webhook_enabled_events == ["customer.updated"]


def test_deactivating_and_changing_the_trigger_resync(connection, stripe, on_commit):
    stripe.post(ENDPOINT, json=endpoint_answer(["customer.updated", "invoice.paid"]))
    keep = make_workflow(connection, "customer.updated", STEPS, active=True)
    other = make_workflow(connection, "invoice.paid", STEPS, active=True)
    with on_commit():
        other.trigger_key = "invoice.created"
        save_workflow(other)
    assert enabled_events(stripe.calls[0]) == ["customer.updated", "invoice.created"]

    stripe.post(ENDPOINT, json=endpoint_answer(["invoice.created"]))
    with on_commit():
        keep.active = False
        save_workflow(keep)
    assert enabled_events(stripe.calls[1]) == ["invoice.created"]


def test_an_unchanged_save_does_not_call_stripe(connection, stripe, on_commit):
    workflow = make_workflow(connection, "customer.updated", STEPS, active=True)
    workflow = Workflow.objects.get(pk=workflow.pk)
    with on_commit():
        workflow.name = "Renamed"
        save_workflow(workflow)
    assert len(stripe.calls) == 0


def test_deleting_the_last_workflow_deletes_the_endpoint(connection, stripe, on_commit):
    workflow = make_workflow(connection, "customer.updated", STEPS, active=True)
    stripe.delete(ENDPOINT, json={"id": "we_1Workflows", "deleted": True})
    with on_commit():
        delete_workflow(workflow)
    assert stripe.calls[0].request.method == "DELETE"


def test_moving_a_workflow_to_another_connection_syncs_both(connection, stripe, on_commit):
    other = Connection.objects.create(
        name="Other",
        secret_key="sk_test_51OtherKey00000000000000000000abcd",
        mode="test",
        webhook_endpoint_id="we_2Other",
    )
    workflow = make_workflow(connection, "customer.updated", STEPS, active=True)
    stripe.delete(ENDPOINT, json={"id": "we_1Workflows", "deleted": True})
    stripe.post(f"{API}/v1/webhook_endpoints/we_2Other", json=endpoint_answer(["customer.updated"]))
    with on_commit():
        workflow.connection = other
        save_workflow(workflow)
    assert {call.request.url for call in stripe.calls} == {
        ENDPOINT,
        f"{API}/v1/webhook_endpoints/we_2Other",
    }


def test_a_failed_sync_is_shown_on_the_connection_and_retried_by_the_periodic_check(
    connection, stripe, on_commit
):
    stripe.post(
        ENDPOINT, status=500, json={"error": {"type": "api_error", "message": "Stripe is down"}}
    )
    with on_commit():
        make_workflow(connection, "customer.updated", STEPS, active=True)
    connection.refresh_from_db()
    assert "Stripe is down" in connection.webhook_error

    stripe.get(
        f"{API}/v1/webhook_endpoints",
        json={"object": "list", "data": [endpoint_answer([])], "has_more": False},
    )
    stripe.post(ENDPOINT, json=endpoint_answer(["customer.updated"]))
    check_webhook_endpoints()
    assert enabled_events(stripe.calls[-1]) == ["customer.updated"]
    connection.refresh_from_db()
    assert connection.webhook_error == ""


def test_event_types_in_use_are_those_of_active_event_workflows(connection):
    make_workflow(connection, "customer.updated", STEPS, active=True)
    make_workflow(connection, "invoice.paid", STEPS, active=False)
    make_workflow(connection, "schedule", STEPS, active=True, schedule_minutes=5)
    assert active_event_types(connection) == {"customer.updated"}
    # The workflows app answers for connections (registered in WorkflowsConfig.ready).
    assert event_types_in_use(connection) == ["customer.updated"]


def test_saving_in_admin_resyncs_the_endpoint(
    connection, stripe, staff_client, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    workflow = make_workflow(connection, "customer.updated", STEPS, active=False)
    stripe.post(ENDPOINT, json=endpoint_answer(["customer.updated"]))
    form = {
        "name": workflow.name,
        "connection": connection.pk,
        "active": "on",
        "trigger_key": "customer.updated",
        "filters": "[]",
        "steps-TOTAL_FORMS": "0",
        "steps-INITIAL_FORMS": "0",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:workflows_workflow_change", args=[workflow.pk]), form
        )
    assert response.status_code == 302, response.content
    assert enabled_events(stripe.calls[0]) == ["customer.updated"]


def test_the_admin_activate_action_resyncs(
    connection, stripe, staff_client, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    workflow = make_workflow(connection, "customer.updated", STEPS, active=False)
    stripe.post(ENDPOINT, json=endpoint_answer(["customer.updated"]))
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:workflows_workflow_changelist"),
            {"action": "activate", "_selected_action": [workflow.pk]},
        )
    assert response.status_code == 302
    workflow.refresh_from_db()
    assert workflow.active
    assert enabled_events(stripe.calls[0]) == ["customer.updated"]


def test_creating_an_inactive_workflow_does_not_call_stripe(connection, stripe, on_commit):
    with on_commit():
        make_workflow(connection, "customer.updated", STEPS, active=False)
    assert len(stripe.calls) == 0
