"""Spending a connection's key through the API needs ``use_connection``, whatever else one may.

Saving or activating a workflow whose steps call Stripe, running an action, testing
the connection, dispatching an event again and replaying runs all use the key.
"""

import pytest

from connections.inbox import ingest
from connections.models import Connection, InboxEvent
from tests.api.conftest import API, grant, token_client
from workflows.engine import create_run
from workflows.models import Run, RunStatus, Step, Workflow

pytestmark = pytest.mark.django_db

WORKFLOWS = "/api/v1/workflows/"
WORKFLOW_PERMS = ("view_workflow", "add_workflow", "change_workflow")
STEP = {"name": "find", "action_key": "find_customer", "input": {"id": "cus_1"}}
EVENT = {
    "id": "evt_1",
    "type": "customer.created",
    "created": 1,
    "livemode": False,
    "data": {"object": {"id": "cus_1"}},
}


def scheduled(connection, **fields) -> dict:
    body = {
        "name": "Every minute",
        "connection": str(connection.pk),
        "trigger_key": "schedule",
        "schedule_minutes": 1,
        "active": True,
        "steps": [STEP],
    }
    body.update(fields)
    return body


def refused(response, connection) -> None:
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["type"] == "permission_denied"
    assert f"may not use connection {connection.name!r}" in body["message"]


@pytest.fixture
def workflow_user(api_user):
    """May do anything with workflows, nothing with connections."""
    grant(api_user, *WORKFLOW_PERMS)
    return api_user


@pytest.fixture
def workflow(connection) -> Workflow:
    workflow = Workflow.objects.create(
        name="Existing", connection=connection, trigger_key="customer.created"
    )
    Step.objects.create(workflow=workflow, order=1, name="find", action_key="find_customer")
    return workflow


# --- workflows -----------------------------------------------------------------------------


def test_a_workflow_only_user_cannot_schedule_a_workflow_on_a_connection(workflow_user, connection):
    response = token_client(workflow_user).post(WORKFLOWS, scheduled(connection), format="json")
    refused(response, connection)
    assert not Workflow.objects.exists()


def test_a_workflow_only_user_cannot_create_inactive_steps_on_a_connection(
    workflow_user, connection
):
    body = scheduled(connection, active=False)
    refused(token_client(workflow_user).post(WORKFLOWS, body, format="json"), connection)
    assert not Workflow.objects.exists()


def test_a_workflow_without_steps_or_activation_needs_no_use(workflow_user, connection):
    body = scheduled(connection, active=False, steps=[])
    response = token_client(workflow_user).post(WORKFLOWS, body, format="json")
    assert response.status_code == 201, response.content
    assert Workflow.objects.get().owner is None


def test_a_workflow_only_user_cannot_activate_a_workflow(workflow_user, workflow, connection):
    response = token_client(workflow_user).post(f"{WORKFLOWS}{workflow.pk}/activate/")
    refused(response, connection)
    workflow.refresh_from_db()
    assert not workflow.active and workflow.owner is None


def test_a_workflow_only_user_cannot_change_the_steps_of_a_workflow(
    workflow_user, workflow, connection
):
    body = {"steps": [{**STEP, "input": {"id": "cus_2"}}]}
    response = token_client(workflow_user).patch(f"{WORKFLOWS}{workflow.pk}/", body, format="json")
    refused(response, connection)
    assert workflow.steps.get().input_mapping == {}


def test_deactivating_needs_no_use(workflow_user, workflow):
    Workflow.objects.filter(pk=workflow.pk).update(active=True)
    response = token_client(workflow_user).post(f"{WORKFLOWS}{workflow.pk}/deactivate/")
    assert response.status_code == 200
    workflow.refresh_from_db()
    assert not workflow.active


def test_who_saves_or_activates_with_the_use_permission_becomes_the_owner(
    workflow_user, workflow, connection
):
    grant(workflow_user, "use_connection")
    client = token_client(workflow_user)

    created = client.post(WORKFLOWS, scheduled(connection), format="json")
    assert created.status_code == 201, created.content
    assert Workflow.objects.get(pk=created.json()["id"]).owner == workflow_user

    assert client.post(f"{WORKFLOWS}{workflow.pk}/activate/").status_code == 200
    workflow.refresh_from_db()
    assert workflow.active and workflow.owner == workflow_user


# --- connections ----------------------------------------------------------------------------


def test_changing_a_connection_does_not_allow_running_actions(api_user, connection, stripe):
    grant(api_user, "view_connection", "change_connection")
    url = f"/api/v1/connections/{connection.pk}/actions/get_account/"
    response = token_client(api_user).post(url, {"input": {}}, format="json")
    assert response.status_code == 403
    assert len(stripe.calls) == 0


def test_testing_a_connection_needs_the_use_permission(api_user, connection, stripe):
    grant(api_user, "view_connection", "change_connection")
    client = token_client(api_user)
    url = f"/api/v1/connections/{connection.pk}/test/"

    assert client.post(url).status_code == 403
    assert len(stripe.calls) == 0

    grant(api_user, "use_connection")
    stripe.get(f"{API}/v1/account", json={"id": "acct_1Api", "object": "account"})
    assert client.post(url).status_code == 200


def test_syncing_the_webhook_endpoint_needs_the_use_permission(api_user, connection, stripe):
    grant(api_user, "view_connection", "change_connection")
    client = token_client(api_user)
    url = f"/api/v1/connections/{connection.pk}/sync-webhook/"

    assert client.post(url).status_code == 403
    assert len(stripe.calls) == 0

    grant(api_user, "use_connection")
    stripe.delete(f"{API}/v1/webhook_endpoints/we_1Api", json={"id": "we_1Api", "deleted": True})
    assert client.post(url).status_code == 200


def test_deleting_a_connection_needs_the_use_permission(api_user, connection, stripe):
    """Deleting deletes its endpoint in Stripe first, with the stored key."""
    grant(api_user, "view_connection", "delete_connection")
    client = token_client(api_user)
    url = f"/api/v1/connections/{connection.pk}/"

    refused(client.delete(url), connection)
    assert len(stripe.calls) == 0
    assert Connection.objects.filter(pk=connection.pk).exists()

    grant(api_user, "use_connection")
    stripe.delete(f"{API}/v1/webhook_endpoints/we_1Api", json={"id": "we_1Api", "deleted": True})
    assert client.delete(url).json() == {"deleted": True, "warning": ""}
    assert not Connection.objects.filter(pk=connection.pk).exists()


def test_dispatching_again_needs_to_create_runs_and_use_the_connection(api_user, connection):
    event, _ = ingest(connection, EVENT)
    InboxEvent.objects.filter(pk=event.pk).update(status=InboxEvent.Status.DISPATCHED)
    grant(api_user, "view_inboxevent", "change_inboxevent", "add_run")
    client = token_client(api_user)
    url = f"/api/v1/events/{event.pk}/dispatch-again/"

    assert client.post(url).status_code == 403
    event.refresh_from_db()
    assert event.status == InboxEvent.Status.DISPATCHED

    grant(api_user, "use_connection")
    assert client.post(url).status_code == 200


# --- runs ------------------------------------------------------------------------------------


@pytest.fixture
def failed_run(workflow) -> Run:
    run = create_run(workflow, enqueue=False, apply_filters=False)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.FAILED)
    run.step_runs.update(status=RunStatus.FAILED)
    return run


@pytest.mark.parametrize(("action", "perm"), [("resume", "change_run"), ("rerun", "add_run")])
def test_replaying_needs_the_use_permission(api_user, failed_run, connection, action, perm):
    grant(api_user, "view_run", perm)
    response = token_client(api_user).post(f"/api/v1/runs/{failed_run.pk}/{action}/")
    refused(response, connection)
    assert Run.objects.count() == 1
    failed_run.refresh_from_db()
    assert failed_run.status == RunStatus.FAILED
