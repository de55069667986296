"""Every write endpoint refuses, by name, a body field it does not have; nothing changes."""

import pytest

from connections.models import Connection, InboxEvent
from tests.api.conftest import field_errors
from tests.api.test_runs_api import make_event
from workflows.engine import create_run
from workflows.models import Run, RunStatus, Step, Workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def workflow(connection) -> Workflow:
    workflow = Workflow.objects.create(
        name="Tag customers", connection=connection, trigger_key="customer.created"
    )
    Step.objects.create(workflow=workflow, order=1, name="find", action_key="find_customer")
    return workflow


@pytest.fixture
def failed_run(workflow) -> Run:
    run = create_run(workflow, event=make_event(workflow.connection))
    Run.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, error="Failed on purpose.")
    return run


def test_a_connection_update_with_an_unknown_field_changes_nothing(superuser_api, connection):
    response = superuser_api.patch(
        f"/api/v1/connections/{connection.pk}/",
        {"name": "Renamed", "api_key": "sk_test_typo"},
        format="json",
    )
    assert response.status_code == 400
    assert set(field_errors(response)) == {"api_key"}
    assert "secret_key" in field_errors(response)["api_key"]  # says what is accepted
    connection.refresh_from_db()
    assert connection.name == "API test account"


def test_a_connection_create_with_an_unknown_field_is_refused_before_stripe_is_asked(
    superuser_api, stripe
):
    body = {"name": "New", "secret_key": "sk_test_" + "a" * 30, "mode": "live", "colour": "red"}
    response = superuser_api.post("/api/v1/connections/", body, format="json")
    assert response.status_code == 400
    assert set(field_errors(response)) == {"colour"}  # mode is read-only, not unknown
    assert not Connection.objects.exists()


def test_a_workflow_with_an_unknown_field_is_refused(superuser_api, connection):
    body = {
        "name": "New",
        "connection": str(connection.pk),
        "trigger_key": "customer.created",
        "enabled": True,
    }
    response = superuser_api.post("/api/v1/workflows/", body, format="json")
    assert response.status_code == 400
    assert set(field_errors(response)) == {"enabled"}
    assert not Workflow.objects.exists()


def test_an_unknown_field_of_a_step_is_named_by_its_path(superuser_api, workflow):
    steps = [{"name": "find", "action_key": "find_customer", "inputs": {"email": "x"}}]
    response = superuser_api.patch(
        f"/api/v1/workflows/{workflow.pk}/", {"steps": steps}, format="json"
    )
    assert response.status_code == 400
    assert set(field_errors(response)) == {"steps[0].inputs"}


def test_unknown_and_invalid_fields_are_reported_together(superuser_api, connection):
    body = {"connection": str(connection.pk), "trigger_key": "no.such", "enabled": True}
    response = superuser_api.post("/api/v1/workflows/", body, format="json")
    assert response.status_code == 400
    assert {"name", "trigger_key", "enabled"} <= set(field_errors(response))


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/connections/{connection}/test/",
        "/api/v1/connections/{connection}/sync-webhook/",
        "/api/v1/workflows/{workflow}/activate/",
        "/api/v1/workflows/{workflow}/deactivate/",
        "/api/v1/runs/{run}/resume/",
        "/api/v1/runs/{run}/rerun/",
        "/api/v1/events/{event}/dispatch-again/",
    ],
)
def test_an_action_that_takes_no_body_refuses_any_field_and_does_nothing(
    superuser_api, connection, workflow, failed_run, stripe, path
):
    url = path.format(
        connection=connection.pk,
        workflow=workflow.pk,
        run=failed_run.pk,
        event=failed_run.event_id,
    )
    response = superuser_api.post(url, {"force": True}, format="json")
    assert response.status_code == 400
    assert field_errors(response) == {"force": "Unknown field: this action takes no body."}
    assert len(stripe.calls) == 0
    assert Run.objects.count() == 1
    assert InboxEvent.objects.get().status == InboxEvent.Status.RECEIVED
    workflow.refresh_from_db()
    assert not workflow.active


def test_an_action_that_takes_no_body_refuses_a_body_that_is_not_an_object(
    superuser_api, failed_run
):
    response = superuser_api.post(f"/api/v1/runs/{failed_run.pk}/rerun/", [1], format="json")
    assert response.status_code == 400
    assert Run.objects.count() == 1


def test_an_empty_object_or_no_body_is_fine_for_an_action_that_takes_none(
    superuser_api, workflow, stripe
):
    deactivate = f"/api/v1/workflows/{workflow.pk}/deactivate/"
    assert superuser_api.post(deactivate, {}, format="json").status_code == 200
    assert superuser_api.post(deactivate).status_code == 200
