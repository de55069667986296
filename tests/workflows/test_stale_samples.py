"""A loaded sample event and Test a step outputs go when what they came from changes.

The sample event belongs to one event type of one Stripe account, a step's Test a step
output to its action: a change of trigger or connection clears them all, a change of a
step's action clears that step's, in admin and the API alike, and the page says so.
"""

import json

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from tests.api.conftest import token_client
from tests.support.factories import inbox_event, make_connection
from workflows import services, tryout
from workflows.models import Run, RunStatus, Step, StepRun, Workflow

from .conftest import API, make_workflow

pytestmark = pytest.mark.django_db

LIST = "/api/v1/workflows/"
LOADED = {"id": "evt_Loaded", "type": "customer.updated", "data": {"object": {"id": "cus_A"}}}
FIND = ("find", "find_customer", {"id": "{{ trigger.data.object.id }}"})
OUTPUT = {"id": "cus_A", "email": "a@account-a.example"}


@pytest.fixture
def workflow(connection) -> Workflow:
    """A customer.updated workflow with a loaded sample and a tested step."""
    workflow = make_workflow(connection, "customer.updated", [FIND], active=False)
    Workflow.objects.filter(pk=workflow.pk).update(sample_event=LOADED)
    workflow.steps.update(sample_output=OUTPUT, sample_output_at=timezone.now())
    workflow.refresh_from_db()
    return workflow


@pytest.fixture
def other_connection(db):
    return make_connection(
        name="Account B",
        secret_key="sk_test_51AccountBKey00000000000000000000000000000000000b",
        account_id="acct_1AccountB",
        webhook_secret="whsec_account_b_0123456789abcdef",
    )


@pytest.fixture
def api(django_user_model):
    user = django_user_model.objects.create_superuser("api-admin", "api@example.com", "pw-1234567!")
    return token_client(user)


def form_data(workflow: Workflow, **changes) -> dict:
    """What admin's change form posts for ``workflow`` and its one step, unchanged."""
    step = workflow.steps.get()
    data = {
        "name": workflow.name,
        "description": "",
        "connection": str(workflow.connection_id),
        "trigger_key": workflow.trigger_key,
        "custom_event_type": "",
        "schedule_cron": "",
        "schedule_minutes": "",
        "filters": "[]",
        "alert_emails": "",
        "alert_chat": "on",
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "1",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        "steps-0-id": str(step.pk),
        "steps-0-workflow": str(workflow.pk),
        "steps-0-order": str(step.order),
        "steps-0-name": step.name,
        "steps-0-action_key": step.action_key,
        "steps-0-input_mapping": json.dumps(step.input_mapping),
        "steps-0-on_failure": step.on_failure,
    }
    data.update(changes)
    return data


def post_change(client, workflow: Workflow, **changes):
    url = reverse("admin:workflows_workflow_change", args=[workflow.pk])
    return client.post(url, form_data(workflow, **changes), follow=True)


def step_sample(workflow: Workflow) -> tuple:
    return workflow.steps.values_list("sample_output", "sample_output_at").get()


def shown_messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)] + [
        str(message) for message in response.context["messages"]
    ]


# --- the one save path ---------------------------------------------------------------------


def test_a_trigger_change_clears_the_loaded_sample_and_the_steps_outputs(workflow):
    workflow.trigger_key = "invoice.created"
    services.save_workflow(workflow)

    workflow.refresh_from_db()
    assert workflow.sample_event is None
    assert workflow.sample()["type"] == "invoice.created"
    assert tryout.uses_catalog_sample(workflow)
    assert step_sample(workflow) == (None, None)
    assert "trigger changed" in workflow.samples_cleared


def test_a_custom_event_type_change_clears_the_sample(connection):
    workflow = make_workflow(
        connection, "custom", [], active=False, custom_event_type="charge.refunded"
    )
    Workflow.objects.filter(pk=workflow.pk).update(sample_event=LOADED)
    workflow.refresh_from_db()
    workflow.custom_event_type = "charge.captured"
    services.save_workflow(workflow)

    workflow.refresh_from_db()
    assert workflow.sample_event is None


def test_a_connection_change_clears_the_other_accounts_sample_and_outputs(
    workflow, other_connection
):
    workflow.connection = other_connection
    services.save_workflow(workflow)

    workflow.refresh_from_db()
    assert workflow.sample_event is None
    assert step_sample(workflow) == (None, None)
    assert "connection changed" in workflow.samples_cleared


def test_other_changes_keep_the_sample_and_the_outputs(workflow):
    workflow.name = "Renamed"
    workflow.filters = [{"path": "data.object.email", "op": "exists"}]
    services.save_workflow(workflow)

    workflow.refresh_from_db()
    assert workflow.sample_event == LOADED
    assert step_sample(workflow)[0] == OUTPUT
    assert workflow.samples_cleared == ""


def test_a_step_whose_action_changes_loses_its_output_others_keep_theirs(connection):
    workflow = make_workflow(
        connection,
        "customer.updated",
        [FIND, ("tag", "update_customer", {"id": "{{ steps.find.id }}"})],
        active=False,
    )
    workflow.steps.update(sample_output=OUTPUT, sample_output_at=timezone.now())
    find, tag = workflow.steps.order_by("order")
    find.action_key = "delete_customer"
    find.save()
    tag.input_mapping = {"id": "{{ steps.find.id }}", "description": "x"}
    tag.save()

    assert find.sample_cleared and not tag.sample_cleared
    assert Step.objects.get(pk=find.pk).sample_output is None
    assert Step.objects.get(pk=tag.pk).sample_output == OUTPUT


def test_saving_a_step_loaded_before_the_clear_does_not_write_the_old_output_back(workflow):
    step = workflow.steps.get()  # as admin's inline holds it while the workflow is saved
    workflow.trigger_key = "customer.created"
    services.save_workflow(workflow)
    step.input_mapping = {"id": "{{ trigger.data.object.id }}", "expand": ["x"]}
    step.save()

    assert step_sample(workflow) == (None, None)


# --- admin ---------------------------------------------------------------------------------


def test_admin_trigger_change_clears_the_sample_and_says_so(staff_client, workflow):
    response = post_change(staff_client, workflow, trigger_key="invoice.created")

    assert response.status_code == 200
    workflow.refresh_from_db()
    assert workflow.sample_event is None
    assert step_sample(workflow) == (None, None)
    assert any("trigger changed" in text for text in shown_messages(response))
    page = staff_client.get(reverse("admin:workflows_workflow_change", args=[workflow.pk]))
    assert "cus_A" not in page.content.decode()


def test_admin_connection_change_clears_the_sample_and_says_so(
    staff_client, workflow, other_connection
):
    response = post_change(staff_client, workflow, connection=str(other_connection.pk))

    workflow.refresh_from_db()
    assert workflow.connection == other_connection
    assert workflow.sample_event is None
    assert step_sample(workflow) == (None, None)
    assert any("connection changed" in text for text in shown_messages(response))


def test_admin_action_change_clears_that_steps_output_and_says_so(staff_client, workflow):
    response = post_change(
        staff_client,
        workflow,
        **{"steps-0-action_key": "delete_customer"},
    )

    workflow.refresh_from_db()
    assert workflow.sample_event == LOADED
    assert step_sample(workflow) == (None, None)
    assert any("Step find: its action changed" in text for text in shown_messages(response)), (
        shown_messages(response)
    )


def test_admin_save_without_such_a_change_keeps_both_and_says_nothing(staff_client, workflow):
    response = post_change(staff_client, workflow, name="Renamed")

    workflow.refresh_from_db()
    assert workflow.name == "Renamed"
    assert workflow.sample_event == LOADED
    assert step_sample(workflow)[0] == OUTPUT
    assert not any("cleared" in text for text in shown_messages(response))


def test_the_picker_offers_the_new_triggers_sample_after_a_trigger_change(staff_client, workflow):
    post_change(staff_client, workflow, trigger_key="invoice.created")
    body = staff_client.get(
        reverse("admin:workflows_editor_paths"),
        {"workflow": workflow.pk, "trigger_key": "invoice.created"},
    ).json()

    examples = {row["reference"]: row["example"] for row in body["trigger"]}
    assert '"cus_A"' not in examples.values()
    assert examples.get("trigger.type") == '"invoice.created"'


# --- the API -------------------------------------------------------------------------------


def test_api_trigger_change_clears_the_sample_and_warns(api, workflow):
    response = api.patch(
        f"{LIST}{workflow.pk}/",
        {
            "trigger_key": "invoice.created",
            "steps": [
                {"name": "find", "action_key": "find_customer", "input": {"id": "cus_1"}},
            ],
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    workflow.refresh_from_db()
    assert workflow.sample_event is None
    assert step_sample(workflow) == (None, None)
    fields = {warning["field"]: warning["message"] for warning in response.json()["warnings"]}
    assert "trigger changed" in fields["sample_event"]


def test_api_connection_change_clears_the_sample(api, workflow, other_connection):
    response = api.patch(
        f"{LIST}{workflow.pk}/", {"connection": str(other_connection.pk)}, format="json"
    )

    assert response.status_code == 200, response.json()
    workflow.refresh_from_db()
    assert workflow.sample_event is None
    assert step_sample(workflow) == (None, None)


def test_api_action_change_clears_that_steps_output_and_warns(api, workflow):
    response = api.patch(
        f"{LIST}{workflow.pk}/",
        {
            "steps": [
                {
                    "name": "find",
                    "action_key": "delete_customer",
                    "input": {"id": "{{ trigger.data.object.id }}"},
                },
            ]
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert step_sample(workflow) == (None, None)
    workflow.refresh_from_db()
    assert workflow.sample_event == LOADED
    fields = {warning["field"]: warning["message"] for warning in response.json()["warnings"]}
    assert "its action changed" in fields["steps[0].action_key"]


# --- Test a step: Stripe's request id of a failure -----------------------------------------


def test_a_failed_test_keeps_stripes_request_id_in_admin_and_the_api(
    staff_client, api, connection, stripe
):
    workflow = make_workflow(connection, "customer.updated", [FIND], active=False)
    Workflow.objects.filter(pk=workflow.pk).update(sample_event=LOADED)
    missing = {"error": {"type": "invalid_request_error", "code": "resource_missing"}}
    for request_id in ("req_AdminFailed", "req_ApiFailed"):
        stripe.get(
            f"{API}/v1/customers/cus_A",
            status=404,
            json=missing,
            headers={"Request-Id": request_id},
        )

    page = staff_client.post(
        reverse("admin:workflows_test_step", args=[workflow.pk]),
        {"step": workflow.steps.get().pk},
    )
    body = api.post(f"{LIST}{workflow.pk}/test-step/", {"step": "find"}, format="json").json()

    assert page.context["result"]["request_id"] == "req_AdminFailed"
    assert "failed (request req_AdminFailed)" in page.content.decode()
    assert body["ok"] is False
    assert body["request_id"] == body["error"]["request_id"] == "req_ApiFailed"


# --- real runs' outputs: only of this account and of the step's current action ------------

TWO = [FIND, ("tag", "update_customer", {"id": "{{ steps.find.id }}", "description": "seen"})]


def ran_find(workflow: Workflow, event, action_key: str = "find_customer") -> None:
    """A succeeded run of ``workflow`` for ``event`` whose step find output OUTPUT."""
    run = Run.objects.create(workflow=workflow, event=event, status=RunStatus.SUCCEEDED)
    StepRun.objects.create(
        run=run,
        order=1,
        step_name="find",
        action_key=action_key,
        on_failure="stop",
        status=RunStatus.SUCCEEDED,
        output=OUTPUT,
        idempotency_key=f"konnectify-test-{run.pk}",
        created_at=timezone.now(),
        finished_at=timezone.now(),
    )


def test_a_real_runs_output_is_used_while_it_fits(connection):
    workflow = make_workflow(connection, "customer.updated", TWO, active=False)
    ran_find(workflow, inbox_event(connection))

    assert tryout.latest_outputs(workflow) == {"find": OUTPUT}


def test_after_a_connection_change_the_other_accounts_run_outputs_are_not_used(
    connection, other_connection
):
    workflow = make_workflow(connection, "customer.updated", TWO, active=False)
    ran_find(workflow, inbox_event(connection))
    workflow.connection = other_connection
    services.save_workflow(workflow)

    assert tryout.latest_outputs(workflow) == {}
    result = tryout.test_step(workflow.steps.get(name="tag"))  # sends nothing
    assert result["error"]["type"] == "untested_step"


def test_a_run_output_of_the_steps_former_action_is_not_used(connection):
    workflow = make_workflow(connection, "customer.updated", TWO, active=False)
    ran_find(workflow, inbox_event(connection), action_key="delete_customer")

    assert tryout.latest_outputs(workflow) == {}


# --- the save's own checks use the sample the saved workflow will have ---------------------

ONLY_IN_LOADED = {"id": "{{ trigger.data.object.only_in_loaded }}"}


@pytest.fixture
def loaded_with_extra_field(workflow) -> Workflow:
    sample = {**LOADED, "data": {"object": {"id": "cus_A", "only_in_loaded": "x"}}}
    Workflow.objects.filter(pk=workflow.pk).update(sample_event=sample)
    workflow.refresh_from_db()
    return workflow


def test_api_checks_a_trigger_change_against_the_new_triggers_sample(api, loaded_with_extra_field):
    workflow = loaded_with_extra_field
    steps = [{"name": "find", "action_key": "find_customer", "input": ONLY_IN_LOADED}]

    same = api.patch(f"{LIST}{workflow.pk}/", {"steps": steps}, format="json").json()
    changed = api.patch(
        f"{LIST}{workflow.pk}/",
        {"trigger_key": "invoice.created", "steps": steps},
        format="json",
    ).json()

    assert not [w for w in same["warnings"] if w["field"] == "steps[0].input.id"]
    assert {"field": "steps[0].input.id", "message": (
        "{{ trigger.data.object.only_in_loaded }} is not in the trigger's sample event."
    )} in changed["warnings"]  # fmt: skip


def test_admin_checks_a_connection_change_against_the_catalog_sample(
    staff_client, loaded_with_extra_field, other_connection
):
    workflow = loaded_with_extra_field
    response = post_change(
        staff_client,
        workflow,
        connection=str(other_connection.pk),
        **{"steps-0-input_mapping": json.dumps(ONLY_IN_LOADED)},
    )

    assert any(
        "only_in_loaded }} is not in the trigger's sample event" in text
        for text in shown_messages(response)
    ), shown_messages(response)
