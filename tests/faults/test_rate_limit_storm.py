"""A storm of 429s with Retry-After: runs wait at least that long, then complete, once."""

from collections import defaultdict
from itertools import pairwise

import pytest

from bench.fault_stub import OK, RATE_LIMITED
from workflows import tasks
from workflows.models import Run, RunStatus, StepRun

from .conftest import create_customer_workflow, make_event

pytestmark = pytest.mark.django_db

EVENTS = 10
RETRY_AFTER = 7


def test_runs_wait_for_retry_after_and_then_complete(
    connection, stub, deliver, clock, sync_tasks, settings
):
    settings.WORKFLOW_RETRY_BASE_SECONDS = 1  # below Retry-After: Stripe's answer must win
    create_customer_workflow(connection)
    stub.set_mode(RATE_LIMITED, retry_after=RETRY_AFTER)
    attempted_at: dict[str, list] = defaultdict(list)
    seen = 0

    def note_attempts() -> None:
        nonlocal seen
        requests = stub.requests()
        for request in requests[seen:]:
            attempted_at[request.key].append(clock.now)
        seen = len(requests)

    for _ in range(EVENTS):
        assert deliver(connection, make_event()).status_code == 200
    note_attempts()
    for step_run in StepRun.objects.all():
        assert step_run.status == RunStatus.RETRYING
        assert (step_run.next_attempt_at - clock.now).total_seconds() >= RETRY_AFTER
    for second in range(60):
        if second == 3 * RETRY_AFTER:
            stub.set_mode(OK)
        clock.advance(seconds=1)
        tasks.sweep()
        note_attempts()

    assert stub.statuses()[429] >= EVENTS * 3  # the storm outlasted several attempts
    assert list(Run.objects.values_list("status", flat=True)) == [RunStatus.SUCCEEDED] * EVENTS
    for times in attempted_at.values():
        gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(times)]
        assert min(gaps) >= RETRY_AFTER, gaps
    assert stub.objects_created() == EVENTS
    assert stub.duplicate_keys() == []
