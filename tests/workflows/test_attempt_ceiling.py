"""Every step has a hard ceiling of attempts, counting attempts whose outcome was lost."""

from contextlib import suppress
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import OperationalError

from workflows import engine, tasks
from workflows.models import Run, RunStatus, StepRun

from .conftest import API, make_workflow

pytestmark = pytest.mark.django_db

LEASE = timedelta(seconds=settings.Q_TIMEOUT + 31)


@pytest.fixture
def ceiling(settings) -> int:
    settings.WORKFLOW_MAX_ATTEMPTS = 4
    return 4


def scheduled_run(connection, clock, on_failure: str = "stop") -> Run:
    workflow = make_workflow(
        connection,
        "schedule",
        [
            ("create", "create_customer", {"name": "Once"}, on_failure),
            ("after", "find_customer", {"id": "cus_After"}),
        ],
        schedule_minutes=5,
    )
    return engine.create_run(workflow, scheduled_for=clock.now, enqueue=False)


def lose_every_outcome(monkeypatch) -> None:
    """The worker calls Stripe, then cannot save what Stripe answered."""

    def save_failed(*args, **kwargs):
        raise OperationalError("the database went away")

    monkeypatch.setattr(engine, "succeed", save_failed)


def sweep_rounds(clock, rounds: int) -> None:
    for _ in range(rounds):
        clock.advance(seconds=LEASE.total_seconds())
        with suppress(OperationalError):  # the lost save, as a killed task would lose it
            tasks.sweep()


def test_lost_outcomes_stop_at_the_ceiling_with_no_further_request(
    connection, stripe, clock, ceiling, monkeypatch
):
    run = scheduled_run(connection, clock)
    step_run = run.step_runs.get(step_name="create")
    assert engine.claim(step_run, run)  # attempt 1: the worker dies before Stripe answers
    stripe.post(f"{API}/v1/customers", json={"id": "cus_Once", "object": "customer"})
    lose_every_outcome(monkeypatch)

    sweep_rounds(clock, 12)

    # Attempts 2..4 reached Stripe (same key); none after the ceiling.
    assert len(stripe.calls) == ceiling - 1
    assert {c.request.headers["Idempotency-Key"] for c in stripe.calls} == {
        step_run.idempotency_key
    }
    step_run.refresh_from_db()
    assert step_run.status == RunStatus.FAILED
    assert step_run.attempts == ceiling
    assert step_run.error["type"] == "attempts_exhausted"
    assert "WORKFLOW_MAX_ATTEMPTS" in step_run.error["message"]
    assert "worker stopped" in step_run.error["message"]
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "attempts" in run.error
    assert StepRun.objects.get(step_name="after").status == RunStatus.SKIPPED


def test_claims_that_never_reach_stripe_count_as_attempts(connection, stripe, clock, ceiling):
    run = scheduled_run(connection, clock)
    step_run = run.step_runs.get(step_name="create")
    for _ in range(ceiling):
        assert engine.claim(step_run, run)  # the worker dies each time before calling
        clock.advance(seconds=LEASE.total_seconds())
        engine.recover_stale_claims(clock.now)
        step_run.refresh_from_db()

    assert not engine.claim(step_run, run)
    tasks.sweep()

    assert [c.request.url for c in stripe.calls] == []
    step_run.refresh_from_db()
    assert step_run.status == RunStatus.FAILED
    assert step_run.error["type"] == "attempts_exhausted"


def test_a_step_at_the_ceiling_that_may_continue_lets_the_run_go_on(
    connection, stripe, clock, ceiling
):
    run = scheduled_run(connection, clock, on_failure="continue")
    StepRun.objects.filter(step_name="create").update(
        status=RunStatus.RETRYING, attempts=ceiling, next_attempt_at=clock.now
    )
    stripe.get(f"{API}/v1/customers/cus_After", json={"id": "cus_After", "object": "customer"})

    engine.execute_run(run.pk)

    assert [c.request.method for c in stripe.calls] == ["GET"]
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED  # one step failed; the other still ran
    assert StepRun.objects.get(step_name="after").status == RunStatus.SUCCEEDED
