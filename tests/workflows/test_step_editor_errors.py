"""The workflow page's errors land on the field at fault, saying what to do, and nothing else."""

import html

import pytest
from django.urls import reverse

from workflows.models import Workflow

from .test_mapping_errors import workflow_form

pytestmark = pytest.mark.django_db


def post(client, data):
    response = client.post(reverse("admin:workflows_workflow_add"), data)
    assert response.status_code == 200, "saved, or redirected, despite the error"
    assert not Workflow.objects.exists()
    return response


def step_errors(response, index: int = 0) -> dict:
    formset = response.context["inline_admin_formsets"][0].formset
    return {field: list(errors) for field, errors in formset.forms[index].errors.items()}


def test_a_step_input_that_is_not_json_says_where_and_nothing_else(staff_client, connection):
    data = workflow_form(connection, [("find", "find_customer", {})])
    data["steps-0-input_mapping"] = '{\n  "id": "cus_1"\n  "email": "a@example.com"\n}'
    response = post(staff_client, data)
    assert step_errors(response) == {
        "input_mapping": ["Invalid JSON: Expecting ',' delimiter (line 3, column 3)."]
    }
    assert "is required" not in response.content.decode()


def test_filters_that_are_not_json_say_where(staff_client, connection):
    data = workflow_form(connection, [], filters='[{"path": "type", "op": "equals", }]')
    response = post(staff_client, data)
    assert response.context["adminform"].form.errors["filters"] == [
        "Invalid JSON: Expecting property name enclosed in double quotes (line 1, column 35)."
    ]


def test_json_too_deep_keeps_its_own_message(staff_client, connection):
    data = workflow_form(connection, [("find", "find_customer", {})])
    data["steps-0-input_mapping"] = '{"metadata": ' + '{"a":' * 70 + '"x"' + "}" * 71
    response = post(staff_client, data)
    (message,) = step_errors(response)["input_mapping"]
    assert "nested deeper than 64 levels" in message


def test_an_unknown_action_names_itself_and_what_to_do(staff_client, connection):
    data = workflow_form(connection, [("s", "launch_rocket", {"id": "x"})])
    response = post(staff_client, data)
    assert step_errors(response) == {
        "action_key": ["Unknown action 'launch_rocket': choose one from the list."]
    }
    assert "Select a valid choice" not in html.unescape(response.content.decode())


def test_a_duplicate_step_name_is_an_error_on_that_steps_name(staff_client, connection):
    mapping = {"id": "{{ trigger.data.object.id }}"}
    data = workflow_form(
        connection,
        [("find", "find_customer", mapping), ("find", "find_customer", mapping)],
    )
    response = post(staff_client, data)
    assert step_errors(response, 0) == {}
    assert step_errors(response, 1) == {
        "name": [
            "Another step of this workflow is already named 'find': step names must be "
            "unique, references use them."
        ]
    }
    assert "Please correct the duplicate data" not in response.content.decode()


def test_a_deleted_twin_is_no_duplicate(staff_client, connection):
    mapping = {"id": "{{ trigger.data.object.id }}"}
    data = workflow_form(
        connection,
        [("find", "find_customer", mapping), ("find", "find_customer", mapping)],
    )
    data["steps-1-DELETE"] = "on"
    response = staff_client.post(reverse("admin:workflows_workflow_add"), data)
    assert response.status_code == 302
    assert Workflow.objects.get().steps.get().name == "find"


def test_the_step_name_help_shows_the_reference_literally(staff_client):
    response = staff_client.get(reverse("admin:workflows_workflow_add"))
    assert "{{ steps.&lt;name&gt;.field }}" in response.content.decode()
