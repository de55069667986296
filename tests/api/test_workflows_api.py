"""/api/v1/workflows/: workflows with their steps, checked as admin checks them."""

import time

import pytest

from connections.models import Connection
from tests.api.conftest import field_errors, grant, token_client
from workflows.models import Step, Workflow

pytestmark = pytest.mark.django_db

LIST = "/api/v1/workflows/"


def invoice_steps() -> list[dict]:
    return [
        {
            "name": "create_invoice",
            "action_key": "create_invoice",
            "input": {"customer": "{{ trigger.data.object.id }}", "auto_advance": False},
        },
        {
            "name": "send",
            "action_key": "send_invoice",
            "input": {"id": "{{ steps.create_invoice.id }}"},
        },
    ]


def payload(owner, **fields) -> dict:
    body = {
        "name": "Invoice new customers",
        "connection": str(owner.pk),
        "trigger_key": "customer.created",
        "steps": invoice_steps(),
    }
    body.update(fields)
    return body


@pytest.fixture
def workflow(connection) -> Workflow:
    workflow = Workflow.objects.create(
        name="Existing", connection=connection, trigger_key="customer.created"
    )
    for order, step in enumerate(invoice_steps(), start=1):
        Step.objects.create(
            workflow=workflow,
            order=order,
            name=step["name"],
            action_key=step["action_key"],
            input_mapping=step["input"],
        )
    return workflow


def endpoints(workflow, connection) -> list[tuple[str, str, dict | None]]:
    one = f"{LIST}{workflow.pk}/"
    return [
        ("get", LIST, None),
        ("post", LIST, payload(connection)),
        ("get", one, None),
        ("put", one, payload(connection)),
        ("patch", one, {"name": "x"}),
        ("delete", one, None),
        ("post", f"{one}activate/", None),
        ("post", f"{one}deactivate/", None),
    ]


def call(client, method, url, body):
    return (
        getattr(client, method)(url, body, format="json") if body else getattr(client, method)(url)
    )


def test_every_endpoint_needs_authentication(anonymous, workflow, connection):
    for method, url, body in endpoints(workflow, connection):
        assert call(anonymous, method, url, body).status_code == 401, (method, url)


def test_every_endpoint_needs_a_model_permission(no_perms, workflow, connection):
    for method, url, body in endpoints(workflow, connection):
        assert call(no_perms, method, url, body).status_code == 403, (method, url)


def test_a_read_only_token_may_read_but_not_write(read_only_api, workflow, connection):
    for method, url, body in endpoints(workflow, connection):
        expected = 200 if method == "get" else 403
        assert call(read_only_api, method, url, body).status_code == expected, (method, url)
    workflow.refresh_from_db()
    assert workflow.name == "Existing" and not workflow.active


def test_activating_needs_the_change_permission_and_the_use_of_the_connection(api_user, workflow):
    grant(api_user, "view_workflow", "add_workflow")
    client = token_client(api_user)
    assert client.post(f"{LIST}{workflow.pk}/activate/").status_code == 403
    grant(api_user, "change_workflow")
    assert client.post(f"{LIST}{workflow.pk}/activate/").status_code == 403
    grant(api_user, "use_connection")
    assert client.post(f"{LIST}{workflow.pk}/activate/").status_code == 200


def test_it_creates_a_workflow_with_its_steps_in_order(superuser_api, connection):
    response = superuser_api.post(LIST, payload(connection), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["event_type"] == "customer.created"
    assert body["active"] is False
    assert body["warnings"] == []
    assert [(s["order"], s["name"]) for s in body["steps"]] == [(1, "create_invoice"), (2, "send")]
    assert body["steps"][1]["input"] == {"id": "{{ steps.create_invoice.id }}"}
    workflow = Workflow.objects.get(pk=body["id"])
    assert [s.action_key for s in workflow.steps.all()] == ["create_invoice", "send_invoice"]


def test_a_doubtful_reference_is_saved_with_a_warning(superuser_api, connection):
    steps = invoice_steps()
    steps[0]["input"]["customer"] = "{{ trigger.data.object.no_such_field }}"
    response = superuser_api.post(LIST, payload(connection, steps=steps), format="json")
    assert response.status_code == 201
    assert response.json()["warnings"] == [
        {
            "field": "steps[0].input.customer",
            "message": "{{ trigger.data.object.no_such_field }} is not in the trigger's "
            "sample event.",
        }
    ]


def test_step_errors_name_the_step_and_the_field(superuser_api, connection):
    steps = invoice_steps()
    steps[1]["input"] = {"id": "{{ steps.later.id }}"}
    steps.append({"name": "item", "action_key": "create_invoice_item", "input": {}})
    response = superuser_api.post(LIST, payload(connection, steps=steps), format="json")
    assert response.status_code == 400
    assert field_errors(response) == {
        "steps[1].input.id": "{{ steps.later.id }} does not name an earlier step.",
        "steps[2].input.customer": "'customer' is required.",
    }
    assert not Workflow.objects.exists()


def test_step_fields_are_checked_before_the_mappings(superuser_api, connection):
    steps = invoice_steps()
    steps[0]["action_key"] = "launch_rocket"
    steps[1]["name"] = "Not A Name"
    response = superuser_api.post(LIST, payload(connection, steps=steps), format="json")
    errors = field_errors(response)
    assert list(errors) == ["steps[0].action_key", "steps[1].name"]
    assert errors["steps[0].action_key"] == '"launch_rocket" is not a valid choice.'


def test_two_steps_may_not_share_a_name(superuser_api, connection):
    steps = invoice_steps()
    steps[1]["name"] = "create_invoice"
    steps[1]["input"] = {"id": "in_123"}
    response = superuser_api.post(LIST, payload(connection, steps=steps), format="json")
    assert field_errors(response) == {
        "steps[1].name": "Another step of this workflow has this name."
    }


def test_the_trigger_is_checked_as_admin_checks_it(superuser_api, connection):
    response = superuser_api.post(
        LIST, payload(connection, trigger_key="custom", steps=[]), format="json"
    )
    assert field_errors(response) == {
        "custom_event_type": "The custom trigger needs an event type."
    }
    response = superuser_api.post(
        LIST, payload(connection, trigger_key="schedule", steps=[]), format="json"
    )
    schedule_needs = "A schedule needs either a cron expression or minutes."
    assert field_errors(response) == {
        "schedule_cron": schedule_needs,
        "schedule_minutes": schedule_needs,
    }
    response = superuser_api.post(
        LIST,
        payload(connection, filters=[{"path": "data.object.email", "op": "resembles"}], steps=[]),
        format="json",
    )
    assert list(field_errors(response)) == ["filters"]


def test_an_unknown_connection_is_a_field_error(superuser_api, connection):
    body = payload(connection, connection="00000000-0000-0000-0000-000000000000")
    assert list(field_errors(superuser_api.post(LIST, body, format="json"))) == ["connection"]
    body = payload(connection, connection="not-a-uuid")
    assert list(field_errors(superuser_api.post(LIST, body, format="json"))) == ["connection"]


def test_updating_replaces_the_steps_and_keeps_those_of_the_same_name(superuser_api, workflow):
    kept = workflow.steps.get(name="send")
    steps = [
        {"name": "send", "action_key": "send_invoice", "input": {"id": "in_123"}},
        {"name": "finalize", "action_key": "finalize_invoice", "input": {"id": "in_123"}},
    ]
    response = superuser_api.patch(f"{LIST}{workflow.pk}/", {"steps": steps}, format="json")
    assert response.status_code == 200, response.content
    assert [(s["order"], s["name"]) for s in response.json()["steps"]] == [
        (1, "send"),
        (2, "finalize"),
    ]
    assert response.json()["steps"][0]["id"] == kept.pk
    assert list(workflow.steps.values_list("name", flat=True)) == ["send", "finalize"]


def test_a_patch_gives_steps_whole(superuser_api, workflow):
    steps = [{"action_key": "send_invoice"}, {"name": "send", "input": {"id": "in_1"}}]
    response = superuser_api.patch(f"{LIST}{workflow.pk}/", {"steps": steps}, format="json")
    assert field_errors(response) == {
        "steps[0].name": "This field is required.",
        "steps[1].action_key": "This field is required.",
    }


def test_an_invalid_update_changes_nothing(superuser_api, workflow):
    steps = [{"name": "send", "action_key": "send_invoice", "input": {}}]
    response = superuser_api.put(
        f"{LIST}{workflow.pk}/",
        {**payload(workflow.connection, name="Renamed"), "steps": steps},
        format="json",
    )
    assert field_errors(response) == {"steps[0].input.id": "'id' is required."}
    workflow.refresh_from_db()
    assert workflow.name == "Existing"
    assert list(workflow.steps.values_list("name", flat=True)) == ["create_invoice", "send"]


def test_a_change_of_trigger_rechecks_the_existing_steps(superuser_api, workflow):
    response = superuser_api.patch(
        f"{LIST}{workflow.pk}/", {"trigger_key": "invoice.paid"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["warnings"] == []  # an invoice's sample has an id as well


def test_activating_and_deactivating_answer_the_workflow(
    superuser_api, workflow, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = superuser_api.post(f"{LIST}{workflow.pk}/activate/")
    assert response.status_code == 200
    assert response.json()["active"] is True
    assert callbacks  # the webhook endpoint sync is queued after commit
    workflow.refresh_from_db()
    assert workflow.active
    response = superuser_api.post(f"{LIST}{workflow.pk}/deactivate/")
    assert response.json()["active"] is False


def test_the_list_filters_and_a_deleted_workflow_is_gone(superuser_api, workflow, connection):
    Workflow.objects.create(
        name="Other", connection=connection, trigger_key="invoice.paid", active=True
    )
    body = superuser_api.get(LIST, {"active": "true"}).json()
    assert [w["name"] for w in body["results"]] == ["Other"]
    assert superuser_api.get(LIST, {"active": "maybe"}).status_code == 400
    body = superuser_api.get(LIST, {"connection": str(connection.pk)}).json()
    assert body["count"] == 2
    assert superuser_api.delete(f"{LIST}{workflow.pk}/").status_code == 204
    assert not Workflow.objects.filter(pk=workflow.pk).exists()
    assert superuser_api.get(f"{LIST}{workflow.pk}/").status_code == 404
    assert superuser_api.get(f"{LIST}{2**70}/").status_code == 404


def test_a_runaway_mapping_is_refused_at_save_naming_the_field(superuser_api, connection):
    steps = invoice_steps()
    steps[0]["input"]["description"] = "{{ 'x' | center(10**9) }}"
    response = superuser_api.post(LIST, payload(connection, steps=steps), format="json")
    assert response.status_code == 400
    message = field_errors(response)["steps[0].input.description"]
    assert message.startswith("Too large for a mapping: center would be about")
    assert not Workflow.objects.exists()


@pytest.mark.parametrize(
    "text",
    [
        "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
        "{{ " + "[" * 3000 + "]" * 3000 + " }}",
        "{{ 1" + "|string" * 3000 + " }}",
        "{{ 1" + " + 1" * 3000 + " }}",
        "{% if " + "not " * 3000 + "1 %}x{% endif %}",
        "{{ trigger" + ".data" * 3000 + " }}",
    ],
)
def test_a_mapping_nested_too_deep_is_refused_at_save_naming_the_field(
    superuser_api, connection, text
):
    steps = invoice_steps()
    steps[0]["input"]["description"] = text
    response = superuser_api.post(LIST, payload(connection, steps=steps), format="json")
    assert response.status_code == 400
    assert field_errors(response)["steps[0].input.description"].startswith("Syntax error: ")
    assert not Workflow.objects.exists()


def test_activating_on_a_manual_mode_connection_says_which_event_types_to_enable(
    superuser_api, workflow, connection
):
    connection.webhook_mode = Connection.WebhookMode.MANUAL
    connection.webhook_enabled_events = ["customer.created"]
    connection.save()
    Workflow.objects.create(
        name="Paid", connection=connection, trigger_key="invoice.paid", active=True
    )
    response = superuser_api.post(f"{LIST}{workflow.pk}/activate/")
    assert response.status_code == 200, response.content
    webhook = response.json()["webhook"]
    assert webhook["mode"] == "manual"
    assert webhook["event_types"] == ["customer.created", "invoice.paid"]
    assert webhook["event_types_to_enable"] == ["invoice.paid"]
    assert "invoice.paid" in webhook["message"]


def test_activating_on_an_automatic_connection_leaves_the_endpoint_to_konnectify(
    superuser_api, workflow
):
    webhook = superuser_api.post(f"{LIST}{workflow.pk}/activate/").json()["webhook"]
    assert webhook["mode"] == "automatic"
    assert webhook["event_types"] == ["customer.created"]
    assert webhook["event_types_to_enable"] == []


def test_every_problem_of_a_workflow_body_is_reported_at_once(superuser_api, connection):
    steps = invoice_steps()
    steps[1]["input"] = {"id": "{{ steps.later.id }}"}
    body = payload(connection, trigger_key="custom", steps=steps)
    response = superuser_api.post(LIST, body, format="json")
    assert set(field_errors(response)) == {"custom_event_type", "steps[1].input.id"}
    assert not Workflow.objects.exists()


# A 3.3-million-bit integer divided by another took seconds in one step, per template.
RUNAWAY_INTEGER = "{{ (('f' * 830000) | int(base=16)) // (('7' * 415000) | int(base=16)) > 0 }}"


def test_a_save_with_a_runaway_integer_is_refused_at_once_naming_the_field(
    superuser_api, connection
):
    steps = invoice_steps()
    steps[0]["input"]["description"] = RUNAWAY_INTEGER
    steps[1]["input"]["description"] = RUNAWAY_INTEGER
    started = time.monotonic()
    response = superuser_api.post(LIST, payload(connection, steps=steps), format="json")
    assert time.monotonic() - started < 2
    assert response.status_code == 400
    errors = field_errors(response)
    assert set(errors) == {"steps[0].input.description", "steps[1].input.description"}
    assert "integers have at most 4,000" in errors["steps[0].input.description"]


def test_a_save_refuses_fields_the_action_does_not_take_without_rendering_them(
    superuser_api, connection
):
    steps = invoice_steps()
    steps[0]["input"] = {"customer": "cus_1", **{f"nope{n}": RUNAWAY_INTEGER for n in range(3)}}
    started = time.monotonic()
    response = superuser_api.post(LIST, payload(connection, steps=steps), format="json")
    assert time.monotonic() - started < 2
    assert response.status_code == 400
    assert field_errors(response) == {
        f"steps[0].input.nope{n}": f"Unknown field 'nope{n}' for this action." for n in range(3)
    }


def test_a_metadata_key_with_a_control_character_is_refused_naming_the_field(
    superuser_api, connection
):
    steps = invoice_steps()
    steps[0]["input"]["metadata"] = {"a\u0000": "b"}
    response = superuser_api.post(LIST, payload(connection, steps=steps), format="json")
    assert response.status_code == 400
    assert field_errors(response) == {
        "steps[0].input.metadata": "key 'a\\x00' must not contain control characters"
    }
