"""POST /api/v1/runs/{id}/cancel/: a pending or retrying run stops; an ended one is a 409."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.api.conftest import field_errors, grant, token_client
from tests.support.factories import event_envelope, inbox_event
from workflows.engine import create_run
from workflows.models import Run, RunStatus, Step, StepRun, Workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def retrying_run(connection) -> Run:
    """A run whose one step got a 500 and waits for its next attempt."""
    workflow = Workflow.objects.create(
        name="Tag customers", connection=connection, trigger_key="customer.created", active=True
    )
    Step.objects.create(
        workflow=workflow, order=1, name="tag", action_key="update_customer",
        input_mapping={"id": "{{ trigger.data.object.id }}"},
    )  # fmt: skip
    run = create_run(workflow, event=inbox_event(connection, event_envelope()), enqueue=False)
    StepRun.objects.filter(run=run).update(
        status=RunStatus.RETRYING, attempts=1, error={"type": "api_error", "message": "Down"}
    )
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RETRYING)
    run.refresh_from_db()
    return run


def url(run: Run) -> str:
    return f"/api/v1/runs/{run.pk}/cancel/"


def test_cancel_answers_the_canceled_run_with_its_canceled_steps(superuser_api, retrying_run):
    response = superuser_api.post(url(retrying_run))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == retrying_run.pk
    assert body["status"] == "canceled"
    assert body["error"].startswith("Canceled by root at ")
    assert body["finished_at"] is not None
    assert [step["status"] for step in body["step_runs"]] == ["canceled"]
    assert Run.objects.get().status == RunStatus.CANCELED


def test_a_run_that_ended_is_a_409_with_the_reason(superuser_api, retrying_run):
    Run.objects.filter(pk=retrying_run.pk).update(status=RunStatus.SUCCEEDED)

    response = superuser_api.post(url(retrying_run))

    assert response.status_code == 409
    assert response.json()["type"] == "conflict"
    assert response.json()["message"] == (
        f"Run {retrying_run.pk} has already ended (succeeded); only a pending or retrying "
        "run can be canceled."
    )
    assert Run.objects.get().status == RunStatus.SUCCEEDED


def test_canceling_twice_is_a_409_the_second_time(superuser_api, retrying_run):
    assert superuser_api.post(url(retrying_run)).status_code == 200
    second = superuser_api.post(url(retrying_run))
    assert second.status_code == 409
    assert "has already ended (canceled)" in second.json()["message"]


def test_canceling_needs_change_run_and_not_the_use_of_the_connection(api_user, retrying_run):
    grant(api_user, "view_run")
    viewer = token_client(api_user)
    assert viewer.post(url(retrying_run)).status_code == 403
    assert Run.objects.get().status == RunStatus.RETRYING

    grant(api_user, "change_run")  # no connections.use_connection
    assert token_client(api_user).post(url(retrying_run)).status_code == 200
    assert Run.objects.get().status == RunStatus.CANCELED


def test_a_read_only_token_and_anonymous_callers_may_not_cancel(
    read_only_api, anonymous, retrying_run
):
    assert anonymous.post(url(retrying_run)).status_code == 401
    assert read_only_api.post(url(retrying_run)).status_code == 403
    assert Run.objects.get().status == RunStatus.RETRYING


def test_cancel_takes_no_body(superuser_api, retrying_run):
    response = superuser_api.post(url(retrying_run), {"reason": "x"}, format="json")
    assert response.status_code == 400
    assert field_errors(response) == {"reason": "Unknown field: this action takes no body."}
    assert Run.objects.get().status == RunStatus.RETRYING


def test_an_unknown_run_is_a_404(superuser_api):
    assert superuser_api.post("/api/v1/runs/999999/cancel/").status_code == 404


def test_the_schema_documents_cancel_as_resume_and_rerun_are():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/runs/{id}/cancel/"]["post"]
    assert operation["summary"] == "Cancel a pending or retrying run"
    assert "requestBody" not in operation
    assert {"200", "401", "403", "404", "409"} <= set(operation["responses"])
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ok.endswith("/RunDetail")
    assert operation["tags"] == ["runs"]
