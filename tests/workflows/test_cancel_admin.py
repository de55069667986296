"""Canceling in admin: a button on a waiting run's page and a bulk action, both confirmed."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from tests.support.factories import event_envelope, inbox_event
from workflows.engine import create_run
from workflows.models import Run, RunStatus, StepRun

from .conftest import make_workflow

pytestmark = pytest.mark.django_db

LIST = reverse("admin:workflows_run_changelist")


@pytest.fixture
def workflow(connection):
    return make_workflow(
        connection, "customer.updated", [("find", "find_customer", {"id": "cus_1"})]
    )


def make_run(workflow, status: str) -> Run:
    event = inbox_event(workflow.connection, event_envelope("customer.updated"))
    run = create_run(workflow, event=event, enqueue=False)
    Run.objects.filter(pk=run.pk).update(status=status)
    StepRun.objects.filter(run=run).update(status=status)
    run.refresh_from_db()
    return run


def cancel(client, *runs: Run, confirm: bool = True):
    data = {"action": "cancel_selected", ACTION_CHECKBOX_NAME: [run.pk for run in runs]}
    if confirm:
        data["confirm"] = "yes"
    return client.post(LIST, data, follow=True)


def test_a_retrying_runs_page_offers_cancel_and_an_ended_runs_page_does_not(staff_client, workflow):
    retrying = make_run(workflow, RunStatus.RETRYING)
    failed = make_run(workflow, RunStatus.FAILED)

    waiting_page = staff_client.get(reverse("admin:workflows_run_change", args=[retrying.pk]))
    ended_page = staff_client.get(reverse("admin:workflows_run_change", args=[failed.pk]))

    assert 'value="cancel_selected"' in waiting_page.content.decode()
    assert "Cancel run…" in waiting_page.content.decode()
    assert "Cancel run…" not in ended_page.content.decode()


def test_the_button_asks_first_then_cancels(staff_client, workflow):
    run = make_run(workflow, RunStatus.PENDING)

    asked = cancel(staff_client, run, confirm=False)

    assert asked.context["title"] == "Cancel these runs?"
    assert "nothing more of them is sent to Stripe" in asked.content.decode()
    assert Run.objects.get().status == RunStatus.PENDING

    done = cancel(staff_client, run)

    assert "1 run(s) canceled." in [str(m) for m in done.context["messages"]]
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELED
    assert run.error.startswith("Canceled by staff at ")
    assert run.step_runs.get().status == RunStatus.CANCELED


def test_the_bulk_action_cancels_the_waiting_runs_and_names_the_others(staff_client, workflow):
    pending = make_run(workflow, RunStatus.PENDING)
    retrying = make_run(workflow, RunStatus.RETRYING)
    succeeded = make_run(workflow, RunStatus.SUCCEEDED)

    done = cancel(staff_client, pending, retrying, succeeded)

    messages = [str(m) for m in done.context["messages"]]
    assert messages == [
        "2 run(s) canceled.",
        f"Run {succeeded.pk} has already ended (succeeded); only a pending or retrying run "
        "can be canceled.",
    ]
    statuses = dict(Run.objects.values_list("pk", "status"))
    assert statuses == {
        pending.pk: RunStatus.CANCELED,
        retrying.pk: RunStatus.CANCELED,
        succeeded.pk: RunStatus.SUCCEEDED,
    }


def test_canceling_needs_change_run_but_not_the_use_of_the_connection(staff_as, workflow):
    run = make_run(workflow, RunStatus.RETRYING)
    client = staff_as("view_run", "change_run")

    page = client.get(reverse("admin:workflows_run_change", args=[run.pk]))
    assert "Cancel run…" in page.content.decode()
    assert "Resume from failed step" not in page.content.decode()  # that needs use

    cancel(client, run)
    assert Run.objects.get().status == RunStatus.CANCELED


def test_a_viewer_is_offered_no_cancel_and_a_posted_one_is_refused(staff_as, workflow):
    run = make_run(workflow, RunStatus.RETRYING)
    client = staff_as("view_run")

    page = client.get(reverse("admin:workflows_run_change", args=[run.pk]))
    assert "Cancel run" not in page.content.decode()

    refused = client.post(
        LIST, {"action": "cancel_selected", ACTION_CHECKBOX_NAME: [run.pk], "confirm": "yes"}
    )
    assert refused.status_code == 403
    assert Run.objects.get().status == RunStatus.RETRYING
