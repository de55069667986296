"""A rendered amount too long for int() fails the step naming the field, in a run and in
Test a step, before any Stripe call (it was a ValueError: internal_error and a 500)."""

import pytest
from django.urls import reverse

from workflows.models import Run, RunStatus, Step

from .conftest import make_workflow, sample_event

pytestmark = pytest.mark.django_db

LONG = "1" * 5000


def workflow_with_long_amount(connection):
    workflow = make_workflow(connection, "customer.created", [])
    # Written as an older save would have let it through: the run must still refuse it.
    Step.objects.create(
        workflow=workflow,
        order=1,
        name="charge",
        action_key="create_payment_intent",
        input_mapping={"amount": LONG, "currency": "usd"},
    )
    return workflow


def test_a_run_fails_the_step_naming_the_amount(connection, deliver, stripe):
    workflow_with_long_amount(connection)

    deliver(connection, sample_event("customer.created"))

    step_run = Run.objects.get().step_runs.get()
    assert step_run.status == RunStatus.FAILED
    assert "internal_error" not in str(step_run.error)
    assert "amount" in str(step_run.error)
    assert "must be between" in str(step_run.error)
    assert len(stripe.calls) == 0


def test_test_a_step_names_the_amount(connection, stripe, staff_client):
    workflow = workflow_with_long_amount(connection)
    url = reverse("admin:workflows_test_step", args=[workflow.pk])
    staff_client.raise_request_exception = False

    page = staff_client.post(url, {"step": workflow.steps.get().pk})

    assert page.status_code == 200
    assert "must be between" in str(page.context["result"])
    assert len(stripe.calls) == 0
