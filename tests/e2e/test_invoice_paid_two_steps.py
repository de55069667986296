"""Invoice Payment Succeeded -> Find Customer -> Update Customer with the first step's output."""

import pytest

from tests.e2e.stack import finished_run, make_workflow, unique
from workflows.models import RunStatus

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_second_step_uses_what_the_first_step_found(stack, stripe_connection):
    workflow = make_workflow(
        stripe_connection,
        "invoice.payment_succeeded",
        ("find_customer", "find_customer", {"id": "{{ trigger.data.object.customer }}"}),
        (
            "mark_paid",
            "update_customer",
            {
                "id": "{{ steps.find_customer.id }}",
                "metadata": {
                    "last_paid_invoice": "{{ trigger.data.object.id }}",
                    "billing_contact": "{{ steps.find_customer.email }}",
                },
            },
        ),
    )
    email = f"{unique('grace')}@example.com"
    customer = stack.localstripe.customer_with_card(email)
    plan = stack.localstripe.api(
        "POST",
        "/v1/plans",
        {"id": unique("plan"), "amount": 1500, "currency": "usd", "interval": "month",
         "product": {"name": "Pro"}},
    )  # fmt: skip

    # localstripe bills a new subscription at once: invoice.payment_succeeded.
    stack.localstripe.api(
        "POST", "/v1/subscriptions", {"customer": customer["id"], "items": [{"plan": plan["id"]}]}
    )

    run = finished_run(workflow)
    assert run.status == RunStatus.SUCCEEDED, run.error
    invoice = run.event.payload["data"]["object"]
    assert invoice["customer"] == customer["id"]
    found, marked = run.step_runs.order_by("order")
    assert (found.output["id"], found.output["email"]) == (customer["id"], email)
    assert marked.input["id"] == customer["id"]
    in_stripe = stack.localstripe.api("GET", f"/v1/customers/{customer['id']}")
    assert in_stripe["metadata"] == {"last_paid_invoice": invoice["id"], "billing_contact": email}
