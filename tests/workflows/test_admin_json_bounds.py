"""Admin's workflow form reads its JSON fields (filters, a step's mapping) under the
product's one bound: too deep or not finite is a form error, never a 500."""

import pytest
from django.urls import reverse

from workflows.models import Workflow

from .test_mapping_errors import workflow_form

pytestmark = pytest.mark.django_db


def deep_object(levels: int) -> str:
    return '{"a":' * levels + '"x"' + "}" * levels


@pytest.mark.parametrize("levels", [70, 480, 5000])
def test_it_refuses_a_step_mapping_nested_deep(staff_client, connection, levels):
    data = workflow_form(connection, [("s", "create_customer", {"metadata": {"k": "v"}})])
    data["steps-0-input_mapping"] = '{"metadata": ' + deep_object(levels) + "}"
    response = staff_client.post(reverse("admin:workflows_workflow_add"), data)
    assert response.status_code == 200
    assert "nested deeper than 64 levels" in response.content.decode()
    assert not Workflow.objects.exists()


@pytest.mark.parametrize("filters", ["[" * 5000 + "]" * 5000, "[" * 500 + "]" * 500])
def test_it_refuses_filters_nested_deep(staff_client, connection, filters):
    data = workflow_form(connection, [])
    data["filters"] = filters
    response = staff_client.post(reverse("admin:workflows_workflow_add"), data)
    assert response.status_code == 200
    assert "nested deeper than 64 levels" in response.content.decode()
    assert not Workflow.objects.exists()


def test_it_refuses_a_filter_value_that_overflows_to_infinity(staff_client, connection):
    data = workflow_form(connection, [])
    data["filters"] = '[{"path": "data.object.id", "op": "equals", "value": 1e400}]'
    response = staff_client.post(reverse("admin:workflows_workflow_add"), data)
    assert response.status_code == 200
    assert "[0].value: must be a finite number" in response.content.decode()
    assert not Workflow.objects.exists()
