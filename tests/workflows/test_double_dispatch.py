"""Dispatching the same event twice (or delivering it twice) creates nothing new."""

import pytest

from connections.models import InboxEvent
from workflows import tasks
from workflows.models import Run, StepRun

from .conftest import API, make_workflow, sample_event

pytestmark = pytest.mark.django_db


def test_dispatching_twice_creates_no_second_run_and_calls_stripe_once(
    connection, deliver, stripe, on_commit
):
    make_workflow(connection, "customer.created", [("create", "create_customer", {"name": "A"})])
    make_workflow(
        connection,
        "customer.created",
        [("find", "find_customer", {"id": "{{ trigger.data.object.id }}"})],
    )
    stripe.post(f"{API}/v1/customers", json={"id": "cus_A", "object": "customer"})
    stripe.get(f"{API}/v1/customers/cus_D", json={"id": "cus_D", "object": "customer"})
    event = sample_event("customer.created", id="cus_D")

    deliver(connection, event)
    deliver(connection, event)  # Stripe delivers again
    stored = InboxEvent.objects.get()
    with on_commit():
        assert tasks.dispatch_event(stored.pk) == []  # a redelivered task

    assert Run.objects.count() == 2
    assert StepRun.objects.count() == 2
    assert len(stripe.calls) == 2


def test_a_mode_mismatch_event_is_not_dispatched(connection, on_commit):
    make_workflow(connection, "customer.created", [("create", "create_customer", {"name": "A"})])
    event = InboxEvent.objects.create(
        connection=connection,
        stripe_event_id="evt_live",
        type="customer.created",
        created="2026-01-01T00:00:00Z",
        livemode=True,
        payload={},
        status=InboxEvent.Status.MODE_MISMATCH,
    )
    with on_commit():
        assert tasks.dispatch_event(event.pk) == []
    assert not Run.objects.exists()
