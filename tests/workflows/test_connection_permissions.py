"""Using a connection's key needs its permission: admin buttons, Test a step, the engine."""

import uuid

import pytest
from django.urls import reverse

from tests.api.conftest import grant
from workflows.engine import create_run
from workflows.models import Run, RunStatus, StepRun, Workflow

from .conftest import API, make_workflow, sample_event

pytestmark = pytest.mark.django_db

FIND = [("find", "find_customer", {"id": "{{ trigger.data.object.id }}"})]
CUSTOMER = {"id": "cus_1", "object": "customer"}


@pytest.fixture
def workflow(connection):
    return make_workflow(connection, "customer.updated", FIND, active=False)


def workflow_form(workflow, connection, **changes) -> dict:
    """The admin change form of ``workflow`` with its one step, as the browser posts it."""
    step = workflow.steps.get()
    data = {
        "name": workflow.name,
        "description": "",
        "connection": str(connection.pk),
        "trigger_key": workflow.trigger_key,
        "custom_event_type": "",
        "schedule_cron": "",
        "schedule_minutes": "",
        "filters": "[]",
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "1",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        "steps-0-id": str(step.pk),
        "steps-0-workflow": str(workflow.pk),
        "steps-0-order": "1",
        "steps-0-name": step.name,
        "steps-0-action_key": step.action_key,
        "steps-0-input_mapping": '{"id": "{{ trigger.data.object.id }}"}',
        "steps-0-on_failure": "stop",
    }
    data.update(changes)
    return data


# --- the engine --------------------------------------------------------------------------


def test_the_engine_refuses_a_step_once_its_owner_may_no_longer_use_the_connection(
    connection, deliver, staff, stripe
):
    grant(staff, "use_connection")
    workflow = make_workflow(connection, "customer.updated", FIND, owner=staff)
    staff.user_permissions.clear()

    deliver(connection, sample_event("customer.updated", id="cus_1"))

    run = Run.objects.get(workflow=workflow)
    assert run.status == RunStatus.FAILED
    step_run = run.step_runs.get()
    assert step_run.error["type"] == "connection_not_allowed"
    assert "editor may no longer use connection 'Workflows test account'" in run.error
    assert len(stripe.calls) == 0  # no request went out with the key


def test_the_engine_refuses_a_step_of_a_deactivated_owner(connection, deliver, staff, stripe):
    grant(staff, "use_connection")
    workflow = make_workflow(connection, "customer.updated", FIND, owner=staff)
    staff.is_active = False
    staff.save()

    deliver(connection, sample_event("customer.updated", id="cus_1"))

    assert Run.objects.get(workflow=workflow).status == RunStatus.FAILED
    assert len(stripe.calls) == 0


def test_the_engine_runs_the_steps_of_an_owner_who_may_use_the_connection(
    connection, deliver, staff, stripe
):
    grant(staff, "use_connection")
    workflow = make_workflow(connection, "customer.updated", FIND, owner=staff)
    stripe.get(f"{API}/v1/customers/cus_1", json=CUSTOMER)

    deliver(connection, sample_event("customer.updated", id="cus_1"))

    assert Run.objects.get(workflow=workflow).status == RunStatus.SUCCEEDED


# --- saving and activating in admin -----------------------------------------------------------


def test_saving_a_workflow_with_steps_in_admin_needs_the_use_permission(
    staff_as, workflow, connection
):
    client = staff_as("view_workflow", "change_workflow", "view_step", "change_step")
    url = reverse("admin:workflows_workflow_change", args=[workflow.pk])

    page = client.post(url, workflow_form(workflow, connection, name="Renamed"))

    assert page.status_code == 200  # the form again, with the reason
    assert "may not use connection &#x27;Workflows test account&#x27;" in page.content.decode()
    workflow.refresh_from_db()
    assert workflow.name != "Renamed" and workflow.owner is None


def test_saving_in_admin_with_the_use_permission_makes_the_user_the_owner(
    staff_as, staff, workflow, connection
):
    client = staff_as(
        "view_workflow", "change_workflow", "view_step", "change_step", "use_connection"
    )
    url = reverse("admin:workflows_workflow_change", args=[workflow.pk])

    response = client.post(url, workflow_form(workflow, connection, name="Renamed"))

    assert response.status_code == 302, response.content.decode()[:2000]
    workflow.refresh_from_db()
    assert workflow.name == "Renamed" and workflow.owner == staff


def test_a_user_who_sees_no_steps_still_cannot_save_a_workflow_that_has_some(
    staff_as, workflow, connection
):
    client = staff_as("view_workflow", "change_workflow")
    url = reverse("admin:workflows_workflow_change", args=[workflow.pk])

    response = client.post(url, workflow_form(workflow, connection, name="Renamed"))

    assert response.status_code == 403
    workflow.refresh_from_db()
    assert workflow.name != "Renamed"


def test_activating_in_admin_needs_the_use_permission(staff_as, workflow):
    client = staff_as("view_workflow", "change_workflow")
    changelist = reverse("admin:workflows_workflow_changelist")

    assert "Activate selected" not in client.get(changelist).content.decode()
    response = client.post(changelist, {"action": "activate", "_selected_action": [workflow.pk]})

    assert response.status_code == 403
    workflow.refresh_from_db()
    assert not workflow.active


def test_activating_in_admin_makes_the_user_the_owner(staff_as, staff, workflow):
    client = staff_as("view_workflow", "change_workflow", "use_connection")
    changelist = reverse("admin:workflows_workflow_changelist")

    client.post(changelist, {"action": "activate", "_selected_action": [workflow.pk]})

    workflow.refresh_from_db()
    assert workflow.active and workflow.owner == staff


def test_load_sample_event_needs_the_use_permission(staff_as, workflow, stripe):
    client = staff_as("view_workflow", "change_workflow")
    changelist = reverse("admin:workflows_workflow_changelist")

    response = client.post(changelist, {"action": "load_sample", "_selected_action": [workflow.pk]})

    assert response.status_code == 403
    assert len(stripe.calls) == 0


# --- Test a step ----------------------------------------------------------------------------


def test_test_a_step_needs_the_use_permission_and_sends_nothing(staff_as, workflow, stripe):
    client = staff_as("view_workflow", "change_workflow")
    url = reverse("admin:workflows_test_step", args=[workflow.pk])

    assert client.get(url).status_code == 403
    response = client.post(url, {"step": workflow.steps.get().pk})

    assert response.status_code == 403
    assert len(stripe.calls) == 0
    page = client.get(reverse("admin:workflows_workflow_change", args=[workflow.pk]))
    assert "Test a step" not in page.content.decode()


def test_test_a_step_without_the_change_permission_is_403_not_500(staff_as, workflow):
    client = staff_as("view_workflow", "use_connection")
    assert client.get(reverse("admin:workflows_test_step", args=[workflow.pk])).status_code == 403


def test_test_a_step_with_a_malformed_step_id_is_404(staff_client, workflow, stripe):
    url = reverse("admin:workflows_test_step", args=[workflow.pk])
    assert staff_client.post(url, {"step": "not-a-number"}).status_code == 404
    assert len(stripe.calls) == 0


def test_the_test_a_step_button_shows_for_who_may_use_it(staff_as, workflow):
    client = staff_as("view_workflow", "change_workflow", "use_connection")
    page = client.get(reverse("admin:workflows_workflow_change", args=[workflow.pk]))
    assert "Test a step" in page.content.decode()


# --- popular automations --------------------------------------------------------------------


def test_popular_automations_without_the_add_permission_is_403_not_500(staff_as):
    client = staff_as("view_workflow", "use_connection")
    assert client.get(reverse("admin:workflows_automations")).status_code == 403
    changelist = client.get(reverse("admin:workflows_workflow_changelist"))
    assert "Popular automations" not in changelist.content.decode()


def test_popular_automations_need_the_use_permission(staff_as, connection):
    client = staff_as("view_workflow", "add_workflow")
    response = client.post(
        reverse("admin:workflows_automations"),
        {"automation": "customer_updated_find_customer", "connection": str(connection.pk)},
    )
    assert response.status_code == 403
    assert not Workflow.objects.exists()


def test_an_automation_created_in_admin_is_owned_by_its_creator(staff_as, staff, connection):
    client = staff_as("view_workflow", "add_workflow", "use_connection")
    response = client.post(
        reverse("admin:workflows_automations"),
        {"automation": "customer_updated_find_customer", "connection": str(connection.pk)},
    )
    assert response.status_code == 302
    assert Workflow.objects.get().owner == staff


@pytest.mark.parametrize(
    "form",
    [
        {"automation": "no_such_template"},
        {"automation": "customer_updated_find_customer", "connection": "not-a-uuid"},
        {"automation": "customer_updated_find_customer", "connection": str(uuid.uuid4())},
        {"automation": "customer_updated_find_customer", "connection": ""},
    ],
)
def test_an_unknown_template_or_connection_is_404(staff_client, connection, form):
    form = {"connection": str(connection.pk), **form}
    response = staff_client.post(reverse("admin:workflows_automations"), form)
    assert response.status_code == 404
    assert not Workflow.objects.exists()


def test_an_unknown_template_says_which(staff_client, connection, settings):
    settings.DEBUG = True  # the 404 page then shows the message
    response = staff_client.post(
        reverse("admin:workflows_automations"),
        {"automation": "no_such_template", "connection": str(connection.pk)},
    )
    assert "No popular automation" in response.content.decode()


# --- replaying runs --------------------------------------------------------------------------


@pytest.fixture
def failed_run(workflow, clock):
    run = create_run(workflow, scheduled_for=clock.now)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.FAILED)
    StepRun.objects.filter(run=run).update(status=RunStatus.FAILED)
    return run


@pytest.mark.parametrize("action", ["resume_selected", "rerun_selected"])
def test_view_only_staff_can_neither_see_nor_post_resume_and_rerun(staff_as, failed_run, action):
    client = staff_as("view_run", "view_workflow")
    page = client.get(reverse("admin:workflows_run_change", args=[failed_run.pk])).content.decode()
    assert "Resume from failed step" not in page and "Re-run from the start" not in page

    changelist = reverse("admin:workflows_run_changelist")
    for confirm in ("", "yes"):
        response = client.post(
            changelist, {"action": action, "_selected_action": [failed_run.pk], "confirm": confirm}
        )
        assert response.status_code == 403
    assert Run.objects.count() == 1
    failed_run.refresh_from_db()
    assert failed_run.status == RunStatus.FAILED


def test_replaying_needs_the_use_permission_besides_the_run_permissions(staff_as, failed_run):
    client = staff_as("view_run", "change_run", "add_run")
    page = client.get(reverse("admin:workflows_run_change", args=[failed_run.pk])).content.decode()
    assert "Re-run from the start" not in page
    response = client.post(
        reverse("admin:workflows_run_changelist"),
        {"action": "rerun_selected", "_selected_action": [failed_run.pk], "confirm": "yes"},
    )
    assert response.status_code == 403
    assert Run.objects.count() == 1


def test_staff_who_may_replay_see_the_buttons_and_replay(staff_as, failed_run, on_commit):
    client = staff_as("view_run", "add_run", "use_connection")
    page = client.get(reverse("admin:workflows_run_change", args=[failed_run.pk])).content.decode()
    assert "Re-run from the start" in page and "Resume from failed step" not in page
    with on_commit():
        client.post(
            reverse("admin:workflows_run_changelist"),
            {"action": "rerun_selected", "_selected_action": [failed_run.pk], "confirm": "yes"},
        )
    assert Run.objects.count() == 2
