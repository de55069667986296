"""API bodies within the product's one bound on JSON: too deep or not finite is a 400
naming the field, never a 500 (DRF's parser caught only ValueError)."""

import json

import pytest

from tests.api.conftest import field_errors
from workflows.models import Workflow

pytestmark = pytest.mark.django_db


def nested(levels: int) -> str:
    """``{"a": {"a": ... "x"}}`` as JSON text (json.dumps itself stops near 1,000 levels)."""
    return '{"a": ' * levels + '"x"' + "}" * levels


def post(api, path: str, body: str | bytes):
    api.raise_request_exception = False
    return api.generic("POST", path, body, content_type="application/json")


def workflow_body(connection, **fields) -> dict:
    return {
        "name": "deep",
        "connection": str(connection.pk),
        "trigger_key": "customer.created",
        **fields,
    }


@pytest.mark.parametrize("path", ["/api/v1/workflows/", "/api/v1/connections/"])
def test_it_refuses_a_body_nested_past_what_json_can_read(superuser_api, path):
    response = post(superuser_api, path, "[" * 100_000 + "]" * 100_000)
    assert response.status_code == 400
    assert "nested deeper than 64" in field_errors(response)["[0][0][0][0]"]


def test_it_names_the_field_of_an_action_input_nested_past_what_json_can_read(
    superuser_api, connection
):
    body = '{"input": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = post(
        superuser_api, f"/api/v1/connections/{connection.pk}/actions/create_customer/", body
    )
    assert response.status_code == 400
    assert set(field_errors(response)) == {"input[0][0][0]"}


@pytest.mark.parametrize("levels", [70, 480, 990])
def test_it_refuses_an_action_input_nested_deep_naming_the_field(
    superuser_api, connection, stripe, levels
):
    body = '{"input": {"metadata": ' + nested(levels) + "}}"
    response = post(
        superuser_api, f"/api/v1/connections/{connection.pk}/actions/create_customer/", body
    )
    assert response.status_code == 400
    assert "input.metadata.a.a" in field_errors(response)
    assert not stripe.calls


@pytest.mark.parametrize("levels", [300, 480, 990])
def test_it_refuses_a_step_mapping_nested_deep_naming_the_step(superuser_api, connection, levels):
    step = '{"name": "s", "action_key": "create_customer", "input": {"metadata": %s}}'
    body = json.dumps(workflow_body(connection, steps=["STEP"])).replace(
        '"STEP"', step.replace("%s", nested(levels))
    )
    response = post(superuser_api, "/api/v1/workflows/", body)
    assert response.status_code == 400
    assert set(field_errors(response)) == {"steps[0].input.metadata"}
    assert not Workflow.objects.exists()


def test_it_refuses_a_filter_value_nested_deep(superuser_api, connection):
    flt = '{"path": "data.object.id", "op": "equals", "value": ' + nested(700) + "}"
    body = json.dumps(workflow_body(connection, filters=["FILTER"])).replace('"FILTER"', flt)
    response = post(superuser_api, "/api/v1/workflows/", body)
    assert response.status_code == 400
    assert set(field_errors(response)) == {"filters[0].value.a"}


@pytest.mark.parametrize(
    ("where", "field"),
    [
        (
            '"filters": [{"path": "data.object.id", "op": "equals", "value": 1e400}]',
            "filters[0].value",
        ),
        (
            '"steps": [{"name": "s", "action_key": "create_customer", '
            '"input": {"description": "x", "balance": -1e400}}]',
            "steps[0].input.balance",
        ),
    ],
)
def test_it_refuses_a_number_that_overflows_to_infinity(superuser_api, connection, where, field):
    head = f'{{"name": "w", "connection": "{connection.pk}", "trigger_key": "customer.created", '
    body = head + where + "}"
    response = post(superuser_api, "/api/v1/workflows/", body)
    assert response.status_code == 400
    assert "finite" in field_errors(response)[field]
    assert not Workflow.objects.exists()


@pytest.mark.parametrize("value", ["1e400", "NaN", "Infinity"])
def test_it_refuses_a_non_finite_action_input(superuser_api, connection, stripe, value):
    body = '{"input": {"metadata": {"k": ' + value + "}}}"
    response = post(
        superuser_api, f"/api/v1/connections/{connection.pk}/actions/create_customer/", body
    )
    assert response.status_code == 400
    assert not stripe.calls
