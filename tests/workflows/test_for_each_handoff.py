"""For each, long lists: a task sends items for half of Q_TIMEOUT, then hands the rest on.

The hand-off records the items done, gives the attempt back (it is no failure) and leaves
the step and the run pending with a new task enqueued, which goes on at the first item
not done with the same keys. Stripe calls here take time on the engine's clock only.
"""

import json
import time
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import responses

from tests.support.factories import inbox_event
from workflows import engine, services, tasks
from workflows.models import Run, RunStatus, StepRun

from .test_for_each import URL, each_workflow, invoice_event, keys

pytestmark = pytest.mark.django_db

# With Q_TIMEOUT 120 a task sends items for 60 s: calls of 25 s make three items a task
# (the third ends at 75 s, past the budget, so the fourth goes to the next task).
CALL_SECONDS = 25


@pytest.fixture(autouse=True)
def task_limit(settings):
    settings.Q_TIMEOUT = 120


def slow_stripe(stripe, clock, *, fail_call: int | None = None) -> list:
    """Stripe answers invoice item ``ii_<line>`` after CALL_SECONDS of the engine's clock;
    call number ``fail_call`` (1-based) answers a 500. Returns the lines as sent, in order."""
    sent = []

    def created(request):
        clock.advance(seconds=CALL_SECONDS)
        line = parse_qs(request.body)["metadata[line]"][0]
        sent.append(line)
        if len(sent) == fail_call:
            return (500, {}, json.dumps({"error": {"type": "api_error", "message": "Boom"}}))
        return (200, {}, json.dumps({"id": f"ii_{line}", "object": "invoiceitem"}))

    stripe.add_callback(responses.POST, URL, callback=created)
    return sent


@pytest.fixture
def task_starts(monkeypatch, clock) -> list:
    """When each task executing a run started, on the engine's clock."""
    starts = []
    execute = engine.execute_run

    def recorded(run_id, **kwargs):
        starts.append(clock.now)
        execute(run_id, **kwargs)

    monkeypatch.setattr(engine, "execute_run", recorded)
    return starts


def item_keys(step_run: StepRun, indexes) -> list[str]:
    return [f"{step_run.idempotency_key}-item-{i}" for i in indexes]


def test_the_task_budget_is_half_the_task_time_limit():
    assert engine.task_budget() == timedelta(seconds=60)


def test_a_long_list_goes_on_in_new_tasks_without_using_attempts(
    connection, deliver, stripe, clock, task_starts, settings
):
    # Three tasks, more than the ceiling of attempts: hand-offs must not count.
    settings.WORKFLOW_MAX_ATTEMPTS = 2
    each_workflow(connection)
    sent = slow_stripe(stripe, clock)
    start = clock.now

    deliver(connection, invoice_event(7))

    run = Run.objects.get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    step_run = run.step_runs.get()
    assert (step_run.status, step_run.attempts, step_run.error) == (RunStatus.SUCCEEDED, 1, None)
    # Items 0-2 in the first task, 3-5 in the second, 6 in the third.
    assert task_starts == [start + timedelta(seconds=s) for s in (0, 75, 150)]
    # Every item sent once, with its own key: nothing twice, nothing skipped.
    assert keys(stripe) == item_keys(step_run, range(7))
    assert sent == [f"il_{n}" for n in range(7)]
    assert [out["id"] for out in step_run.output] == [f"ii_il_{n}" for n in range(7)]


def test_between_tasks_the_run_and_step_wait_pending_with_the_items_done(
    connection, stripe, clock, django_capture_on_commit_callbacks
):
    workflow = each_workflow(connection)
    run = engine.create_run(workflow, event=inbox_event(connection, invoice_event(4)))
    slow_stripe(stripe, clock)

    with django_capture_on_commit_callbacks() as enqueued:
        engine.execute_run(run.pk)

    assert len(enqueued) == 1  # the next task, sent once the hand-off commits
    run.refresh_from_db()
    step_run = run.step_runs.get()
    assert (run.status, run.error, run.finished_at) == (RunStatus.PENDING, "", None)
    assert step_run.status == RunStatus.PENDING
    assert (step_run.attempts, step_run.claimed_at, step_run.next_attempt_at) == (0, None, None)
    assert (step_run.error, step_run.item_count, step_run.started_at) == (None, 4, run.started_at)
    assert [out["id"] for out in step_run.output] == ["ii_il_0", "ii_il_1", "ii_il_2"]
    assert len(step_run.input) == 4  # every item's input, rendered before the first call

    with django_capture_on_commit_callbacks(execute=True):
        enqueued[0]()

    step_run.refresh_from_db()
    assert (step_run.status, step_run.attempts) == (RunStatus.SUCCEEDED, 1)
    assert keys(stripe) == item_keys(step_run, range(4))
    assert Run.objects.get().status == RunStatus.SUCCEEDED


def test_a_cancel_is_refused_while_an_item_is_sent_and_stops_the_list_at_the_hand_off(
    connection, stripe, clock, django_capture_on_commit_callbacks
):
    workflow = each_workflow(connection)
    run = engine.create_run(workflow, event=inbox_event(connection, invoice_event(7)))
    refusals = []

    def created(request):
        clock.advance(seconds=CALL_SECONDS)
        try:
            services.cancel_run(run)
        except services.CancelError as exc:
            refusals.append(str(exc))
        line = parse_qs(request.body)["metadata[line]"][0]
        return (200, {}, json.dumps({"id": f"ii_{line}", "object": "invoiceitem"}))

    stripe.add_callback(responses.POST, URL, callback=created)
    with django_capture_on_commit_callbacks() as enqueued:
        engine.execute_run(run.pk)
    assert refusals == [services.IN_FLIGHT.format(pk=run.pk)] * 3

    canceled = services.cancel_run(run)  # between tasks: the run waits
    with django_capture_on_commit_callbacks(execute=True):
        enqueued[0]()  # the next task finds the run canceled

    assert canceled.status == RunStatus.CANCELED
    assert Run.objects.get().status == RunStatus.CANCELED
    step_run = StepRun.objects.get(run=run)
    assert (step_run.status, step_run.attempts) == (RunStatus.CANCELED, 0)
    assert [out["id"] for out in step_run.output] == ["ii_il_0", "ii_il_1", "ii_il_2"]
    assert keys(stripe) == item_keys(step_run, range(3))


def test_a_retry_after_a_hand_off_counts_only_the_failed_attempt(
    connection, deliver, stripe, clock, task_starts, on_commit
):
    each_workflow(connection)
    sent = slow_stripe(stripe, clock, fail_call=4)  # item 3, first of the second task

    deliver(connection, invoice_event(7))

    step_run = StepRun.objects.get()
    assert (step_run.status, step_run.attempts) == (RunStatus.RETRYING, 1)
    assert step_run.error["message"] == "Item 4 of 7: Boom"

    clock.now = step_run.next_attempt_at
    with on_commit():
        tasks.sweep()

    step_run.refresh_from_db()
    # Attempts count per item: the last item's, which went through at its first attempt.
    assert (step_run.status, step_run.attempts) == (RunStatus.SUCCEEDED, 1)
    # Item 3 again with the key Stripe answered with a 500, then the rest once each.
    assert keys(stripe) == item_keys(step_run, [0, 1, 2, 3, 3, 4, 5, 6])
    assert sent == [f"il_{n}" for n in (0, 1, 2, 3, 3, 4, 5, 6)]
    assert len(task_starts) == 4  # hand-off, retry (sweeper), hand-off, last item
    assert Run.objects.get().status == RunStatus.SUCCEEDED


def test_a_step_handed_on_is_not_skipped_by_its_condition_when_taken_again(
    connection, stripe, clock, django_capture_on_commit_callbacks
):
    workflow = each_workflow(connection)
    run = engine.create_run(workflow, event=inbox_event(connection, invoice_event(4)))
    slow_stripe(stripe, clock)
    with django_capture_on_commit_callbacks() as enqueued:
        engine.execute_run(run.pk)

    # The condition held when the step began; items were sent: it goes on whatever it says.
    StepRun.objects.filter(run=run).update(
        condition=[{"path": "trigger.data.object.id", "op": "not_exists"}]
    )
    with django_capture_on_commit_callbacks(execute=True):
        enqueued[0]()

    step_run = StepRun.objects.get(run=run)
    assert (step_run.status, step_run.skip_reason) == (RunStatus.SUCCEEDED, "")
    assert keys(stripe) == item_keys(step_run, range(4))


def test_a_stale_worker_cannot_hand_off(connection, clock, django_capture_on_commit_callbacks):
    workflow = each_workflow(connection)
    run = engine.create_run(workflow, event=inbox_event(connection, invoice_event(2)))
    step_run = run.step_runs.get()
    assert engine.claim(step_run, run)
    stale = StepRun.objects.get(pk=step_run.pk)
    clock.advance(seconds=120 + 31)
    engine.recover_stale_claims(clock.now)

    with django_capture_on_commit_callbacks() as enqueued:
        assert engine.hand_off(stale, run, "req_ghost", time.monotonic()) is False

    assert enqueued == []
    step_run.refresh_from_db()
    assert (step_run.status, step_run.attempts) == (RunStatus.RETRYING, 1)
    assert step_run.error["type"] == "worker_lost"
    assert step_run.request_id == ""
    assert Run.objects.get().status == RunStatus.RUNNING
