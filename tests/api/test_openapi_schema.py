"""/api/schema/: every endpoint, with its error answers, and no secret ever readable."""

import pytest
from django.http import JsonResponse

from tests.api.conftest import schema_problem

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def schema(superuser_api) -> dict:
    response = superuser_api.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def test_every_resource_of_the_issue_is_there(schema):
    paths = set(schema["paths"])
    assert {
        "/api/v1/connections/",
        "/api/v1/connections/{id}/",
        "/api/v1/connections/{id}/test/",
        "/api/v1/connections/{id}/sync-webhook/",
        "/api/v1/connections/{id}/actions/{action_key}/",
        "/api/v1/workflows/",
        "/api/v1/workflows/{id}/",
        "/api/v1/workflows/{id}/activate/",
        "/api/v1/workflows/{id}/deactivate/",
        "/api/v1/workflows/{id}/export/",
        "/api/v1/workflows/import/",
        "/api/v1/workflows/{id}/promote/",
        "/api/v1/runs/",
        "/api/v1/runs/{id}/",
        "/api/v1/runs/{id}/resume/",
        "/api/v1/runs/{id}/rerun/",
        "/api/v1/events/",
        "/api/v1/events/{id}/",
        "/api/v1/events/{id}/dispatch-again/",
        "/api/v1/catalog/actions/",
        "/api/v1/catalog/triggers/",
    } <= paths
    assert all(path.startswith("/api/") for path in paths)  # not the webhook receiver


def test_every_operation_documents_its_error_answers(schema):
    for path, method, operation in operations(schema):
        codes = set(operation["responses"])
        assert {"401", "403"} <= codes, (method, path)
        if "{" in path:
            assert "404" in codes, (method, path)
        if method in ("post", "put", "patch"):
            assert {"400", "415"} <= codes, (method, path)
        for code in codes - {"200", "201", "202", "204"}:
            ref = operation["responses"][code]["content"]["application/json"]["schema"]["$ref"]
            assert ref.rsplit("/", 1)[1] in ("Error", "StripeError"), (method, path, code)


def test_the_error_format_is_described(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["errors", "message", "type"]  # every error has all three
    assert set(error["properties"]) == {"type", "message", "errors"}
    stripe = schema["components"]["schemas"]["StripeError"]["properties"]["stripe"]
    assert stripe["allOf"][0]["$ref"].endswith("/StripeErrorDetail")


def test_secrets_are_write_only(schema):
    components = schema["components"]["schemas"]
    assert "secret_key" not in components["Connection"]["properties"]
    assert "webhook_secret" not in components["Connection"]["properties"]
    request = components["ConnectionRequest"]["properties"]
    assert request["secret_key"]["writeOnly"] is True
    assert request["webhook_secret"]["writeOnly"] is True


def test_lists_are_paginated_and_filters_described(schema):
    runs = schema["paths"]["/api/v1/runs/"]["get"]
    names = {parameter["name"] for parameter in runs["parameters"]}
    assert {"page", "page_size", "workflow", "connection", "status"} <= names
    assert {"created_after", "created_before"} <= names
    ref = runs["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/PaginatedRunList")


def test_an_unknown_api_path_is_a_404_in_the_error_format(superuser_api, anonymous):
    for client in (superuser_api, anonymous):
        response = client.get("/api/v1/nothing-here/")
        assert response.status_code == 404
        body = response.json()
        assert body == {"type": "not_found", "message": "No such endpoint.", "errors": []}


def test_the_suite_wide_check_flags_a_response_unlike_the_schema(connection):
    path = f"/api/v1/connections/{connection.pk}/"
    wrong = JsonResponse({"id": 5, "name": "Shop"})
    assert "Response violates schema" in schema_problem("GET", path, wrong)
    undocumented = JsonResponse({"type": "conflict", "message": "No."}, status=409)
    assert schema_problem("GET", path, undocumented)
    assert schema_problem("GET", "/api/v1/no-such-thing/", wrong) is None


def test_the_schema_says_request_bodies_take_no_other_field(schema):
    components = schema["components"]["schemas"]
    for name in ("ConnectionRequest", "PatchedConnectionRequest", "ExecuteRequest"):
        assert components[name]["additionalProperties"] is False, name
    for name in (
        "WorkflowRequest",
        "PatchedWorkflowRequest",
        "StepRequest",
        "ImportRequest",
        "PromoteRequest",
        "WorkflowDocumentRequest",
        "StepDocumentRequest",
    ):
        assert components[name]["additionalProperties"] is False, name
    assert "input" in components["ExecuteRequest"]["required"]
