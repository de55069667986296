"""Each popular automation creates an inactive workflow that runs green on its trigger's sample."""

import pytest
from django.urls import reverse

from stripe_connector.catalog import get_trigger
from workflows.automations import AUTOMATIONS, create_from_automation
from workflows.engine import create_run
from workflows.models import RunStatus
from workflows.services import check_steps

from .conftest import API

pytestmark = pytest.mark.django_db

# What Stripe answers to each automation's one call on the trigger's sample object.
CALLS = {
    "customer_updated_find_customer": ("GET", "/v1/customers/{id}"),
    "invoice_created_finalize_invoice": ("POST", "/v1/invoices/{id}/finalize"),
    "payment_intent_created_update_payment_intent": ("POST", "/v1/payment_intents/{id}"),
    "product_updated_find_product": ("GET", "/v1/products/{id}"),
}


# These post to a URL the user sets (tests/http_steps/test_engine_http.py runs them).
HTTP_AUTOMATIONS = {"customer_updated_send_to_crm", "invoice_payment_failed_alert_team"}


def test_there_are_the_six_popular_automations():
    assert set(AUTOMATIONS) == set(CALLS) | HTTP_AUTOMATIONS


@pytest.mark.parametrize("key", sorted(CALLS))
def test_each_automation_runs_green_against_its_trigger_sample(key, connection, stripe, on_commit):
    workflow = create_from_automation(key, connection)
    assert workflow.active is False
    steps = [
        {"name": s.name, "action_key": s.action_key, "input_mapping": s.input_mapping}
        for s in workflow.steps.all()
    ]
    assert all(report.ok and not report.warnings for report in check_steps(workflow, steps))

    sample = get_trigger(workflow.trigger_key).sample_event()
    from connections.models import InboxEvent

    event = InboxEvent.objects.create(
        connection=connection,
        stripe_event_id=sample["id"],
        type=sample["type"],
        created="2026-01-01T00:00:00Z",
        livemode=False,
        payload=sample,
    )
    method, path = CALLS[key]
    obj = sample["data"]["object"]
    stripe.add(method, API + path.format(id=obj["id"]), json={**obj})
    with on_commit():
        run = create_run(workflow, event=event)

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error


def test_admin_creates_an_automation_in_one_click(staff_client, connection):
    page = staff_client.get(reverse("admin:workflows_automations"))
    assert page.status_code == 200 and b"Invoice Created -&gt; Finalize Invoice" in page.content
    response = staff_client.post(
        reverse("admin:workflows_automations"),
        {"automation": "invoice_created_finalize_invoice", "connection": str(connection.pk)},
    )
    assert response.status_code == 302
    assert connection.workflows.get().filters == [
        {"path": "data.object.status", "op": "equals", "value": "draft"}
    ]
