"""A signed webhook runs a multi-step workflow whose steps reference each other."""

from urllib.parse import parse_qs

import pytest

from workflows.models import Run, RunStatus

from .conftest import API, make_workflow, sample_event

pytestmark = pytest.mark.django_db


def form(call) -> dict:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def test_each_step_sees_the_trigger_and_the_outputs_of_earlier_steps(connection, deliver, stripe):
    make_workflow(
        connection,
        "customer.created",
        [
            ("find_customer", "find_customer", {"id": "{{ trigger.data.object.id }}"}),
            (
                "tag",
                "update_customer",
                {
                    "id": "{{ steps.find_customer.id }}",
                    "description": "Welcome {{ steps.find_customer.email }}",
                    "metadata": {"source_event": "{{ trigger.id }}"},
                },
            ),
            (
                "charge",
                "create_invoice_item",
                {"customer": "{{ steps.tag.id }}", "amount": 500, "currency": "usd"},
            ),
        ],
    )
    event = sample_event("customer.created", id="cus_Multi1")
    stripe.get(
        f"{API}/v1/customers/cus_Multi1",
        json={"id": "cus_Multi1", "object": "customer", "email": "ann@example.com"},
    )
    stripe.post(f"{API}/v1/customers/cus_Multi1", json={"id": "cus_Multi1", "object": "customer"})
    stripe.post(f"{API}/v1/invoiceitems", json={"id": "ii_1", "object": "invoiceitem"})

    deliver(connection, event)

    run = Run.objects.get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    update, item = stripe.calls[1], stripe.calls[2]
    assert form(update) == {
        "description": "Welcome ann@example.com",
        "metadata[source_event]": event["id"],
    }
    assert form(item) == {"customer": "cus_Multi1", "amount": "500", "currency": "usd"}
    steps = list(run.step_runs.all())
    assert [s.status for s in steps] == [RunStatus.SUCCEEDED] * 3
    assert steps[2].output["id"] == "ii_1"
    assert steps[1].input["description"] == "Welcome ann@example.com"


def test_a_reference_that_keeps_its_type_is_sent_as_that_value(connection, deliver, stripe):
    make_workflow(
        connection,
        "customer.created",
        [
            (
                "item",
                "create_invoice_item",
                {
                    "customer": "{{ trigger.data.object.id }}",
                    "amount": "{{ trigger.data.object.balance }}",
                    "currency": "eur",
                },
            )
        ],
    )
    stripe.post(f"{API}/v1/invoiceitems", json={"id": "ii_2", "object": "invoiceitem"})

    deliver(connection, sample_event("customer.created", id="cus_T", balance=1234))

    step_run = Run.objects.get().step_runs.get()
    assert step_run.input["amount"] == 1234
    assert form(stripe.calls[0])["amount"] == "1234"


def test_a_steps_input_is_validated_once_per_attempt(connection, deliver, stripe, monkeypatch):
    from stripe_connector.catalog import base

    checks = []
    schema_errors = base.schema_errors
    monkeypatch.setattr(
        base, "schema_errors", lambda *args: checks.append(1) or schema_errors(*args)
    )
    make_workflow(
        connection,
        "customer.created",
        [("find_customer", "find_customer", {"id": "{{ trigger.data.object.id }}"})],
    )
    stripe.get(f"{API}/v1/customers/cus_Once1", json={"id": "cus_Once1", "object": "customer"})
    deliver(connection, sample_event("customer.created", id="cus_Once1"))
    assert Run.objects.get().status == RunStatus.SUCCEEDED
    assert len(checks) == 1
