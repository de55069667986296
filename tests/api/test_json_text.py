"""API bodies hold text: a lone UTF-16 surrogate is a 400 naming the field; bodies over
the size limit get the API's error shape; nothing stored can make an answer fail.

A lone surrogate, written as the JSON escape ``\\ud800``, is read by Python's json
module into a str that UTF-8 cannot encode: stored, it made every list, detail and
export showing it a 500 (and PostgreSQL's jsonb refuses it: a 500 at the INSERT).
"""

import json

import pytest
from django.db import connection as db

from tests.api.conftest import field_errors
from workflows.models import Step, Workflow

pytestmark = pytest.mark.django_db

LIST = "/api/v1/workflows/"
IMPORT = "/api/v1/workflows/import/"
MARK = "SURROGATE"  # replaced by the escape once the body is JSON text


def post(api, path: str, body: dict, method: str = "POST"):
    """``body`` as JSON with each MARK written as a lone surrogate's escape."""
    api.raise_request_exception = False
    text = json.dumps(body).replace(MARK, "\\ud800")
    return api.generic(method, path, text, content_type="application/json")


def step(**fields) -> dict:
    return {
        "name": "bill",
        "action_key": "create_invoice_item",
        "input": {"customer": "{{ trigger.data.object.customer }}", "amount": 1, "currency": "usd"},
        **fields,
    }


def workflow_body(connection, **fields) -> dict:
    return {
        "name": "Bill",
        "connection": str(connection.pk),
        "trigger_key": "invoice.created",
        "steps": [step()],
        **fields,
    }


def refused(response, field: str) -> None:
    assert response.status_code == 400, response.content
    assert response.json()["type"] == "validation_error"
    message = field_errors(response)[field]
    assert "surrogate characters are not allowed" in message
    assert "U+D800" in message


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        (
            {"steps": [step(condition=[{"path": "trigger.id", "op": "equals", "value": MARK}])]},
            "steps[0].condition[0]",
        ),
        (
            {"steps": [step(input={"customer": "cus_1", "description": MARK})]},
            "steps[0].input.description",
        ),
        ({"steps": [step(input={"metadata": {f"k{MARK}": "v"}})]}, "steps[0].input.metadata"),
        ({"steps": [step(for_each=f"trigger.{MARK}")]}, "steps[0].for_each"),
        (
            {"filters": [{"path": "data.object.id", "op": "equals", "value": MARK}]},
            "filters[0].value",
        ),
    ],
)
def test_a_lone_surrogate_in_a_workflow_is_a_400_naming_the_field(
    superuser_api, connection, fields, field
):
    response = post(superuser_api, LIST, workflow_body(connection, **fields))
    refused(response, field)
    assert not Workflow.objects.exists()


def test_a_lone_surrogate_in_a_key_names_the_object_holding_it(superuser_api, connection):
    body = workflow_body(connection)
    body[f"x{MARK}"] = 1
    response = post(superuser_api, LIST, body)
    assert response.status_code == 400
    (entry,) = response.json()["errors"]
    assert entry["field"] == ""
    assert "surrogate characters are not allowed" in entry["message"]
    assert not Workflow.objects.exists()


def test_a_lone_surrogate_is_refused_on_update_too(superuser_api, connection):
    created = post(superuser_api, LIST, workflow_body(connection))
    assert created.status_code == 201, created.content
    url = f"{LIST}{created.json()['id']}/"
    rule = {"path": "trigger.id", "op": "equals", "value": MARK}
    response = post(superuser_api, url, {"steps": [step(condition=[rule])]}, method="PATCH")
    refused(response, "steps[0].condition[0]")
    assert Step.objects.get().condition == []
    assert superuser_api.get(LIST).status_code == 200


def test_a_lone_surrogate_in_an_imported_document_is_a_400(superuser_api, connection):
    document = {
        "format": "konnectify.workflow",
        "version": 1,
        "workflow": {
            "name": "Bill",
            "trigger_key": "invoice.created",
            "steps": [step(condition=[{"path": "trigger.id", "op": "equals", "value": MARK}])],
        },
    }
    response = post(superuser_api, IMPORT, {"connection": str(connection.pk), "document": document})
    refused(response, "document.workflow.steps[0]")
    assert not Workflow.objects.exists()


def test_a_lone_surrogate_in_an_action_input_is_a_400_before_stripe(
    superuser_api, connection, stripe
):
    url = f"/api/v1/connections/{connection.pk}/actions/create_customer/"
    response = post(superuser_api, url, {"input": {"name": MARK}})
    refused(response, "input.name")
    assert not stripe.calls


@pytest.mark.skipif(
    db.vendor == "postgresql", reason="jsonb refuses a lone surrogate: none can be stored there"
)
def test_a_lone_surrogate_stored_before_the_check_takes_no_answer_down(superuser_api, connection):
    workflow = stored_with_a_surrogate(connection)
    for url in (LIST, f"{LIST}{workflow.pk}/"):
        response = superuser_api.get(url)
        assert response.status_code == 200, url
        assert "a\\ud800" in response.content.decode("ascii")  # written as its escape
        assert json.loads(response.content)  # JSON a client reads back
    # An answer without one is DRF's as before: text as is, not escaped.
    created = post(superuser_api, LIST, workflow_body(connection, name="Zoë 😀"))
    assert created.status_code == 201, created.content
    response = superuser_api.get(f"{LIST}{created.json()['id']}/")
    assert '"name":"Zoë 😀"' in response.content.decode()


# -- bodies over the size limit -------------------------------------------------------------


@pytest.mark.parametrize("path", [LIST, IMPORT, "actions"])
def test_a_body_over_the_size_limit_is_a_413_in_the_api_error_shape(
    superuser_api, connection, settings, path
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    if path == "actions":
        path = f"/api/v1/connections/{connection.pk}/actions/create_customer/"
    response = post(superuser_api, path, {"name": "x", "description": "d" * 20_000})
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "type": "too_large",
        "message": "The body is over 10000 bytes, the most the API reads.",
        "errors": [
            {"field": "", "message": "The body is over 10000 bytes, the most the API reads."}
        ],
    }
    assert not Workflow.objects.exists()


def test_a_body_over_the_default_limit_of_2_5_mb_is_a_413(superuser_api):
    response = post(superuser_api, LIST, {"name": "x", "description": "d" * 3_000_000})
    assert response.status_code == 413
    assert response.json()["message"].startswith("The body is over 2621440 bytes")


def test_the_schema_lists_the_413_of_every_operation_with_a_body(superuser_api):
    schema = superuser_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path, item in schema["paths"].items():
        for method in ("post", "put", "patch"):
            if method in item:
                assert "413" in item[method]["responses"], (method, path)
        if "get" in item:
            assert "413" not in item["get"]["responses"], path


@pytest.mark.skipif(
    db.vendor == "postgresql", reason="jsonb refuses a lone surrogate: none can be stored there"
)
def test_a_lone_surrogate_stored_before_the_check_is_exported_as_its_escape(
    superuser_api, connection
):
    workflow = stored_with_a_surrogate(connection)

    response = superuser_api.get(f"{LIST}{workflow.pk}/export/")

    assert response.status_code == 200
    text = response.content.decode("utf-8")
    assert '"value": "a\\ud800"' in text
    assert json.loads(text)["workflow"]["steps"][0]["condition"][0]["value"] == "a\ud800"


def stored_with_a_surrogate(connection) -> Workflow:
    """A workflow whose step's condition holds a lone surrogate, written past the checks."""
    workflow = Workflow.objects.create(
        name="Stored before", connection=connection, trigger_key="invoice.created"
    )
    Step.objects.create(
        workflow=workflow,
        order=1,
        name="bill",
        action_key="create_customer",
        input_mapping={"name": "cus"},
        condition=[{"path": "trigger.id", "op": "equals", "value": "a\ud800"}],
    )
    return workflow
