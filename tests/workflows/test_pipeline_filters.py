"""Filters decide which workflows run for an event; a filtered-out run is recorded as skipped."""

import pytest

from connections.models import InboxEvent
from workflows.models import Run, RunStatus

from .conftest import API, make_workflow, sample_event

pytestmark = pytest.mark.django_db

FINALIZE = [("finalize", "finalize_invoice", {"id": "{{ trigger.data.object.id }}"})]
ONLY_DRAFTS = [{"path": "data.object.status", "op": "equals", "value": "draft"}]


def test_a_matching_event_runs_and_a_non_matching_one_is_skipped(connection, deliver, stripe):
    workflow = make_workflow(connection, "invoice.created", FINALIZE, filters=ONLY_DRAFTS)
    stripe.post(
        f"{API}/v1/invoices/in_draft/finalize", json={"id": "in_draft", "object": "invoice"}
    )

    deliver(connection, sample_event("invoice.created", id="in_draft", status="draft"))
    deliver(connection, sample_event("invoice.created", id="in_open", status="open"))

    ran, skipped = Run.objects.filter(workflow=workflow).order_by("id")
    assert ran.status == RunStatus.SUCCEEDED
    assert skipped.status == RunStatus.SKIPPED
    assert skipped.error == 'Filter data.object.status equals "draft": was "open".'
    assert not skipped.step_runs.exists()
    assert len(stripe.calls) == 1


def test_only_active_workflows_of_the_event_type_on_that_connection_run(
    connection, deliver, stripe
):
    make_workflow(connection, "invoice.created", FINALIZE, active=False)
    make_workflow(connection, "invoice.paid", FINALIZE)

    deliver(connection, sample_event("invoice.created", id="in_none"))

    assert not Run.objects.exists()
    event = InboxEvent.objects.get()
    assert event.status == InboxEvent.Status.IGNORED
