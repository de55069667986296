"""Canceling a waiting or retrying run: nothing more is sent to Stripe, whatever wakes it."""

import threading

import pytest

from workflows import engine, services, tasks
from workflows.models import Run, RunStatus, StepRun
from workflows.services import CancelError, cancel_run, rerun, resume_run

from .conftest import API, make_workflow, sample_event

pytestmark = pytest.mark.django_db

DOWN = {"error": {"type": "api_error", "message": "Stripe is down"}}


@pytest.fixture
def workflow(connection):
    return make_workflow(
        connection,
        "customer.created",
        [
            ("create", "create_customer", {"email": "{{ trigger.data.object.email }}"}),
            ("tag", "update_customer", {"id": "{{ steps.create.id }}", "metadata": {"a": "b"}}),
        ],
    )


@pytest.fixture
def retrying_run(workflow, connection, deliver, stripe) -> Run:
    """The first step's first attempt got a 500: the run waits for its retry."""
    stripe.post(f"{API}/v1/customers", status=500, json=DOWN, headers={"Request-Id": "req_1"})
    deliver(connection, sample_event("customer.created"))
    run = Run.objects.get()
    assert run.status == RunStatus.RETRYING
    assert len(stripe.calls) == 1
    return run


def test_a_canceled_retrying_run_records_who_and_when_and_its_steps_are_canceled(
    retrying_run, staff, clock
):
    run = cancel_run(retrying_run, staff)

    assert run.status == RunStatus.CANCELED
    assert run.error.startswith("Canceled by editor at ")
    assert clock.now.strftime("%Y-%m-%d %H:%M:%S") in run.error
    assert run.finished_at == clock.now
    steps = {s.step_name: s for s in run.step_runs.all()}
    assert {name: s.status for name, s in steps.items()} == {
        "create": RunStatus.CANCELED,
        "tag": RunStatus.CANCELED,
    }
    assert steps["create"].next_attempt_at is None
    assert steps["create"].error["http_status"] == 500  # the last attempt's error is kept
    assert steps["create"].request_id == "req_1"


def test_the_retry_sends_nothing_after_a_cancel_between_two_attempts(
    retrying_run, staff, stripe, clock
):
    cancel_run(retrying_run, staff)
    clock.advance(hours=1)

    assert tasks.sweep() == {"recovered": 0, "woken": 0}
    tasks.run_workflow(retrying_run.pk)  # a wake-up sent before the cancel

    assert len(stripe.calls) == 1
    step_run = retrying_run.step_runs.get(step_name="create")
    assert (step_run.status, step_run.attempts) == (RunStatus.CANCELED, 1)
    assert Run.objects.get().status == RunStatus.CANCELED


def test_a_retry_task_that_read_the_run_before_the_cancel_sends_nothing(
    retrying_run, staff, stripe, clock, monkeypatch
):
    """The cancel lands after the task loaded the run as retrying, just before its claim."""
    real_claim = engine.claim
    claims = []

    def cancel_then_claim(step_run, run):
        assert run.status == RunStatus.RETRYING  # what the task read
        cancel_run(Run.objects.get(pk=run.pk), staff)
        claims.append(real_claim(step_run, run))
        return claims[-1]

    monkeypatch.setattr(engine, "claim", cancel_then_claim)
    clock.advance(hours=1)

    tasks.run_workflow(retrying_run.pk)

    assert claims == [False]
    assert len(stripe.calls) == 1
    assert retrying_run.step_runs.get(step_name="create").attempts == 1
    assert Run.objects.get().status == RunStatus.CANCELED


@pytest.mark.django_db(transaction=True)
def test_a_claim_waiting_on_an_uncommitted_cancel_sends_nothing_once_it_commits(
    workflow, connection, deliver, stripe, clock, monkeypatch
):
    """Two connections: the cancel holds its transaction open while a worker's retry
    reads the run (still retrying for it) and tries to claim the step; the claim waits
    for the row (PostgreSQL) or the database (SQLite) and then finds it canceled."""
    stripe.post(f"{API}/v1/customers", status=500, json=DOWN)
    deliver(connection, sample_event("customer.created"))
    run = Run.objects.get()
    assert run.status == RunStatus.RETRYING
    clock.advance(hours=1)
    canceled, holding = threading.Event(), threading.Event()
    failures: list[BaseException] = []
    seen = []
    real_load_run = engine.load_run

    def load_run(run_id, preloaded):
        loaded = real_load_run(run_id, preloaded)
        seen.append(loaded[0].status)
        return loaded

    monkeypatch.setattr(engine, "load_run", load_run)

    def cancel_and_hold():
        from django.db import connection as db
        from django.db import transaction

        try:
            with transaction.atomic():
                cancel_run(Run.objects.get(pk=run.pk))
                canceled.set()
                holding.wait(1.0)  # the worker's claim is waiting meanwhile
        except BaseException as exc:
            failures.append(exc)
            canceled.set()
        finally:
            db.close()

    def worker():
        from django.db import connection as db

        try:
            canceled.wait(5)
            tasks.run_workflow(run.pk)
        except BaseException as exc:
            failures.append(exc)
        finally:
            holding.set()
            db.close()

    threads = [threading.Thread(target=cancel_and_hold), threading.Thread(target=worker)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert failures == []
    assert seen == [RunStatus.RETRYING]  # the worker read the run before the cancel committed
    assert len(stripe.calls) == 1
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELED
    assert set(run.step_runs.values_list("status", flat=True)) == {RunStatus.CANCELED}
    assert run.step_runs.get(step_name="create").attempts == 1


def test_a_cancel_while_an_attempt_is_in_flight_is_refused_and_changes_nothing(
    workflow, connection, deliver, stripe, staff
):
    refusals = []

    def answer_after_a_cancel(request):
        run = Run.objects.get()
        with pytest.raises(CancelError) as refused:
            cancel_run(run, staff)
        refusals.append(str(refused.value))
        return (500, {}, '{"error": {"type": "api_error", "message": "Down"}}')

    stripe.add_callback("POST", f"{API}/v1/customers", callback=answer_after_a_cancel)
    deliver(connection, sample_event("customer.created"))

    run = Run.objects.get()
    assert refusals == [
        f"Run {run.pk} is sending a step to Stripe right now; it can be canceled once it "
        "waits again (pending or retrying)."
    ]
    assert run.status == RunStatus.RETRYING  # the attempt's outcome was recorded
    assert run.error == ""
    assert cancel_run(run, staff).status == RunStatus.CANCELED


@pytest.mark.parametrize("status", [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SKIPPED])
def test_a_run_that_ended_is_not_canceled(retrying_run, staff, status):
    Run.objects.filter(pk=retrying_run.pk).update(status=status, error="as it was")

    with pytest.raises(CancelError) as refused:
        cancel_run(retrying_run, staff)

    assert str(refused.value) == (
        f"Run {retrying_run.pk} has already ended ({RunStatus(status).label.lower()}); "
        "only a pending or retrying run can be canceled."
    )
    run = Run.objects.get()
    assert (run.status, run.error) == (status, "as it was")
    assert run.step_runs.get(step_name="create").status == RunStatus.RETRYING


def test_a_second_cancel_is_refused_and_keeps_the_first_record(retrying_run, staff):
    first = cancel_run(retrying_run, staff).error

    with pytest.raises(CancelError, match="has already ended \\(canceled\\)"):
        cancel_run(retrying_run, None)

    assert Run.objects.get().error == first


def test_a_pending_run_is_canceled_before_its_first_attempt(workflow, connection, stripe):
    from tests.support.factories import inbox_event

    event = inbox_event(connection, sample_event("customer.created"))
    run = engine.create_run(workflow, event=event, enqueue=False)
    assert run.status == RunStatus.PENDING

    cancel_run(run)
    tasks.run_workflow(run.pk)
    tasks.sweep()

    assert len(stripe.calls) == 0
    run.refresh_from_db()
    assert run.error.startswith("Canceled by the operator at ")
    assert set(run.step_runs.values_list("status", flat=True)) == {RunStatus.CANCELED}
    assert set(run.step_runs.values_list("attempts", flat=True)) == {0}


def test_a_cancel_between_a_claim_and_its_run_update_is_rolled_back(retrying_run, staff):
    """A claim takes the step, then marks the run running: in between the run still
    says retrying, but its step is being sent, so the cancel is refused whole."""
    StepRun.objects.filter(step_name="create").update(status=RunStatus.RUNNING)

    with pytest.raises(CancelError, match="is sending a step to Stripe right now"):
        cancel_run(retrying_run, staff)

    run = Run.objects.get()
    assert (run.status, run.error, run.finished_at) == (RunStatus.RETRYING, "", None)
    statuses = dict(run.step_runs.values_list("step_name", "status"))
    assert statuses == {"create": RunStatus.RUNNING, "tag": RunStatus.PENDING}


def test_a_canceled_run_is_not_resumed_but_may_be_re_run(retrying_run, staff, stripe, on_commit):
    cancel_run(retrying_run, staff)

    with pytest.raises(services.ReplayError, match="A canceled run is not resumed"):
        resume_run(retrying_run)
    assert len(stripe.calls) == 1

    stripe.replace("POST", f"{API}/v1/customers", json={"id": "cus_New", "object": "customer"})
    stripe.post(f"{API}/v1/customers/cus_New", json={"id": "cus_New", "object": "customer"})
    with on_commit():
        new = rerun(retrying_run)

    new.refresh_from_db()
    assert new.status == RunStatus.SUCCEEDED
    assert Run.objects.get(pk=retrying_run.pk).status == RunStatus.CANCELED
