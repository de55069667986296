"""Stripe answers 500 to everything for a while, then recovers: every run completes, once.

The engine's clock is fixed (workflows.clock) and moved forward by hand, and the
sweeper is called as its schedule would call it, so a 10 s outage with a 1 s
backoff base takes no real time. ``bench/faults.py outage`` is the 60 s version
with real processes.
"""

import random

import pytest

from bench.fault_stub import OK, OUTAGE
from workflows import tasks
from workflows.models import Run, RunStatus, StepRun

from .conftest import create_customer_workflow, make_event

pytestmark = pytest.mark.django_db

EVENTS = 20
OUTAGE_SECONDS = 10


def sweep_for(clock, seconds: int) -> None:
    """One sweep per second of engine time, as a frequent schedule would."""
    for _ in range(seconds):
        clock.advance(seconds=1)
        tasks.sweep()


def test_every_run_completes_once_after_an_outage(
    connection, stub, deliver, clock, sync_tasks, settings
):
    settings.WORKFLOW_RETRY_BASE_SECONDS = 1
    random.seed(60)  # the backoff's jitter: the same schedule on every run of the test
    create_customer_workflow(connection)
    stub.set_mode(OUTAGE)

    for _ in range(EVENTS):
        assert deliver(connection, make_event()).status_code == 200
    sweep_for(clock, OUTAGE_SECONDS)
    assert not Run.objects.filter(status=RunStatus.SUCCEEDED).exists()
    stub.set_mode(OK)
    for _ in range(120):
        if not Run.objects.exclude(status__in=Run.FINAL).exists():
            break
        sweep_for(clock, 1)

    assert stub.statuses()[500] >= EVENTS * 2  # every step met the outage more than once
    assert list(Run.objects.values_list("status", flat=True)) == [RunStatus.SUCCEEDED] * EVENTS
    attempts = list(StepRun.objects.values_list("attempts", flat=True))
    assert max(attempts) < settings.WORKFLOW_RETRY_MAX_ATTEMPTS  # none used up its attempts
    assert stub.objects_created() == EVENTS
    assert stub.duplicate_keys() == []
    keys = set(StepRun.objects.values_list("idempotency_key", flat=True))
    assert {seen.key for seen in stub.requests()} == keys  # every attempt sent its step's key
