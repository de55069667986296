"""Runs and inbox payloads older than RETENTION_DAYS are pruned; unfinished runs are kept.

An event's id outlives its payload: see test_dedupe_after_pruning.
"""

from datetime import timedelta

import pytest

from connections.models import InboxEvent
from workflows import tasks
from workflows.models import Run, RunStatus

from .conftest import make_workflow

pytestmark = pytest.mark.django_db


def test_old_finished_runs_and_old_events_are_deleted(connection, clock, settings):
    settings.RETENTION_DAYS = 30
    workflow = make_workflow(connection, "customer.created", [])
    old = clock.now - timedelta(days=31)

    def event(name, when):
        return InboxEvent.objects.create(
            connection=connection,
            stripe_event_id=name,
            type="customer.created",
            created=when,
            livemode=False,
            payload={},
            received_at=when,
        )

    old_event, new_event = event("evt_old", old), event("evt_new", clock.now)
    Run.objects.create(workflow=workflow, event=old_event, status=RunStatus.SUCCEEDED)
    retrying = Run.objects.create(workflow=workflow, event=new_event, status=RunStatus.RETRYING)
    Run.objects.filter(event=old_event).update(created_at=old)
    Run.objects.filter(pk=retrying.pk).update(created_at=old)

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
