"""/api/v1/catalog/: triggers and actions straight from the registry."""

import pytest

from stripe_connector.catalog import ACTIONS, TRIGGERS

pytestmark = pytest.mark.django_db


def test_it_needs_authentication(anonymous):
    assert anonymous.get("/api/v1/catalog/actions/").status_code == 401


def test_any_authenticated_caller_may_read_it(no_perms):
    response = no_perms.get("/api/v1/catalog/actions/")
    assert response.status_code == 200
    assert [a["key"] for a in response.json()] == list(ACTIONS)


def test_an_action_comes_with_its_input_schema(no_perms):
    response = no_perms.get("/api/v1/catalog/actions/create_customer/")
    body = response.json()
    assert body["label"] == "Create Customer"
    assert body["method"] == "POST" and body["path"] == "/v1/customers"
    assert body["input_schema"] == ACTIONS["create_customer"].input_schema


def test_triggers_come_with_their_sample_events(no_perms):
    response = no_perms.get("/api/v1/catalog/triggers/invoice.paid/")
    body = response.json()
    assert body["event_type"] == "invoice.paid"
    assert body["sample"]["type"] == "invoice.paid"
    assert len(no_perms.get("/api/v1/catalog/triggers/").json()) == len(TRIGGERS)


def test_an_unknown_key_is_a_404_in_the_error_format(no_perms):
    response = no_perms.get("/api/v1/catalog/actions/launch_rocket/")
    assert response.status_code == 404
    assert response.json() == {
        "type": "not_found",
        "message": "No action with key 'launch_rocket'.",
        "errors": [],
    }


def test_the_catalog_is_read_only(superuser_api):
    assert superuser_api.post("/api/v1/catalog/actions/", {}).status_code == 405


def test_the_schema_and_docs_need_a_login_and_no_cdn(anonymous, staff_client):
    assert anonymous.get("/api/schema/").status_code == 401
    assert anonymous.get("/api/docs/").status_code == 401
    client = staff_client
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/catalog/actions/" in schema.content
    docs = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs and "cdn" not in docs.lower()
