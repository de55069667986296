"""A short backoff is waited out by the worker; a long one is left to the sweeper."""

import pytest

from workflows.models import Run, RunStatus

from .conftest import API, make_workflow, sample_event

pytestmark = pytest.mark.django_db

RATE_LIMITED = {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Slow"}}


@pytest.fixture
def sleeps(clock, monkeypatch) -> list[float]:
    """The worker's waits: recorded, and passed on the fixed clock instead of in real time."""
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        clock.advance(seconds=seconds)

    monkeypatch.setattr("workflows.clock.sleep", sleep)
    return waited


def create_customer_workflow(connection):
    make_workflow(connection, "customer.created", [("create", "create_customer", {"name": "x"})])


def test_a_429_with_retry_after_is_retried_by_the_same_worker(
    connection, deliver, stripe, sleeps, settings
):
    settings.WORKFLOW_RETRY_INLINE_SECONDS = 15
    settings.WORKFLOW_RETRY_BASE_SECONDS = 1
    create_customer_workflow(connection)
    url = f"{API}/v1/customers"
    stripe.post(url, status=429, headers={"Retry-After": "2"}, json=RATE_LIMITED)
    stripe.post(url, json={"id": "cus_Once", "object": "customer"})

    deliver(connection, sample_event("customer.created"))

    step_run = Run.objects.get().step_runs.get()
    assert (step_run.status, step_run.attempts) == (RunStatus.SUCCEEDED, 2)
    assert len(sleeps) == 1 and 2 <= sleeps[0] <= 15  # Retry-After is the floor
    keys = {call.request.headers["Idempotency-Key"] for call in stripe.calls}
    assert keys == {step_run.idempotency_key}


def test_a_backoff_longer_than_the_budget_frees_the_worker(
    connection, deliver, stripe, sleeps, settings
):
    settings.WORKFLOW_RETRY_INLINE_SECONDS = 15
    create_customer_workflow(connection)
    stripe.post(f"{API}/v1/customers", status=429, headers={"Retry-After": "60"}, json=RATE_LIMITED)

    deliver(connection, sample_event("customer.created"))

    step_run = Run.objects.get().step_runs.get()
    assert step_run.status == RunStatus.RETRYING
    assert sleeps == []
    assert len(stripe.calls) == 1


def test_the_waits_of_one_task_never_exceed_the_budget(
    connection, deliver, stripe, sleeps, settings
):
    settings.WORKFLOW_RETRY_INLINE_SECONDS = 5
    settings.WORKFLOW_RETRY_BASE_SECONDS = 1  # so each wait is Retry-After's 2 s at first
    create_customer_workflow(connection)
    for _ in range(3):
        stripe.post(
            f"{API}/v1/customers", status=429, headers={"Retry-After": "2"}, json=RATE_LIMITED
        )

    deliver(connection, sample_event("customer.created"))

    assert sleeps == [2, 2]  # a third wait of 2 s would pass the 5 s budget
    assert Run.objects.get().step_runs.get().status == RunStatus.RETRYING
