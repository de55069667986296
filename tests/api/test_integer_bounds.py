"""A number text too long for int() (past 4,300 digits) or past Stripe's 64-bit range is a
400 naming the field, at an action's run and at a workflow's save; never a 500."""

import json

import pytest

from stripe_connector.catalog.values import MAX_INTEGER
from tests.api.conftest import field_errors
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("amount", ["1" * 5000, "-" + "1" * 5000, str(MAX_INTEGER + 1)])
def test_an_action_refuses_an_amount_past_the_range_naming_it(
    superuser_api, connection, stripe, amount
):
    superuser_api.raise_request_exception = False
    response = superuser_api.post(
        f"/api/v1/connections/{connection.pk}/actions/create_payment_intent/",
        {"input": {"amount": amount, "currency": "usd"}},
        format="json",
    )
    assert response.status_code == 400
    assert "must be between" in field_errors(response)["input.amount"]
    assert not stripe.calls


def test_a_workflow_with_an_amount_past_the_range_is_refused_at_save(superuser_api, connection):
    superuser_api.raise_request_exception = False
    body = {
        "name": "w",
        "connection": str(connection.pk),
        "trigger_key": "customer.created",
        "steps": [
            {
                "name": "s",
                "action_key": "create_payment_intent",
                "input": {"amount": "1" * 5000, "currency": "usd"},
            }
        ],
    }
    response = superuser_api.generic(
        "POST", "/api/v1/workflows/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert "must be between" in field_errors(response)["steps[0].input.amount"]
    assert not Workflow.objects.exists()
