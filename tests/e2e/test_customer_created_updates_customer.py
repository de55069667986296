"""Customer Created -> Update Customer, through localstripe, gunicorn and the worker."""

import pytest

from tests.e2e.stack import finished_run, make_workflow, unique
from workflows.models import RunStatus

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_new_customer_gets_metadata_from_its_created_event(stack, stripe_connection):
    workflow = make_workflow(
        stripe_connection,
        "customer.created",
        (
            "tag_customer",
            "update_customer",
            {
                "id": "{{ trigger.data.object.id }}",
                "metadata": {
                    "konnectify_event": "{{ trigger.id }}",
                    "signed_up_as": "{{ trigger.data.object.email }}",
                },
            },
        ),
    )
    email = f"{unique('ada')}@example.com"

    customer = stack.localstripe.api("POST", "/v1/customers", {"email": email})

    run = finished_run(workflow)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.event.payload["data"]["object"]["id"] == customer["id"]
    in_stripe = stack.localstripe.api("GET", f"/v1/customers/{customer['id']}")
    assert in_stripe["metadata"] == {
        "konnectify_event": run.event.stripe_event_id,
        "signed_up_as": email,
    }
