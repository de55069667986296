"""/api/v1/workflows/: export, import, copy to a live connection; a step's own fields."""

from __future__ import annotations

import json

import pytest

from connections.models import Connection
from tests.api.conftest import field_errors, grant, token_client
from tests.support.factories import make_connection
from workflows import portable, services
from workflows.models import Step, Workflow

pytestmark = pytest.mark.django_db

LIST = "/api/v1/workflows/"
IMPORT = f"{LIST}import/"
TEST_PRICE = "price_1ApiTestPrice0001"
LIVE_PRICE = "price_1ApiLivePrice0001"


@pytest.fixture
def live(db) -> Connection:
    return make_connection(
        name="API live account",
        secret_key="sk_live_"
        + "51ApiLiveKey0000000000000000000000000000000000000wxyz",  # built, not a literal key
        webhook_secret="whsec_apitests_live_0123456789abcdef",
        mode=Connection.Mode.LIVE,
        account_id="acct_1Api",
    )


@pytest.fixture
def workflow(connection) -> Workflow:
    """A test-mode workflow with a condition, a for-each step and a literal price id."""
    workflow = services.save_workflow(
        Workflow(name="Bill lines", connection=connection, trigger_key="invoice.created")
    )
    Step.objects.create(
        workflow=workflow,
        order=1,
        name="item",
        action_key="create_invoice_item",
        input_mapping={
            "customer": "{{ trigger.data.object.customer }}",
            "pricing": {"price": TEST_PRICE},
            "description": "{{ item.description }}",
        },
        condition=[{"path": "trigger.data.object.amount_due", "op": "gt", "value": 0}],
        for_each="trigger.data.object.lines.data",
        max_items=10,
    )
    return workflow


def export_url(workflow) -> str:
    return f"{LIST}{workflow.pk}/export/"


def promote_url(workflow) -> str:
    return f"{LIST}{workflow.pk}/promote/"


# -- a step's own fields -------------------------------------------------------------------


def test_a_step_takes_a_condition_and_a_for_each_list(superuser_api, connection):
    step = {
        "name": "item",
        "action_key": "create_invoice_item",
        "input": {"customer": "{{ trigger.data.object.customer }}", "amount": 100},
        "condition": [{"path": "trigger.data.object.amount_due", "op": "gt", "value": 0}],
        "condition_match": "any",
        "for_each": "trigger.data.object.lines.data",
        "max_items": 25,
    }
    body = {
        "name": "Lines",
        "connection": str(connection.pk),
        "trigger_key": "invoice.created",
        "steps": [step],
    }
    response = superuser_api.post(LIST, body, format="json")
    assert response.status_code == 201, response.content
    answered = response.json()["steps"][0]
    assert {key: answered[key] for key in step} == step
    saved = Step.objects.get(pk=answered["id"])
    assert (saved.condition_match, saved.for_each, saved.max_items) == (
        "any",
        "trigger.data.object.lines.data",
        25,
    )
    assert saved.condition == step["condition"]


def test_a_step_given_without_them_runs_once_always(superuser_api, connection):
    body = {
        "name": "Plain",
        "connection": str(connection.pk),
        "trigger_key": "customer.created",
        "steps": [
            {"name": "find", "action_key": "find_customer", "input": {"id": "cus_123456789"}}
        ],
    }
    step = superuser_api.post(LIST, body, format="json").json()["steps"][0]
    assert (step["condition"], step["condition_match"], step["for_each"], step["max_items"]) == (
        [],
        "all",
        "",
        100,
    )


def test_a_steps_own_fields_are_named_as_the_steps_not_its_inputs(superuser_api, connection):
    steps = [
        {
            "name": "find",
            "action_key": "find_customer",
            "input": {"id": "{{ trigger.data.object.id }}"},
            "condition": [{"path": "steps.later.id", "op": "exists"}],
        },
        {
            "name": "later",
            "action_key": "find_customer",
            "input": {"id": "{{ trigger.data.object.id }}"},
            "for_each": "steps.nowhere.data",
        },
    ]
    body = {
        "name": "Bad",
        "connection": str(connection.pk),
        "trigger_key": "customer.created",
        "steps": steps,
    }
    errors = field_errors(superuser_api.post(LIST, body, format="json"))
    assert set(errors) == {"steps[0].condition", "steps[1].for_each"}
    steps[1]["for_each"], steps[0]["condition"] = "", []
    steps[0]["max_items"] = 0
    steps[1]["condition_match"] = "most"
    errors = field_errors(superuser_api.post(LIST, body, format="json"))
    assert set(errors) == {"steps[0].max_items", "steps[1].condition_match"}


# -- export ----------------------------------------------------------------------------------


def test_export_answers_the_document_as_a_download(superuser_api, workflow):
    response = superuser_api.get(export_url(workflow))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == 'attachment; filename="bill-lines.workflow.json"'
    assert response.content.decode() == portable.export_text(workflow)
    step = json.loads(response.content)["workflow"]["steps"][0]
    assert (step["for_each"], step["max_items"]) == ("trigger.data.object.lines.data", 10)


def test_export_needs_the_view_permission(api_user, no_perms, anonymous, workflow):
    assert anonymous.get(export_url(workflow)).status_code == 401
    assert no_perms.get(export_url(workflow)).status_code == 403
    grant(api_user, "view_workflow")
    assert token_client(api_user, read_only=True).get(export_url(workflow)).status_code == 200


def test_export_of_an_unknown_workflow_is_a_404(superuser_api):
    assert superuser_api.get(f"{LIST}999999/export/").status_code == 404


# -- import ----------------------------------------------------------------------------------


def test_import_creates_an_inactive_workflow_that_exports_the_same(superuser_api, workflow, live):
    Workflow.objects.filter(pk=workflow.pk).update(active=True)
    document = json.loads(superuser_api.get(export_url(workflow)).content)
    other = make_connection(
        name="Other test account",
        secret_key="sk_test_51ApiOtherKey00000000000000000000000000000000000abcd",
        webhook_secret="whsec_apitests_other_0123456789abcdef",
    )
    response = superuser_api.post(
        IMPORT, {"connection": str(other.pk), "document": document}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["active"], body["connection"], body["name"]) == (
        False,
        str(other.pk),
        "Bill lines",
    )
    again = superuser_api.get(f"{LIST}{body['id']}/export/")
    assert again.content.decode() == portable.export_text(workflow)


def test_import_names_each_problem_in_the_body(superuser_api, workflow, connection):
    document = portable.export_document(workflow)
    document["workflow"]["trigger_key"] = "invoice.exploded"
    document["workflow"]["steps"][0]["action_key"] = "launch_rocket"
    response = superuser_api.post(
        IMPORT, {"connection": str(connection.pk), "document": document}, format="json"
    )
    assert response.status_code == 400
    assert set(field_errors(response)) == {
        "document.workflow.trigger_key",
        "document.workflow.steps[0].action_key",
    }
    assert Workflow.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"document": {}}, {"connection"}),
        ({"connection": "not-a-uuid", "document": {}}, {"connection"}),
        ({"document": "text"}, {"connection"}),
        ({"connection": None, "document": [], "extra": 1}, {"connection", "extra"}),
    ],
)
def test_import_bodies_that_are_not_accepted(superuser_api, body, fields):
    response = superuser_api.post(IMPORT, body, format="json")
    assert response.status_code == 400
    assert set(field_errors(response)) == fields


def test_import_refuses_a_document_of_another_format_by_path(superuser_api, workflow, connection):
    document = {**portable.export_document(workflow), "format": "zap", "version": 7}
    document["workflow"] = {**document["workflow"], "id": 3}
    response = superuser_api.post(
        IMPORT, {"connection": str(connection.pk), "document": document}, format="json"
    )
    assert set(field_errors(response)) == {
        "document.format",
        "document.version",
        "document.workflow.id",
    }
    response = superuser_api.post(
        IMPORT, {"connection": str(connection.pk), "document": [1]}, format="json"
    )
    assert set(field_errors(response)) == {"document"}


def test_import_needs_to_add_workflows_and_use_the_connection(api_user, workflow, connection):
    body = {"connection": str(connection.pk), "document": portable.export_document(workflow)}
    client = token_client(api_user)
    grant(api_user, "view_workflow", "change_workflow")
    assert client.post(IMPORT, body, format="json").status_code == 403
    grant(api_user, "add_workflow")
    assert client.post(IMPORT, body, format="json").status_code == 403
    grant(api_user, "use_connection")
    assert (
        token_client(api_user, read_only=True).post(IMPORT, body, format="json").status_code == 403
    )
    assert client.post(IMPORT, body, format="json").status_code == 201
    assert Workflow.objects.count() == 2


# -- copy to a live connection -----------------------------------------------------------------


def test_the_preview_lists_the_ids_to_replace_and_changes_nothing(superuser_api, workflow, live):
    response = superuser_api.post(
        promote_url(workflow), {"connection": str(live.pk), "preview": True}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "target": {"id": str(live.pk), "name": "API live account", "mode": "live"},
        "live_copy": None,
        "differences": [],
        "stripe_ids": [
            {"id": TEST_PRICE, "paths": ["steps[item].input.pricing.price"], "suggestion": None}
        ],
        "will_deactivate": False,
    }
    assert Workflow.objects.count() == 1


def test_copying_asks_for_the_live_confirmation_then_every_replacement(
    superuser_api, workflow, live
):
    url, target = promote_url(workflow), str(live.pk)
    response = superuser_api.post(url, {"connection": target}, format="json")
    assert set(field_errors(response)) == {"confirm_live"}
    response = superuser_api.post(url, {"connection": target, "confirm_live": True}, format="json")
    errors = field_errors(response)
    assert set(errors) == {"replacements"} and TEST_PRICE in errors["replacements"]
    response = superuser_api.post(
        url,
        {"connection": target, "confirm_live": True, "replacements": {TEST_PRICE: "cus_1Wrong00"}},
        format="json",
    )
    assert set(field_errors(response)) == {f"replacements.{TEST_PRICE}"}
    assert Workflow.objects.count() == 1


def test_copying_creates_then_updates_the_inactive_live_copy(superuser_api, workflow, live):
    body = {
        "connection": str(live.pk),
        "confirm_live": True,
        "replacements": {TEST_PRICE: LIVE_PRICE},
    }
    response = superuser_api.post(promote_url(workflow), body, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert (created["connection"], created["active"], created["copied_from"]) == (
        str(live.pk),
        False,
        workflow.pk,
    )
    assert created["steps"][0]["input"]["pricing"] == {"price": LIVE_PRICE}
    copy = Workflow.objects.get(pk=created["id"])
    services.set_active(copy, True)

    preview = superuser_api.post(
        promote_url(workflow), {"connection": str(live.pk), "preview": True}, format="json"
    ).json()
    assert preview["live_copy"] == {"id": copy.pk, "name": "Bill lines", "active": True}
    assert preview["will_deactivate"] is True
    assert preview["stripe_ids"][0]["suggestion"] == LIVE_PRICE
    assert preview["differences"] == []  # with the suggested id, nothing differs
    body_preview = {
        "connection": str(live.pk),
        "preview": True,
        "replacements": {TEST_PRICE: "price_1ApiOtherPrice01"},
    }
    preview = superuser_api.post(promote_url(workflow), body_preview, format="json").json()
    assert preview["differences"] == [
        {
            "path": "steps[item].input.pricing.price",
            "live": LIVE_PRICE,
            "test": "price_1ApiOtherPrice01",
        }
    ]

    response = superuser_api.post(promote_url(workflow), body, format="json")
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["active"]) == (copy.pk, False)
    copy.refresh_from_db()
    assert not copy.active


def test_only_test_workflows_go_and_only_to_live_connections(
    superuser_api, workflow, connection, live
):
    body = {"connection": str(connection.pk), "confirm_live": True, "preview": True}
    assert set(field_errors(superuser_api.post(promote_url(workflow), body, format="json"))) == {
        "connection"
    }
    live_workflow = services.save_workflow(
        Workflow(name="Already live", connection=live, trigger_key="customer.created")
    )
    body = {"connection": str(live.pk), "confirm_live": True}
    errors = field_errors(superuser_api.post(promote_url(live_workflow), body, format="json"))
    assert set(errors) == {"workflow"}


def test_copying_needs_to_add_and_change_workflows_and_use_the_connection(api_user, workflow, live):
    body = {
        "connection": str(live.pk),
        "confirm_live": True,
        "replacements": {TEST_PRICE: LIVE_PRICE},
    }
    client = token_client(api_user)
    grant(api_user, "view_workflow", "add_workflow")
    assert client.post(promote_url(workflow), body, format="json").status_code == 403
    grant(api_user, "change_workflow")
    assert client.post(promote_url(workflow), body, format="json").status_code == 403
    grant(api_user, "use_connection")
    assert client.post(promote_url(workflow), body, format="json").status_code == 201


def test_the_schema_documents_the_three_operations(superuser_api):
    schema = superuser_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    export = schema["paths"]["/api/v1/workflows/{id}/export/"]["get"]
    assert "Content-Disposition" in export["responses"]["200"]["headers"]
    document = export["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert document.endswith("/WorkflowDocument")
    imported = schema["paths"]["/api/v1/workflows/import/"]["post"]
    assert set(imported["responses"]) >= {"201", "400", "403"}
    promote = schema["paths"]["/api/v1/workflows/{id}/promote/"]["post"]
    assert set(promote["responses"]) >= {"200", "201", "400", "403", "404"}
    request = schema["components"]["schemas"]["PromoteRequest"]
    assert set(request["properties"]) == {"connection", "replacements", "preview", "confirm_live"}
    step = schema["components"]["schemas"]["StepRequest"]["properties"]
    assert {"condition", "condition_match", "for_each", "max_items"} <= set(step)
    assert step["max_items"]["maximum"] == 1000


ODD_WORKFLOWS = [
    {"name": 5, "trigger_key": ["customer.created"]},
    {"name": "x", "trigger_key": "customer.created", "steps": [{"name": None, "input": "text"}]},
    {"name": "x", "trigger_key": "customer.created", "filters": "all", "alert_emails": [1]},
    {"name": "x", "trigger_key": "schedule", "schedule_minutes": "often", "max_items": 1},
    {
        "name": "x",
        "trigger_key": "customer.created",
        "steps": [
            {
                "name": "a",
                "action_key": "find_customer",
                "input": {"id": "{{ trigger.data.object.id"},
                "condition": "always",
                "condition_match": None,
                "for_each": ["trigger"],
                "max_items": "many",
            }
        ],
    },
]


@pytest.mark.parametrize("part", ODD_WORKFLOWS)
def test_odd_documents_are_400s_naming_their_fields(superuser_api, connection, part):
    document = {"format": portable.FORMAT, "version": portable.VERSION, "workflow": part}
    response = superuser_api.post(
        IMPORT, {"connection": str(connection.pk), "document": document}, format="json"
    )
    assert response.status_code == 400, response.content
    assert all(field.startswith("document.workflow") for field in field_errors(response))
    assert not Workflow.objects.exists()


# -- credentials, alert addresses, secrets typed in, ids inside text, a list in the live copy --


def http_step(credential: str | None, **mapping) -> dict:
    named = {"credential": credential} if credential else {}
    return {
        "name": "tell",
        "action_key": "http_request",
        "input": {"method": "POST", "url": "https://crm.example.com/x", **named, **mapping},
    }


def test_a_credential_that_does_not_exist_is_refused_on_import_and_warned_of_on_save(
    superuser_api, workflow, connection
):
    document = portable.export_document(workflow)
    document["workflow"]["steps"].append(
        {**portable.export_document(workflow)["workflow"]["steps"][0], **http_step("nope")}
    )
    body = {"connection": str(connection.pk), "document": document}
    response = superuser_api.post(IMPORT, body, format="json")
    assert response.status_code == 400
    assert list(field_errors(response)) == ["document.workflow.steps[1].input.credential"]
    assert Workflow.objects.count() == 1

    created = superuser_api.post(
        LIST,
        {
            "name": "Tell",
            "connection": str(connection.pk),
            "trigger_key": "invoice.created",
            "steps": [http_step("nope")],
        },
        format="json",
    )
    assert created.status_code == 201
    assert [w["field"] for w in created.json()["warnings"]] == ["steps[0].input.credential"]


def test_import_keeps_the_alert_addresses_only_when_asked(superuser_api, workflow, connection):
    document = portable.export_document(workflow)
    document["workflow"]["alert_emails"] = ["author@example.org"]
    body = {"connection": str(connection.pk), "document": document}
    response = superuser_api.post(IMPORT, body, format="json")
    assert response.status_code == 201
    assert response.json()["alert_emails"] == []
    warning = response.json()["warnings"][-1]
    assert warning["field"] == "alert_emails" and "author@example.org" in warning["message"]
    response = superuser_api.post(IMPORT, {**body, "keep_alert_emails": True}, format="json")
    assert response.json()["alert_emails"] == ["author@example.org"]


def test_a_secret_typed_into_a_header_is_warned_of(superuser_api, connection):
    response = superuser_api.post(
        LIST,
        {
            "name": "Tell",
            "connection": str(connection.pk),
            "trigger_key": "invoice.created",
            "steps": [http_step(None, headers={"X-Api-Key": "abc123"})],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert [w["field"] for w in response.json()["warnings"]] == ["steps[0].input.headers.X-Api-Key"]


def test_the_preview_lists_ids_inside_a_path_and_survives_a_list_in_the_live_copy(
    superuser_api, connection, live
):
    workflow = services.save_workflow(
        Workflow(
            name="Raw",
            connection=connection,
            trigger_key="invoice.created",
            filters=[
                {"path": "data.object.customer", "op": "equals", "value": "cus_TestAbc12345678"}
            ],
        )
    )
    Step.objects.create(
        workflow=workflow,
        order=1,
        name="raw",
        action_key="stripe_api_request",
        input_mapping={"method": "POST", "path": "/v1/customers/cus_TestAbc12345678", "params": {}},
    )
    preview = {"connection": str(live.pk), "preview": True}
    answer = superuser_api.post(promote_url(workflow), preview, format="json").json()
    assert answer["stripe_ids"] == [
        {
            "id": "cus_TestAbc12345678",
            "paths": ["filters[0].value", "steps[raw].input.path"],
            "suggestion": None,
        }
    ]
    copied = superuser_api.post(
        promote_url(workflow),
        {
            "connection": str(live.pk),
            "confirm_live": True,
            "replacements": {"cus_TestAbc12345678": "cus_LiveAbc12345678"},
        },
        format="json",
    )
    assert copied.status_code == 201
    assert copied.json()["steps"][0]["input"]["path"] == "/v1/customers/cus_LiveAbc12345678"
    changed = superuser_api.patch(
        f"{LIST}{copied.json()['id']}/",
        {"filters": [{"path": "data.object.customer", "op": "in", "value": []}]},
        format="json",
    )
    assert changed.status_code == 200
    response = superuser_api.post(promote_url(workflow), preview, format="json")
    assert response.status_code == 200
    assert response.json()["stripe_ids"][0]["suggestion"] is None
