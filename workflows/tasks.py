"""django-q2 entry points. They take ids, never objects, and delegate at once.

Safe to run twice or on several workers at the same time: see workflows.engine.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from time import monotonic

from django.conf import settings
from django.db import transaction
from django_q.tasks import async_task

from connections.models import EVENT_ID_MEMORY, InboxEvent
from workflows import clock, engine, services
from workflows.models import Run, RunStatus, StepRun

logger = logging.getLogger(__name__)


def dispatch_event(event_id: int) -> list[int]:
    """Create the runs for an inbox event, by its id; returns the new runs' ids.

    The first new run executes in this task (no second trip through the queue);
    the others are enqueued for any worker.
    """
    return engine.dispatch(event_id, run_first_inline=True)


def dispatch_delivered(connection_id: str, stripe_event_id: str) -> list[int]:
    """settings.EVENT_DISPATCH_TASK: ``dispatch_event`` for the event the inbox stored
    under (connection id, Stripe event id), the key it enqueues with
    (``connections.inbox.enqueue_dispatch``); [] when no such event is stored."""
    event_id = (
        InboxEvent.objects.filter(connection_id=connection_id, stripe_event_id=stripe_event_id)
        .values_list("pk", flat=True)
        .first()
    )
    return [] if event_id is None else dispatch_event(event_id)


def run_workflow(run_id: int) -> None:
    """Execute a run's steps, as far as they can go now."""
    engine.execute_run(run_id)


def run_scheduled(workflow_id: int) -> int | None:
    """Called by a scheduled workflow's django-q2 Schedule."""
    return services.run_scheduled(workflow_id)


def sweep() -> dict[str, int]:
    """Periodic: enqueue due retries, recover steps of crashed workers, wake lost runs."""
    return engine.sweep()


# Rows deleted (or payloads cleared) per transaction by prune(): each batch is short,
# holds its row locks for milliseconds and is committed, so a killed worker keeps what
# it finished and memory does not grow with the table.
PRUNE_BATCH_SIZE = 1000


def prune(batch_size: int = PRUNE_BATCH_SIZE, seconds: float | None = None) -> dict[str, int]:
    """Periodic: delete runs older than settings.RETENTION_DAYS and prune the inbox.

    An inbox event older than RETENTION_DAYS without runs loses its payload but
    keeps its row (its id) until ``EVENT_ID_MEMORY`` after Stripe created it: until
    then Stripe may still list or deliver it, and the row makes that a duplicate
    instead of a second run. Unfinished runs are kept whatever their age.

    Works in batches of ``batch_size`` ids (at most that many rows fetched into
    Python at a time), each its own transaction: step runs, then the runs (re-runs
    pointing at them lose ``rerun_of``, as SET_NULL would), then inbox rows, then
    payloads. After ``seconds`` (default: half of ``Q_TIMEOUT``, the task's time
    limit) it stops between batches and enqueues itself to go on, so a large
    backlog never holds one long transaction nor gets the task killed and rolled
    back. Returns this call's counts: ``runs`` and ``inbox_events`` deleted,
    ``inbox_payloads`` pruned.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    now = clock.now()
    cutoff = now - timedelta(days=settings.RETENTION_DAYS)
    budget = settings.Q_TIMEOUT / 2 if seconds is None else seconds
    deadline = monotonic() + budget
    counts = {"runs": 0, "inbox_events": 0, "inbox_payloads": 0}

    # Each phase reads candidates on plain columns (in primary key order, from where the
    # last batch ended) and checks the rest, "no runs", on those ids only: asked of the
    # whole table, that check can make PostgreSQL hash every run for every batch.
    old_runs = Run.objects.filter(created_at__lt=cutoff).exclude(status__in=_unfinished())
    old_events = InboxEvent.objects.filter(received_at__lt=cutoff)
    forgotten = old_events.filter(created__lt=now - EVENT_ID_MEMORY)
    unpruned = old_events.filter(payload_pruned_at__isnull=True)
    phases = [
        ("runs", old_runs, _delete_runs),
        ("inbox_events", forgotten, _delete_events),
        ("inbox_payloads", unpruned, lambda ids: _prune_payloads(ids, now)),
    ]
    for key, candidates, apply in phases:
        after = 0
        while True:
            ids = _next_ids(candidates, batch_size, after)
            if not ids:
                break
            after = ids[-1]
            with transaction.atomic():
                counts[key] += apply(ids)
            if len(ids) < batch_size:
                break  # that was the last of this phase
            if monotonic() >= deadline:
                logger.info("prune: stopped after %s s with rows left; continuing", budget)
                async_task("workflows.tasks.prune", task_name="workflows: prune (continued)")
                return counts
    return counts


def _next_ids(queryset, batch_size: int, after: int) -> list[int]:
    """The next ``batch_size`` primary keys of ``queryset`` above ``after`` (one SELECT, LIMIT)."""
    ids = queryset.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)
    return list(ids[:batch_size])


def _delete_runs(ids: list[int]) -> int:
    """Delete these runs and their step runs in SQL, without loading them; returns runs deleted.

    The runs are filtered again inside the transaction (a run may have been re-run
    or changed since its id was read); re-runs of a deleted run keep their row and
    lose the link, as ``rerun_of``'s SET_NULL says.
    """
    runs = Run.objects.filter(pk__in=ids).exclude(status__in=_unfinished())
    StepRun.objects.filter(run__in=runs).delete()  # no dependents: one DELETE, no loading
    Run.objects.filter(rerun_of__in=runs).update(rerun_of=None)
    return _delete_in_sql(runs)


def _delete_events(ids: list[int]) -> int:
    """Delete these inbox rows unless a run refers to one now; returns rows deleted."""
    return _delete_in_sql(InboxEvent.objects.filter(pk__in=ids, runs__isnull=True))


def _delete_in_sql(queryset) -> int:
    """One DELETE of ``queryset``'s rows, without Django's cascade collection in Python.

    ``QuerySet.delete()`` would load every row to collect what cascades; the callers
    above have already deleted or unlinked every row that refers to these.
    """
    return queryset._raw_delete(queryset.db)


def _prune_payloads(ids: list[int], now) -> int:
    """Clear the payloads of these inbox rows that have no runs and still their payload."""
    unpruned = InboxEvent.objects.filter(pk__in=ids, payload_pruned_at__isnull=True)
    return unpruned.filter(runs__isnull=True).update(payload={}, payload_pruned_at=now)


def _unfinished() -> list[str]:
    # A run still retrying is kept whatever its age; the 24 h window ends it soon.
    return [RunStatus.PENDING, RunStatus.RUNNING, RunStatus.RETRYING]
