"""/api/v1/runs/: runs with filters, step runs in detail, resume and rerun."""

from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connections.models import Connection, InboxEvent
from tests.api.conftest import field_errors, grant, token_client
from tests.support.factories import event_envelope, inbox_event
from workflows.engine import create_run
from workflows.models import Run, RunStatus, Step, StepRun, Workflow

pytestmark = pytest.mark.django_db

LIST = "/api/v1/runs/"


def make_event(connection, number: int = 1) -> InboxEvent:
    """A stored customer.created event whose Stripe id is ``evt_api_<number>``."""
    return inbox_event(connection, event_envelope(id=f"evt_api_{number}"))


@pytest.fixture
def workflow(connection) -> Workflow:
    workflow = Workflow.objects.create(
        name="Tag customers", connection=connection, trigger_key="customer.created", active=True
    )
    Step.objects.create(
        workflow=workflow,
        order=1,
        name="tag",
        action_key="update_customer",
        input_mapping={"id": "{{ trigger.data.object.id }}", "metadata": {"seen": "yes"}},
    )
    return workflow


@pytest.fixture
def failed_run(workflow, connection) -> Run:
    """A run whose one step failed with a Stripe error."""
    run = create_run(workflow, event=make_event(connection))
    StepRun.objects.filter(run=run).update(
        status=RunStatus.FAILED,
        attempts=1,
        input={"id": "cus_1", "metadata": {"seen": "yes"}},
        error={"type": "invalid_request_error", "message": "No such customer: 'cus_1'"},
        request_id="req_failed",
    )
    Run.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, error="Step tag failed.")
    run.refresh_from_db()
    return run


def endpoints(run) -> list[tuple[str, str]]:
    return [
        ("get", LIST),
        ("get", f"{LIST}{run.pk}/"),
        ("post", f"{LIST}{run.pk}/resume/"),
        ("post", f"{LIST}{run.pk}/rerun/"),
    ]


def test_every_endpoint_needs_authentication(anonymous, failed_run):
    for method, url in endpoints(failed_run):
        assert getattr(anonymous, method)(url).status_code == 401, url


def test_every_endpoint_needs_a_model_permission(no_perms, failed_run):
    for method, url in endpoints(failed_run):
        assert getattr(no_perms, method)(url).status_code == 403, url


def test_a_read_only_token_may_not_replay(read_only_api, failed_run):
    for method, url in endpoints(failed_run):
        expected = 200 if method == "get" else 403
        assert getattr(read_only_api, method)(url).status_code == expected, url
    assert Run.objects.count() == 1
    failed_run.refresh_from_db()
    assert failed_run.status == RunStatus.FAILED


def test_replaying_needs_the_change_permission_on_runs(api_user, failed_run):
    grant(api_user, "view_run")
    client = token_client(api_user)
    assert client.get(f"{LIST}{failed_run.pk}/").status_code == 200
    assert client.post(f"{LIST}{failed_run.pk}/rerun/").status_code == 403


def test_the_detail_shows_each_step_run(superuser_api, failed_run, connection):
    response = superuser_api.get(f"{LIST}{failed_run.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "failed"
    assert body["workflow_name"] == "Tag customers"
    assert body["connection"] == str(connection.pk)
    assert body["stripe_event_id"] == "evt_api_1"
    [step] = body["step_runs"]
    assert step["step_name"] == "tag" and step["status"] == "failed"
    assert step["input"] == {"id": "cus_1", "metadata": {"seen": "yes"}}
    assert step["error"]["message"] == "No such customer: 'cus_1'"
    assert step["request_id"] == "req_failed" and step["attempts"] == 1
    assert step["idempotency_key"].startswith("konnectify-")


def test_the_list_filters_by_workflow_connection_status_and_date(
    superuser_api, failed_run, workflow, connection
):
    other = Connection.objects.create(name="Other", mode="test")
    other_workflow = Workflow.objects.create(
        name="Other", connection=other, trigger_key="customer.created"
    )
    old = create_run(other_workflow, event=make_event(other, 2))
    Run.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))

    def ids(**params):
        response = superuser_api.get(LIST, params)
        assert response.status_code == 200, response.content
        return [run["id"] for run in response.json()["results"]]

    assert ids() == [failed_run.pk, old.pk]
    assert ids(workflow=workflow.pk) == [failed_run.pk]
    assert ids(connection=str(other.pk)) == [old.pk]
    assert ids(status="failed") == [failed_run.pk]
    yesterday = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(created_after=yesterday) == [failed_run.pk]
    assert ids(created_before=yesterday) == [old.pk]
    assert ids(created_before="2000-01-01T00:00:00Z") == []


def test_bad_filters_are_named(superuser_api):
    response = superuser_api.get(
        LIST, {"status": "sleeping", "created_after": "yesterday", "workflow": "x"}
    )
    assert response.status_code == 400
    assert set(field_errors(response)) == {"workflow", "status", "created_after"}  # all at once
    assert list(field_errors(superuser_api.get(LIST, {"created_after": "yesterday"}))) == [
        "created_after"
    ]
    assert list(field_errors(superuser_api.get(LIST, {"status": "sleeping"}))) == ["status"]


def test_resume_restarts_the_failed_step_with_a_new_key(superuser_api, failed_run):
    old_key = failed_run.step_runs.get().idempotency_key
    response = superuser_api.post(f"{LIST}{failed_run.pk}/resume/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == failed_run.pk and body["status"] == "pending"
    [step] = body["step_runs"]
    assert step["status"] == "pending" and step["error"] is None
    assert step["idempotency_key"] != old_key


def test_rerun_creates_a_new_run(superuser_api, failed_run):
    response = superuser_api.post(f"{LIST}{failed_run.pk}/rerun/")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"] != failed_run.pk and body["replay"] == 1
    assert body["event"] == failed_run.event_id
    assert len(body["step_runs"]) == 1


def test_a_run_that_did_not_fail_cannot_be_resumed(superuser_api, failed_run):
    Run.objects.filter(pk=failed_run.pk).update(status=RunStatus.RUNNING)
    response = superuser_api.post(f"{LIST}{failed_run.pk}/resume/")
    assert response.status_code == 409
    assert response.json() == {
        "type": "conflict",
        "message": "Only a failed run can be resumed.",
        "errors": [],
    }
    response = superuser_api.post(f"{LIST}{failed_run.pk}/rerun/")
    assert response.status_code == 409
    assert response.json()["message"] == "A run still in progress cannot be re-run."
    assert superuser_api.post(f"{LIST}424242/rerun/").status_code == 404


def test_a_second_rerun_answers_the_first_rerun(superuser_api, failed_run):
    first = superuser_api.post(f"{LIST}{failed_run.pk}/rerun/")
    again = superuser_api.post(f"{LIST}{failed_run.pk}/rerun/")
    assert (first.status_code, again.status_code) == (201, 200), again.content
    assert again.json()["id"] == first.json()["id"]
    assert Run.objects.count() == 2


def test_a_second_resume_is_a_conflict(superuser_api, failed_run):
    assert superuser_api.post(f"{LIST}{failed_run.pk}/resume/").status_code == 200
    response = superuser_api.post(f"{LIST}{failed_run.pk}/resume/")
    assert response.status_code == 409


@pytest.mark.parametrize("replay", ["resume", "rerun"])
def test_replaying_a_run_of_a_disabled_connection_is_a_conflict(
    superuser_api, failed_run, connection, replay
):
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.DISABLED)
    response = superuser_api.post(f"{LIST}{failed_run.pk}/{replay}/")
    assert response.status_code == 409
    assert "is disabled: enable it before" in response.json()["message"]
    assert Run.objects.count() == 1


def test_a_step_run_shows_the_fields_left_out_because_they_rendered_empty(
    superuser_api, failed_run
):
    StepRun.objects.filter(run=failed_run).update(left_out_fields=["email", "metadata.source"])

    [step] = superuser_api.get(f"{LIST}{failed_run.pk}/").json()["step_runs"]

    assert step["left_out_fields"] == ["email", "metadata.source"]


def test_runs_are_found_by_stripe_event_id_and_by_the_events_object_id(
    superuser_api, workflow, connection
):
    def event_about(number: int, customer: str) -> InboxEvent:
        envelope = event_envelope(id=f"evt_api_{number}", data_object={"id": customer})
        return inbox_event(connection, envelope)

    first = create_run(workflow, event=event_about(1, "cus_Alice"), enqueue=False)
    second = create_run(workflow, event=event_about(2, "cus_Bob"), enqueue=False)

    def ids(**params):
        response = superuser_api.get(LIST, params)
        assert response.status_code == 200, response.content
        return [run["id"] for run in response.json()["results"]]

    assert ids(stripe_event_id="evt_api_2") == [second.pk]
    assert ids(object_id="cus_Alice") == [first.pk]
    assert ids(object_id="cus_Nobody") == []
    assert ids(event=first.event_id) == [first.pk]
    detail = superuser_api.get(f"{LIST}{second.pk}/").json()
    assert (detail["stripe_event_id"], detail["object_id"]) == ("evt_api_2", "cus_Bob")


def test_expand_steps_reads_a_page_of_runs_with_their_step_runs_in_one_request(
    superuser_api, failed_run, workflow, connection
):
    def expanded() -> tuple[dict, int]:
        with CaptureQueriesContext(db_connection) as queries:
            response = superuser_api.get(LIST, {"expand": "steps"})
        assert response.status_code == 200, response.content
        return {run["id"]: run for run in response.json()["results"]}, len(queries)

    plain = superuser_api.get(LIST).json()["results"]
    assert all("step_runs" not in run for run in plain)
    _, one_run = expanded()
    for number in (2, 3, 4):
        create_run(workflow, event=make_event(connection, number), enqueue=False)
    runs, four_runs = expanded()

    assert four_runs == one_run  # the step runs of a page in one query, not one per run
    assert len(runs) == 4
    [step] = runs[failed_run.pk]["step_runs"]
    assert step["error"]["message"] == "No such customer: 'cus_1'"
    assert all(len(run["step_runs"]) == 1 for run in runs.values())


def test_expand_takes_only_steps(superuser_api):
    response = superuser_api.get(LIST, {"expand": "everything"})
    assert list(field_errors(response)) == ["expand"]
