"""Load sample event (Stripe first, catalog fallback) and Test step (live mode asks first)."""

import pytest
from django.urls import reverse

from connections.models import Connection
from stripe_connector.catalog import get_trigger
from workflows.models import Run
from workflows.tryout import load_sample_event

from .conftest import API, make_workflow

pytestmark = pytest.mark.django_db

STEPS = [("find", "find_customer", {"id": "{{ trigger.data.object.id }}"})]


def test_the_sample_comes_from_the_latest_event_in_stripe(connection, stripe):
    workflow = make_workflow(connection, "customer.updated", STEPS)
    latest = {"id": "evt_latest", "type": "customer.updated", "data": {"object": {"id": "cus_L"}}}
    stripe.get(f"{API}/v1/events", json={"object": "list", "data": [latest], "has_more": False})

    assert load_sample_event(workflow) == "Stripe"
    workflow.refresh_from_db()
    assert workflow.sample_event == latest
    assert "type=customer.updated" in stripe.calls[0].request.url


def test_without_events_in_stripe_the_catalog_sample_is_used(connection, stripe):
    workflow = make_workflow(connection, "customer.updated", STEPS)
    stripe.get(f"{API}/v1/events", json={"object": "list", "data": [], "has_more": False})

    assert load_sample_event(workflow) == "the catalog"
    workflow.refresh_from_db()
    assert workflow.sample_event["id"] == get_trigger("customer.updated").sample["id"]


def test_test_step_runs_the_step_for_real_with_the_sample_and_records_no_run(
    connection, stripe, staff_client
):
    workflow = make_workflow(connection, "customer.updated", STEPS)
    sample_id = get_trigger("customer.updated").sample["data"]["object"]["id"]
    stripe.get(f"{API}/v1/customers/{sample_id}", json={"id": sample_id, "object": "customer"})
    url = reverse("admin:workflows_test_step", args=[workflow.pk])

    assert b"FOR REAL" in staff_client.get(url).content
    page = staff_client.post(url, {"step": workflow.steps.get().pk})

    assert page.context["result"]["ok"] is True
    assert page.context["result"]["output"]["id"] == sample_id
    assert not Run.objects.exists()


def test_test_step_on_a_live_connection_needs_confirmation(connection, stripe, staff_client):
    Connection.objects.filter(pk=connection.pk).update(mode=Connection.Mode.LIVE)
    workflow = make_workflow(connection, "customer.updated", STEPS)
    url = reverse("admin:workflows_test_step", args=[workflow.pk])

    page = staff_client.post(url, {"step": workflow.steps.get().pk})

    assert "live mode" in page.context["error"]
    assert "result" not in page.context
    assert len(stripe.calls) == 0
