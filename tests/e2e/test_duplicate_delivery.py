"""The same delivery, re-sent byte for byte, is stored once and runs once."""

import pytest
import requests

from connections.models import InboxEvent
from tests.e2e.stack import finished_run, make_workflow, queue_is_empty, unique, wait_for
from workflows.models import Run, RunStatus

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_delivery_posted_again_makes_no_second_inbox_row_or_run(stack, stripe_connection):
    workflow = make_workflow(
        stripe_connection,
        "customer.created",
        ("tag", "update_customer", {"id": "{{ trigger.data.object.id }}",
                                    "metadata": {"seen": "yes"}}),
    )  # fmt: skip
    customer = stack.localstripe.api(
        "POST", "/v1/customers", {"email": f"{unique('dup')}@example.com"}
    )
    run = finished_run(workflow)
    assert run.status == RunStatus.SUCCEEDED, run.error
    # What localstripe actually sent us (body and headers), as its journal recorded it.
    delivery = next(
        d
        for d in stack.localstripe.deliveries()
        if d["url"] == stripe_connection.webhook_url and d["event_id"] == run.event.stripe_event_id
    )
    assert delivery["status"] == 200
    assert customer["id"] in delivery["body"]

    again = requests.post(
        delivery["url"], data=delivery["body"].encode(), headers=delivery["headers"], timeout=10
    )

    assert again.status_code == 200, again.text
    assert again.json() == {"received": run.event.stripe_event_id, "duplicate": True}
    wait_for(queue_is_empty)
    assert InboxEvent.objects.filter(stripe_event_id=run.event.stripe_event_id).count() == 1
    assert Run.objects.filter(workflow=workflow).count() == 1
