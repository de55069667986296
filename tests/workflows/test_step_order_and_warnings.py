"""Saving steps in admin: each step its own order; warnings about what HTTP steps name."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from connections.credentials import Credential
from workflows.models import Step, Workflow

from .conftest import make_workflow
from .test_mapping_errors import post, workflow_form

pytestmark = pytest.mark.django_db


def change_form(workflow: Workflow, steps: list[tuple[Step, int]]) -> dict:
    """The change form of ``workflow`` with its stored ``steps``, each given ``order``."""
    data = {
        "name": workflow.name,
        "description": "",
        "connection": str(workflow.connection_id),
        "trigger_key": workflow.trigger_key,
        "custom_event_type": "",
        "schedule_cron": "",
        "schedule_minutes": "",
        "filters": "[]",
        "alert_chat": "on",
        "steps-TOTAL_FORMS": str(len(steps)),
        "steps-INITIAL_FORMS": str(len(steps)),
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    for index, (step, order) in enumerate(steps):
        data.update(
            {
                f"steps-{index}-id": str(step.pk),
                f"steps-{index}-workflow": str(workflow.pk),
                f"steps-{index}-order": str(order),
                f"steps-{index}-name": step.name,
                f"steps-{index}-action_key": step.action_key,
                f"steps-{index}-input_mapping": json.dumps(step.input_mapping),
                f"steps-{index}-on_failure": "stop",
                f"steps-{index}-condition": json.dumps(step.condition),
                f"steps-{index}-condition_match": "all",
                f"steps-{index}-for_each": "",
                f"steps-{index}-max_items": "100",
            }
        )
    return data


def step_forms(response):
    return response.context["inline_admin_formsets"][0].formset.forms


def test_two_steps_with_the_same_order_are_refused_on_the_later_ones_order(
    staff_client, connection
):
    """Checked in the page's order but run by (order, id): "a" would run before "b"."""
    workflow = make_workflow(connection, "customer.created", [], active=False)
    a = Step.objects.create(
        workflow=workflow,
        order=2,
        name="a",
        action_key="update_customer",
        input_mapping={"id": "{{ trigger.data.object.id }}", "description": "{{ steps.b.email }}"},
        condition=[{"path": "steps.b.id", "op": "exists"}],
    )
    b = Step.objects.create(
        workflow=workflow,
        order=1,
        name="b",
        action_key="find_customer",
        input_mapping={"id": "{{ trigger.data.object.id }}"},
    )
    url = reverse("admin:workflows_workflow_change", args=[workflow.pk])
    response = staff_client.post(url, change_form(workflow, [(b, 1), (a, 1)]))
    assert response.status_code == 200
    first, later = step_forms(response)
    assert not first.errors
    assert list(later.errors) == ["order"]
    assert "Step 'b' has order 1 too" in later.errors["order"][0]
    assert list(workflow.steps.values_list("name", "order")) == [("b", 1), ("a", 2)]


def test_new_steps_with_the_same_order_are_refused(staff_client, connection):
    data = workflow_form(
        connection,
        [
            ("find", "find_customer", {"id": "{{ trigger.data.object.id }}"}),
            ("again", "find_customer", {"id": "{{ trigger.data.object.id }}"}),
        ],
    )
    data["steps-1-order"] = data["steps-0-order"]
    response = post(staff_client, data)
    assert list(step_forms(response)[1].errors) == ["order"]
    assert not Workflow.objects.exists()


def http_step(**mapping) -> tuple[str, str, dict]:
    return (
        "tell",
        "http_request",
        {"method": "POST", "url": "https://crm.example.com/x", **mapping},
    )


def saved_with_warnings(staff_client, connection, steps) -> list[str]:
    response = post(staff_client, workflow_form(connection, steps))
    assert response.status_code == 302, response.context and step_forms(response)[0].errors
    page = staff_client.get(response["Location"])
    return [str(message) for message in page.context["messages"]]


def test_a_step_naming_a_credential_that_does_not_exist_is_saved_with_a_warning(
    staff_client, connection
):
    warnings = saved_with_warnings(staff_client, connection, [http_step(credential="nope")])
    assert any(
        message.startswith("Step tell, credential: No credential named 'nope' exists")
        for message in warnings
    ), warnings
    Credential.objects.create(
        name="nope", secret="tok-abcdefghijklmnop", allowed_hosts="crm.example.com"
    )
    Workflow.objects.all().delete()
    warnings = saved_with_warnings(staff_client, connection, [http_step(credential="nope")])
    assert not any("credential" in message for message in warnings), warnings


def test_secrets_typed_into_headers_or_the_query_are_warned_of(staff_client, connection):
    step = http_step(
        url="https://crm.example.com/x?api_key=abc123&page=2",
        headers={
            "X-Api-Key": "abc123",
            "X-Request-Source": "konnectify",
            "X-Auth-Token": "{{ trigger.data.object.metadata.token }}",
            "Idempotency-Key": "fixed",
        },
        query={"access_token": "s3cr3t"},
    )
    warnings = [m for m in saved_with_warnings(staff_client, connection, [step]) if "secret" in m]
    assert [message.split(":", 1)[0] for message in warnings] == [
        "Step tell, headers.X-Api-Key",
        "Step tell, query.access_token",
        "Step tell, url",
    ]
    assert "exported with the workflow" in warnings[0]
