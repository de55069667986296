"""Runs and inbox payloads older than RETENTION_DAYS are pruned; unfinished runs are kept.

Pruning works in batches, each its own transaction: whatever the batch size the end
state is the one a single transaction with Django's cascade gives; a crash keeps the
batches already done; at most one batch of ids is read into Python at a time.
An event's id outlives its payload: see test_dedupe_after_pruning.
"""

import itertools
from datetime import timedelta

import pytest
from django.db import connection as db
from django.db import transaction
from django.test.utils import CaptureQueriesContext

from connections.models import EVENT_ID_MEMORY, InboxEvent
from workflows import tasks
from workflows.models import Run, RunStatus, StepRun

from .conftest import make_workflow

pytestmark = pytest.mark.django_db

FINISHED = [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SKIPPED, RunStatus.CANCELED]


def inbox_event(connection, name, when, created=None):
    return InboxEvent.objects.create(
        connection=connection,
        stripe_event_id=name,
        type="customer.created",
        created=created or when,
        livemode=False,
        payload={"id": name},
        received_at=when,
    )


def run(workflow, event, status, when, *, replay=0, rerun_of=None, steps=1):
    made = Run.objects.create(
        workflow=workflow, event=event, status=status, replay=replay, rerun_of=rerun_of
    )
    Run.objects.filter(pk=made.pk).update(created_at=when)
    for order in range(steps):
        StepRun.objects.create(
            run=made,
            order=order,
            step_name=f"step {order}",
            action_key="create_customer",
            on_failure="stop",
            status=status,
            created_at=when,
        )
    return made


def history(connection, now):
    """A mixed history around the 30-day cutoff and the 31-day id memory.

    Old finished runs (some re-run by new or old runs) with step runs, an old retrying
    run, old events with and without runs, some past the id memory, new ones of each.
    """
    workflow = make_workflow(connection, "customer.created", [])
    old, recent = now - timedelta(days=31), now - timedelta(days=2)
    ancient = now - EVENT_ID_MEMORY - timedelta(days=1)
    for n in range(9):
        event = inbox_event(connection, f"evt_old_{n}", old, created=ancient if n % 2 else old)
        first = run(workflow, event, FINISHED[n % 4], old, steps=n % 3)
        if n % 3 == 0:  # re-run by a recent run: that one stays and loses its link
            run(workflow, event, RunStatus.SUCCEEDED, recent, replay=1, rerun_of=first)
        elif n % 3 == 1:  # re-run by an old run: both go
            run(workflow, event, RunStatus.FAILED, old, replay=1, rerun_of=first, steps=2)
    retrying_event = inbox_event(connection, "evt_old_retrying", old, created=ancient)
    run(workflow, retrying_event, RunStatus.RETRYING, old, steps=2)
    for n in range(7):  # old events that never had a run
        inbox_event(connection, f"evt_runless_{n}", old, created=ancient if n % 2 else old)
    for n in range(3):
        event = inbox_event(connection, f"evt_new_{n}", recent)
        run(workflow, event, FINISHED[n], recent, steps=1)


def state():
    """Everything pruning may touch, as plain values."""
    events = sorted(
        (e.stripe_event_id, e.payload, e.payload_pruned_at is not None)
        for e in InboxEvent.objects.all()
    )
    runs = sorted(
        (r.event.stripe_event_id, r.replay, r.status, r.rerun_of_id is not None)
        for r in Run.objects.select_related("event")
    )
    steps = sorted(
        StepRun.objects.values_list("run__event__stripe_event_id", "run__replay", "order")
    )
    return events, runs, steps


def prune_in_one_transaction(now, cutoff):
    """The rules pruning keeps, as one transaction with Django's cascade: the reference."""
    with transaction.atomic():
        Run.objects.filter(created_at__lt=cutoff).exclude(
            status__in=[RunStatus.PENDING, RunStatus.RUNNING, RunStatus.RETRYING]
        ).delete()
        old_events = InboxEvent.objects.filter(received_at__lt=cutoff, runs__isnull=True)
        old_events.filter(created__lt=now - EVENT_ID_MEMORY).delete()
        old_events.filter(payload_pruned_at__isnull=True).update(payload={}, payload_pruned_at=now)


def test_old_finished_runs_and_old_events_are_deleted(connection, clock, settings):
    settings.RETENTION_DAYS = 30
    workflow = make_workflow(connection, "customer.created", [])
    old = clock.now - timedelta(days=31)
    old_event, new_event = (
        inbox_event(connection, "evt_old", old),
        inbox_event(connection, "evt_new", clock.now),
    )
    InboxEvent.objects.update(payload={})
    run(workflow, old_event, RunStatus.SUCCEEDED, old, steps=0)
    retrying = run(workflow, new_event, RunStatus.RETRYING, old, steps=0)

    assert tasks.prune() == {"runs": 1, "inbox_events": 0, "inbox_payloads": 1}
    # The old event keeps its id (Stripe may list it for 30 days), not its payload.
    kept = InboxEvent.objects.order_by("stripe_event_id").values_list(
        "stripe_event_id", "payload_pruned_at"
    )
    assert list(kept) == [("evt_new", None), ("evt_old", clock.now)]
    assert list(Run.objects.all()) == [retrying]

    clock.advance(days=1)  # 32 days after the old event: Stripe can no longer send it
    assert tasks.prune() == {"runs": 0, "inbox_events": 1, "inbox_payloads": 0}
    assert list(InboxEvent.objects.values_list("stripe_event_id", flat=True)) == ["evt_new"]


@pytest.mark.parametrize("batch_size", [1, 2, 7, 1000])
def test_any_batch_size_gives_the_end_state_of_one_transaction(
    connection, clock, settings, batch_size
):
    settings.RETENTION_DAYS = 30
    history(connection, clock.now)
    cutoff = clock.now - timedelta(days=30)
    with transaction.atomic():
        sid = transaction.savepoint()
        prune_in_one_transaction(clock.now, cutoff)
        expected = state()
        transaction.savepoint_rollback(sid)

    counts = tasks.prune(batch_size=batch_size)

    assert state() == expected
    # 9 old first runs, 3 of them re-run by old runs; the retrying run stays.
    assert counts == {"runs": 12, "inbox_events": 6, "inbox_payloads": 7}
    _, runs, steps = expected
    assert ("evt_old_retrying", 0, RunStatus.RETRYING, False) in runs
    assert [r for r in runs if r[1] == 1] == [
        (f"evt_old_{n}", 1, RunStatus.SUCCEEDED, False) for n in (0, 3, 6)
    ]  # re-runs of deleted runs lose the link and stay
    assert [s for s in steps if s[0] == "evt_old_retrying"] == [
        ("evt_old_retrying", 0, 0),
        ("evt_old_retrying", 0, 1),
    ]
    assert tasks.prune(batch_size=batch_size) == {"runs": 0, "inbox_events": 0, "inbox_payloads": 0}


@pytest.mark.django_db(transaction=True)
def test_a_crash_after_some_batches_keeps_them(connection, clock, settings, monkeypatch):
    settings.RETENTION_DAYS = 30
    workflow = make_workflow(connection, "customer.created", [])
    old = clock.now - timedelta(days=40)
    runs = [
        run(workflow, inbox_event(connection, f"evt_{n}", old), RunStatus.SUCCEEDED, old)
        for n in range(10)
    ]
    delete_runs, batches = tasks._delete_runs, []

    def dies_in_the_fourth_batch(ids):
        deleted = delete_runs(ids)  # inside the batch's transaction
        batches.append(ids)
        if len(batches) == 4:
            raise SystemExit("worker killed")
        return deleted

    monkeypatch.setattr(tasks, "_delete_runs", dies_in_the_fourth_batch)
    with pytest.raises(SystemExit):
        tasks.prune(batch_size=3)

    # Three batches of 3 committed; the fourth rolled back; nothing else touched yet.
    assert list(Run.objects.values_list("pk", flat=True)) == [runs[9].pk]
    assert StepRun.objects.filter(run=runs[9]).count() == 1
    assert StepRun.objects.count() == 1
    assert InboxEvent.objects.count() == 10

    monkeypatch.setattr(tasks, "_delete_runs", delete_runs)
    assert tasks.prune(batch_size=3) == {"runs": 1, "inbox_events": 10, "inbox_payloads": 0}
    assert not Run.objects.exists() and not StepRun.objects.exists()


def test_each_batch_reads_at_most_its_size_of_ids_and_loads_no_rows(
    connection, clock, settings, monkeypatch
):
    settings.RETENTION_DAYS = 30
    history(connection, clock.now)
    next_ids, fetched = tasks._next_ids, []

    def counted(queryset, batch_size, after):
        ids = next_ids(queryset, batch_size, after)
        fetched.append((after, ids))
        return ids

    monkeypatch.setattr(tasks, "_next_ids", counted)
    with CaptureQueriesContext(db) as queries:
        counts = tasks.prune(batch_size=2)

    assert max(len(ids) for _, ids in fetched) == 2
    assert sum(counts.values()) == 25
    # Each batch starts past the last one of its phase (0: a phase's first): no row is
    # read twice, and rows skipped (an event with runs) are not read again.
    for (_, previous), (after, ids) in itertools.pairwise(fetched):
        assert after in (0, previous[-1] if previous else None), fetched
        assert all(pk > after for pk in ids)
    selects = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]
    # Only the id batches are read: one column, LIMIT 2; no run, step run or event is loaded.
    assert len(selects) == len(fetched), "\n".join(selects)
    for sql in selects:
        assert "LIMIT 2" in sql, sql
        assert sql.split(" FROM ")[0].count(",") == 0, sql


def test_it_stops_after_its_time_and_enqueues_itself_to_go_on(
    connection, clock, settings, monkeypatch
):
    settings.RETENTION_DAYS = 30
    workflow = make_workflow(connection, "customer.created", [])
    old = clock.now - timedelta(days=40)
    for n in range(5):
        run(workflow, inbox_event(connection, f"evt_{n}", old), RunStatus.SUCCEEDED, old)
    enqueued = []
    monkeypatch.setattr(tasks, "async_task", lambda func, **kw: enqueued.append(func))

    first = tasks.prune(batch_size=2, seconds=0)
    assert first == {"runs": 2, "inbox_events": 0, "inbox_payloads": 0}
    assert enqueued == ["workflows.tasks.prune"]
    assert Run.objects.count() == 3

    assert tasks.prune(batch_size=2) == {"runs": 3, "inbox_events": 5, "inbox_payloads": 0}
    assert enqueued == ["workflows.tasks.prune"]  # done: nothing more enqueued


def test_the_default_time_is_half_the_task_time_limit(connection, clock, settings, monkeypatch):
    settings.RETENTION_DAYS = 30
    settings.Q_TIMEOUT = 120
    workflow = make_workflow(connection, "customer.created", [])
    old = clock.now - timedelta(days=40)
    for n in range(3):
        run(workflow, inbox_event(connection, f"evt_{n}", old), RunStatus.SUCCEEDED, old)
    ticks = iter([1000.0, 1059.0, 1061.0])  # start, after batch 1, after batch 2
    monkeypatch.setattr(tasks, "monotonic", lambda: next(ticks))
    enqueued = []
    monkeypatch.setattr(tasks, "async_task", lambda func, **kw: enqueued.append(func))

    assert tasks.prune(batch_size=1)["runs"] == 2
    assert enqueued == ["workflows.tasks.prune"]


def test_a_batch_size_below_one_is_refused():
    with pytest.raises(ValueError, match="batch_size"):
        tasks.prune(batch_size=0)
