"""An event id once processed never runs again, whatever RETENTION_DAYS did to its payload.

Stripe lists events for 30 days and retries a delivery for 3: pruning keeps the
inbox row (without its payload) until then, so a redelivery, reconciliation or
``backfill_events`` finds a duplicate instead of starting a second run.
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from connections.models import InboxEvent
from connections.reconcile import reconcile_connection
from workflows import tasks
from workflows.models import Run

from .conftest import API, make_workflow, sample_event

pytestmark = pytest.mark.django_db

EVENTS_URL = f"{API}/v1/events"
INVOICE_ITEMS_URL = f"{API}/v1/invoiceitems"


@pytest.fixture
def invoiced(connection, deliver, stripe, clock, settings):
    """A customer.created delivered into a workflow that bills it, then 8 days of pruning."""
    settings.RETENTION_DAYS = 7
    make_workflow(
        connection,
        "customer.created",
        [
            (
                "bill",
                "create_invoice_item",
                {"customer": "{{ trigger.data.object.id }}", "amount": 500, "currency": "usd"},
            )
        ],
    )
    stripe.post(INVOICE_ITEMS_URL, json={"id": "ii_1", "object": "invoiceitem"})
    event = sample_event("customer.created", id="cus_Billed")
    event["created"] = int(timezone.now().timestamp())
    deliver(connection, event)
    assert Run.objects.get().status == Run.Status.SUCCEEDED

    clock.advance(days=8)
    assert tasks.prune() == {"runs": 1, "inbox_events": 0, "inbox_payloads": 1}
    return event


def invoice_item_posts(stripe) -> int:
    return sum(
        call.request.method == "POST" and call.request.url == INVOICE_ITEMS_URL
        for call in stripe.calls
    )


def events_page(*events) -> dict:
    return {"object": "list", "data": list(events), "has_more": False, "url": "/v1/events"}


def test_pruning_keeps_the_event_id_without_its_payload(invoiced):
    stored = InboxEvent.objects.get(stripe_event_id=invoiced["id"])
    assert stored.payload == {}
    assert stored.payload_pruned_at is not None
    assert not Run.objects.exists()


def test_backfill_after_pruning_finds_a_duplicate_and_bills_nothing_twice(
    connection, invoiced, stripe
):
    stripe.get(EVENTS_URL, json=events_page(invoiced))
    out = StringIO()

    call_command(
        "backfill_events",
        connection=connection.name,
        since="20d",
        types=["customer.created"],
        stdout=out,
        stderr=StringIO(),
    )

    assert "0 new, 1 duplicates" in out.getvalue()
    assert not Run.objects.exists()
    assert invoice_item_posts(stripe) == 1


def test_reconciliation_after_pruning_finds_a_duplicate_and_bills_nothing_twice(
    connection, invoiced, stripe
):
    connection.events_cursor = timezone.now() - timedelta(days=9)
    connection.save()
    stripe.get(EVENTS_URL, json=events_page(invoiced))

    summary = reconcile_connection(connection)

    assert (summary.new, summary.duplicates) == (0, 1)
    assert not Run.objects.exists()
    assert invoice_item_posts(stripe) == 1


def test_a_redelivery_of_a_pruned_event_is_answered_200_and_runs_nothing(
    connection, invoiced, deliver, stripe
):
    response = deliver(connection, invoiced)

    assert response.json() == {"received": invoiced["id"], "duplicate": True}
    assert not Run.objects.exists()
    assert invoice_item_posts(stripe) == 1


def test_a_pruned_event_is_never_dispatched_again(connection, invoiced, stripe, on_commit):
    stored = InboxEvent.objects.get(stripe_event_id=invoiced["id"])
    InboxEvent.objects.filter(pk=stored.pk).update(status=InboxEvent.Status.RECEIVED)

    with on_commit():
        assert tasks.dispatch_event(stored.pk) == []

    assert not Run.objects.exists()
    assert invoice_item_posts(stripe) == 1


def test_the_id_is_forgotten_only_once_stripe_can_no_longer_send_the_event(
    connection, invoiced, clock
):
    clock.advance(days=22)  # 30 days after the event: Stripe may still list it
    assert tasks.prune()["inbox_events"] == 0
    clock.advance(days=2)  # 32 days: past Stripe's 30 days, and our one day of margin
    assert tasks.prune()["inbox_events"] == 1
    assert not InboxEvent.objects.exists()
