"""Admin's JSON entry points hold text: a lone UTF-16 surrogate (the JSON escape
``\\ud800``) is a form error on its field, a workflow stored with one before still
shows, and the data picker answers 400 to a ``steps`` query it cannot take."""

import json

import pytest
from django.db import connection as db
from django.urls import reverse

from workflows.models import Step, Workflow

from .test_mapping_errors import workflow_form

pytestmark = pytest.mark.django_db

LONE = "\\ud800"  # as JSON text writes it; read, a str UTF-8 cannot encode
REFUSED = "surrogate characters are not allowed"
FIND = ("find", "find_customer", {"id": "{{ trigger.data.object.id }}"})
IMPORT = "/admin/workflows/workflow/import/"


def refused(client, data) -> tuple:
    """(the workflow form's errors, the first step form's errors) of a page not saved."""
    response = client.post(reverse("admin:workflows_workflow_add"), data)
    assert response.status_code == 200, "saved despite the surrogate"
    assert not Workflow.objects.exists()
    response.content.decode()  # the page showing the error is text
    step_form = response.context["inline_admin_formsets"][0].formset.forms[0]
    return response.context["adminform"].form.errors, step_form.errors


def test_a_lone_surrogate_in_the_filters_is_an_error_on_them(staff_client, connection):
    filters = '[{"path": "data.object.id", "op": "equals", "value": "a' + LONE + '"}]'
    errors, _ = refused(staff_client, workflow_form(connection, [FIND], filters=filters))
    (message,) = errors["filters"]
    assert "[0].value" in message and REFUSED in message


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("input_mapping", '{"id": "cus_' + LONE + '"}'),
        ("input_mapping", '{"id": "cus_1", "metadata": {"k' + LONE + '": "v"}}'),
        ("condition", '[{"path": "trigger.id", "op": "equals", "value": "' + LONE + '"}]'),
    ],
)
def test_a_lone_surrogate_in_a_step_is_an_error_on_its_field(staff_client, connection, field, text):
    data = workflow_form(connection, [FIND])
    data[f"steps-0-{field}"] = text
    _, step_errors = refused(staff_client, data)
    (message,) = step_errors[field]
    assert REFUSED in message


def test_an_imported_document_with_a_lone_surrogate_is_refused(staff_as, connection):
    client = staff_as("add_workflow", "view_workflow", "add_step", "use_connection")
    document = {
        "format": "konnectify.workflow",
        "version": 1,
        "workflow": {"name": "SURR", "trigger_key": "customer.created", "steps": []},
    }
    text = json.dumps(document).replace("SURR", LONE)
    response = client.post(IMPORT, {"connection": str(connection.pk), "text": text})
    assert response.status_code == 200
    (message,) = response.context["form"].errors["text"]
    assert "workflow.name" in message and REFUSED in message
    assert not Workflow.objects.exists()


@pytest.mark.skipif(
    db.vendor == "postgresql", reason="jsonb refuses a lone surrogate: none can be stored there"
)
def test_a_workflow_stored_with_a_lone_surrogate_still_shows(staff_client, connection):
    workflow = Workflow.objects.create(
        name="Stored before",
        connection=connection,
        trigger_key="customer.created",
        filters=[{"path": "data.object.id", "op": "equals", "value": "f\ud800"}],
    )
    Step.objects.create(
        workflow=workflow,
        order=1,
        name="find",
        action_key="find_customer",
        input_mapping={"id": "cus_\udc00"},
        condition=[{"path": "trigger.id", "op": "equals", "value": "c\udbff"}],
    )
    response = staff_client.get(reverse("admin:workflows_workflow_change", args=[workflow.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    for escape in ("f\\\\ud800", "cus_\\\\udc00", "c\\\\udbff"):  # as JSON text, in HTML
        assert escape.replace("\\\\", "\\") in page


# -- the data picker's paths ------------------------------------------------------------------


@pytest.mark.parametrize(
    "steps",
    [
        "[" * 100_000 + "]" * 100_000,  # past what json.loads itself can read: RecursionError
        '[{"name": "a", "for_each": ' + "[" * 70 + "]" * 70 + "}]",
        '[{"name": "a' + LONE + '"}]',
    ],
)
def test_the_picker_answers_400_to_steps_it_cannot_take(staff_client, steps):
    staff_client.raise_request_exception = False
    response = staff_client.get(
        reverse("admin:workflows_editor_paths"), {"trigger_key": "customer.created", "steps": steps}
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("steps must be a JSON list: ")
