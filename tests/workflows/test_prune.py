"""Runs and inbox events older than RETENTION_DAYS are pruned; unfinished runs are kept."""

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

    assert tasks.prune() == {"runs": 1, "inbox_events": 1}
    assert list(InboxEvent.objects.values_list("stripe_event_id", flat=True)) == ["evt_new"]
    assert list(Run.objects.all()) == [retrying]
