"""Several workers: a step is claimed by one of them only; the others return at once."""

import pytest

from workflows import engine, tasks
from workflows.models import RunStatus

from .conftest import make_workflow

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(connection, clock):
    workflow = make_workflow(
        connection, "schedule", [("create", "create_customer", {"name": "A"})], schedule_minutes=5
    )
    return engine.create_run(workflow, scheduled_for=clock.now)


def test_only_the_first_of_two_claims_wins(run):
    mine, theirs = list(run.step_runs.all()), list(run.step_runs.all())
    assert engine.claim(mine[0], run) is True
    assert engine.claim(theirs[0], run) is False


def test_a_worker_finding_the_step_taken_calls_nothing(run, stripe):
    assert engine.claim(run.step_runs.get(), run)
    tasks.run_workflow(run.pk)  # a second delivery of the same task
    step_run = run.step_runs.get()
    assert (step_run.status, step_run.attempts) == (RunStatus.RUNNING, 1)
    assert len(stripe.calls) == 0


def test_a_finished_run_is_not_run_again(run, stripe, on_commit):
    stripe.post("https://api.stripe.com/v1/customers", json={"id": "cus_A", "object": "customer"})
    tasks.run_workflow(run.pk)
    tasks.run_workflow(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert len(stripe.calls) == 1
