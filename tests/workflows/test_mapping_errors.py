"""Mapping errors: saving refuses what cannot work; at run time a bad step fails clearly."""

import json

import pytest
from django.urls import reverse

from workflows.models import Run, RunStatus, Workflow

from .conftest import make_workflow, sample_event

pytestmark = pytest.mark.django_db


def workflow_form(connection, steps, **fields) -> dict:
    data = {
        "name": "From admin",
        "description": "",
        "connection": str(connection.pk),
        "trigger_key": "customer.created",
        "custom_event_type": "",
        "schedule_cron": "",
        "schedule_minutes": "",
        "filters": "[]",
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for index, (name, action, mapping) in enumerate(steps):
        data.update(
            {
                f"steps-{index}-order": str(index + 1),
                f"steps-{index}-name": name,
                f"steps-{index}-action_key": action,
                f"steps-{index}-input_mapping": json.dumps(mapping),
                f"steps-{index}-on_failure": "stop",
            }
        )
    data.update(fields)
    return data


def post(staff_client, data):
    return staff_client.post(reverse("admin:workflows_workflow_add"), data)


def test_admin_saves_a_good_workflow(staff_client, connection):
    response = post(
        staff_client,
        workflow_form(
            connection, [("find", "find_customer", {"id": "{{ trigger.data.object.id }}"})]
        ),
    )
    assert response.status_code == 302
    workflow = Workflow.objects.get()
    assert workflow.event_type == "customer.created"
    assert workflow.steps.get().name == "find"


def test_unknown_field_missing_required_and_wrong_literal_type_block_saving(
    staff_client, connection
):
    steps = [("item", "create_invoice_item", {"amount": "lots", "colour": "red"})]
    response = post(staff_client, workflow_form(connection, steps))
    assert response.status_code == 200
    errors = str(response.context["inline_admin_formsets"][0].formset.forms[0].errors)
    assert "colour" in errors and "customer" in errors and "amount" in errors
    assert not Workflow.objects.exists()


def test_a_syntax_error_or_a_later_step_reference_blocks_saving(staff_client, connection):
    steps = [
        ("first", "find_customer", {"id": "{{ steps.second.id }}"}),
        ("second", "find_customer", {"id": "{{ trigger.data.object.id "}),
    ]
    response = post(staff_client, workflow_form(connection, steps))
    forms = response.context["inline_admin_formsets"][0].formset.forms
    assert "does not name an earlier step" in str(forms[0].errors)
    assert "Syntax error" in str(forms[1].errors)


def test_a_path_missing_from_the_sample_saves_with_a_warning(staff_client, connection):
    steps = [("find", "find_customer", {"id": "{{ trigger.data.object.no_such_field }}"})]
    response = post(staff_client, workflow_form(connection, steps))
    assert response.status_code == 302
    response = staff_client.get(response.url)
    shown = [str(m) for m in response.context["messages"]]
    assert any("trigger.data.object.no_such_field" in m for m in shown)


def test_bad_filters_block_saving(staff_client, connection):
    data = workflow_form(connection, [], filters='[{"path": "data.object.status", "op": "like"}]')
    response = post(staff_client, data)
    assert response.status_code == 200
    assert "op" in str(response.context["adminform"].form.errors)


def test_a_missing_path_at_run_time_fails_the_step_naming_the_reference(
    connection, deliver, stripe
):
    make_workflow(
        connection,
        "customer.created",
        [("find", "find_customer", {"id": "{{ trigger.data.object.owner.id }}"})],
    )

    deliver(connection, sample_event("customer.created"))

    step_run = Run.objects.get().step_runs.get()
    assert step_run.status == RunStatus.FAILED
    assert step_run.error["type"] == "mapping_error"
    assert step_run.error["reference"] == "trigger.data.object.owner.id"
    assert "trigger.data.object.owner.id" in step_run.run.error
    assert len(stripe.calls) == 0


def test_a_rendered_value_of_the_wrong_type_fails_before_any_call(connection, deliver, stripe):
    make_workflow(
        connection,
        "customer.created",
        [
            (
                "item",
                "create_invoice_item",
                {
                    "customer": "{{ trigger.data.object.id }}",
                    "amount": "{{ trigger.data.object.email }}",
                    "currency": "usd",
                },
            )
        ],
    )

    deliver(connection, sample_event("customer.created"))

    step_run = Run.objects.get().step_runs.get()
    assert step_run.status == RunStatus.FAILED
    assert step_run.error["error"] == "ActionInputError"
    assert "amount" in step_run.error["message"]
    assert len(stripe.calls) == 0
