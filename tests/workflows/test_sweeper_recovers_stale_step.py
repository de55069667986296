"""A step left running by a crashed worker is recovered by the sweeper with the same key."""

from datetime import timedelta

import pytest
from django.conf import settings

from workflows import engine, tasks
from workflows.models import Run, RunStatus, StepRun

from .conftest import API, make_workflow

pytestmark = pytest.mark.django_db


def crashed_mid_step(connection, clock) -> StepRun:
    """A run whose worker claimed the step, called Stripe (maybe) and died."""
    workflow = make_workflow(
        connection,
        "schedule",
        [("create", "create_customer", {"name": "Once"})],
        schedule_minutes=5,
    )
    run = engine.create_run(workflow, scheduled_for=clock.now)
    step_run = run.step_runs.get()
    assert engine.claim(step_run, run)
    return step_run


def test_a_stale_claim_is_retried_with_the_same_idempotency_key(connection, stripe, clock):
    step_run = crashed_mid_step(connection, clock)
    stripe.post(f"{API}/v1/customers", json={"id": "cus_Once", "object": "customer"})

    clock.advance(seconds=settings.Q_TIMEOUT + 31)
    assert tasks.sweep() == {"recovered": 1, "woken": 1}

    step_run.refresh_from_db()
    assert step_run.status == RunStatus.SUCCEEDED
    assert step_run.attempts == 2
    assert stripe.calls[0].request.headers["Idempotency-Key"] == step_run.idempotency_key
    assert Run.objects.get().status == RunStatus.SUCCEEDED


def test_a_claim_within_its_lease_is_left_alone(connection, stripe, clock):
    step_run = crashed_mid_step(connection, clock)
    clock.advance(seconds=settings.Q_TIMEOUT - 1)
    assert tasks.sweep() == {"recovered": 0, "woken": 0}
    step_run.refresh_from_db()
    assert step_run.status == RunStatus.RUNNING


def test_the_presumed_dead_worker_cannot_overwrite_the_recovered_attempt(connection, stripe, clock):
    step_run = crashed_mid_step(connection, clock)
    stale_claim = StepRun.objects.get(pk=step_run.pk)
    clock.advance(seconds=settings.Q_TIMEOUT + 31)
    engine.recover_stale_claims(clock.now)

    # The old worker wakes up and reports: its claim is gone, nothing is written.
    assert engine.succeed(stale_claim, {"id": "cus_Ghost"}, None, 0.0) is False
    step_run.refresh_from_db()
    assert step_run.status == RunStatus.RETRYING and step_run.output is None


def test_a_run_whose_wake_up_was_lost_is_woken(connection, stripe, clock):
    workflow = make_workflow(
        connection,
        "schedule",
        [("create", "create_customer", {"name": "Lost"})],
        schedule_minutes=5,
    )
    run = engine.create_run(workflow, scheduled_for=clock.now)  # its enqueue never happens
    Run.objects.filter(pk=run.pk).update(updated_at=clock.now - timedelta(hours=1))
    stripe.post(f"{API}/v1/customers", json={"id": "cus_Lost", "object": "customer"})

    tasks.sweep()

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED


def test_a_first_step_claimed_at_dispatch_by_a_worker_that_died_is_recovered(
    connection, stripe, clock, on_commit
):
    from connections.models import InboxEvent
    from workflows.models import Workflow

    make_workflow(connection, "customer.created", [("create", "create_customer", {"name": "B"})])
    event = InboxEvent.objects.create(
        connection=connection,
        stripe_event_id="evt_died",
        type="customer.created",
        created=clock.now,
        livemode=False,
        payload={"id": "evt_died"},
    )
    workflows = list(Workflow.objects.select_related("connection"))
    # The dispatch task created the run with its first step claimed, then died.
    with on_commit():
        (run,) = engine.create_runs(event, workflows, True, savepoints=False)
    step_run = run.step_runs.get()
    assert (step_run.status, step_run.attempts) == (RunStatus.RUNNING, 1)
    stripe.post(f"{API}/v1/customers", json={"id": "cus_B", "object": "customer"})

    clock.advance(seconds=settings.Q_TIMEOUT + 31)
    tasks.sweep()

    step_run.refresh_from_db()
    assert step_run.status == RunStatus.SUCCEEDED
    assert stripe.calls[0].request.headers["Idempotency-Key"] == step_run.idempotency_key
