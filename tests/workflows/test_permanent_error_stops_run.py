"""A permanent Stripe error fails the step with Stripe's message; on_failure decides the rest."""

import pytest

from workflows.models import Run, RunStatus, Step

from .conftest import API, make_workflow, sample_event

pytestmark = pytest.mark.django_db

BAD_REQUEST = {
    "error": {
        "type": "invalid_request_error",
        "code": "resource_missing",
        "param": "id",
        "message": "No such customer: 'cus_Gone'",
    }
}


def steps(on_failure):
    return [
        (
            "update",
            "update_customer",
            {"id": "{{ trigger.data.object.id }}", "name": "A"},
            on_failure,
        ),
        ("create", "create_customer", {"name": "B"}),
    ]


def test_a_400_stops_the_run_and_skips_later_steps(connection, deliver, stripe):
    make_workflow(connection, "customer.created", steps(Step.OnFailure.STOP))
    stripe.post(
        f"{API}/v1/customers/cus_Gone",
        status=400,
        json=BAD_REQUEST,
        headers={"Request-Id": "req_400"},
    )

    deliver(connection, sample_event("customer.created", id="cus_Gone"))

    run = Run.objects.get()
    failed, skipped = run.step_runs.all()
    assert run.status == RunStatus.FAILED
    assert "No such customer: 'cus_Gone'" in run.error
    assert (failed.status, failed.attempts) == (RunStatus.FAILED, 1)
    assert failed.error["type"] == "invalid_request_error"
    assert failed.error["code"] == "resource_missing"
    assert failed.error["param"] == "id"
    assert failed.error["http_status"] == 400
    assert failed.request_id == "req_400"
    assert skipped.status == RunStatus.SKIPPED
    assert len(stripe.calls) == 1


def test_on_failure_continue_runs_the_next_step_and_the_run_still_fails(
    connection, deliver, stripe
):
    make_workflow(connection, "customer.created", steps(Step.OnFailure.CONTINUE))
    stripe.post(f"{API}/v1/customers/cus_Gone", status=400, json=BAD_REQUEST)
    stripe.post(f"{API}/v1/customers", json={"id": "cus_B", "object": "customer"})

    deliver(connection, sample_event("customer.created", id="cus_Gone"))

    run = Run.objects.get()
    assert [s.status for s in run.step_runs.all()] == [RunStatus.FAILED, RunStatus.SUCCEEDED]
    assert run.status == RunStatus.FAILED
