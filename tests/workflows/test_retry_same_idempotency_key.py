"""A 429, then a 500, then success: one object, one key on every attempt, backoff respected."""

import pytest

from workflows import tasks
from workflows.models import Run, RunStatus

from .conftest import API, make_workflow, sample_event

pytestmark = pytest.mark.django_db


def test_retries_reuse_the_key_and_wait_for_the_backoff(
    connection, deliver, stripe, clock, settings
):
    settings.WORKFLOW_RETRY_BASE_SECONDS = 10
    settings.WORKFLOW_RETRY_CAP_SECONDS = 60
    make_workflow(
        connection,
        "customer.created",
        [("create", "create_customer", {"email": "{{ trigger.data.object.email }}"})],
    )
    url = f"{API}/v1/customers"
    stripe.post(
        url,
        status=429,
        headers={"Retry-After": "3"},
        json={
            "error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many"}
        },
    )
    stripe.post(url, status=500, json={"error": {"type": "api_error", "message": "Boom"}})
    stripe.post(url, json={"id": "cus_Once", "object": "customer"})

    deliver(connection, sample_event("customer.created"))

    step_run = Run.objects.get().step_runs.get()
    assert step_run.status == RunStatus.RETRYING
    assert step_run.error["http_status"] == 429
    first_wait = step_run.next_attempt_at - clock.now
    assert 3 <= first_wait.total_seconds() <= 10  # Retry-After is the floor, base the ceiling

    # Not due yet: neither the sweeper nor a stray task calls Stripe.
    clock.advance(seconds=2)
    tasks.sweep()
    tasks.run_workflow(step_run.run_id)
    assert len(stripe.calls) == 1

    clock.advance(seconds=first_wait.total_seconds())
    tasks.sweep()
    step_run.refresh_from_db()
    assert (step_run.status, step_run.attempts) == (RunStatus.RETRYING, 2)
    assert step_run.error["http_status"] == 500
    assert step_run.next_attempt_at - clock.now <= __import__("datetime").timedelta(seconds=20)

    clock.now = step_run.next_attempt_at
    tasks.sweep()
    step_run.refresh_from_db()
    assert (step_run.status, step_run.attempts) == (RunStatus.SUCCEEDED, 3)
    assert step_run.output["id"] == "cus_Once"
    assert step_run.run.status == RunStatus.SUCCEEDED
    keys = {call.request.headers["Idempotency-Key"] for call in stripe.calls}
    assert keys == {step_run.idempotency_key}
    assert len(stripe.calls) == 3


def test_it_gives_up_after_the_maximum_attempts(connection, deliver, stripe, clock, settings):
    settings.WORKFLOW_RETRY_MAX_ATTEMPTS = 2
    make_workflow(connection, "customer.created", [("create", "create_customer", {"name": "x"})])
    for _ in range(2):
        stripe.post(
            f"{API}/v1/customers",
            status=503,
            json={"error": {"type": "api_error", "message": "Down"}},
        )

    deliver(connection, sample_event("customer.created"))
    clock.advance(hours=1)
    tasks.sweep()

    run = Run.objects.get()
    assert run.status == RunStatus.FAILED
    assert "gave up after 2 attempts" in run.error
