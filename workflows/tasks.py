"""django-q2 entry points. They take ids, never objects, and delegate at once.

Safe to run twice or on several workers at the same time: see workflows.engine.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from connections.models import EVENT_ID_MEMORY, InboxEvent
from workflows import clock, engine, services
from workflows.models import Run, RunStatus


def dispatch_event(event_id: int) -> list[int]:
    """settings.EVENT_DISPATCH_TASK: create the runs for a new inbox event.

    The first new run executes in this task (no second trip through the queue);
    the others are enqueued for any worker.
    """
    return engine.dispatch(event_id, run_first_inline=True)


def run_workflow(run_id: int) -> None:
    """Execute a run's steps, as far as they can go now."""
    engine.execute_run(run_id)


def run_scheduled(workflow_id: int) -> int | None:
    """Called by a scheduled workflow's django-q2 Schedule."""
    return services.run_scheduled(workflow_id)


def sweep() -> dict[str, int]:
    """Periodic: enqueue due retries, recover steps of crashed workers, wake lost runs."""
    return engine.sweep()


def prune() -> dict[str, int]:
    """Periodic: delete runs older than settings.RETENTION_DAYS and prune the inbox.

    An inbox event older than RETENTION_DAYS without runs loses its payload but
    keeps its row (its id) until ``EVENT_ID_MEMORY`` after Stripe created it: until
    then Stripe may still list or deliver it, and the row makes that a duplicate
    instead of a second run. Returns counts: runs and inbox events deleted,
    payloads pruned.
    """
    now = clock.now()
    cutoff = now - timedelta(days=settings.RETENTION_DAYS)
    # Runs first (with their step runs); an old event's runs go with it anyway.
    _, runs = Run.objects.filter(created_at__lt=cutoff).exclude(status__in=_unfinished()).delete()
    old_events = InboxEvent.objects.filter(received_at__lt=cutoff, runs__isnull=True)
    _, events = old_events.filter(created__lt=now - EVENT_ID_MEMORY).delete()
    payloads = old_events.filter(payload_pruned_at__isnull=True).update(
        payload={}, payload_pruned_at=now
    )
    return {
        "runs": runs.get("workflows.Run", 0),
        "inbox_events": events.get("connections.InboxEvent", 0),
        "inbox_payloads": payloads,
    }


def _unfinished() -> list[str]:
    # A run still retrying is kept whatever its age; the 24 h window ends it soon.
    return [RunStatus.PENDING, RunStatus.RUNNING, RunStatus.RETRYING]
