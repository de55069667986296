"""/api/v1/automations/: the popular automations, listed and applied as staff do in admin."""

import pytest

from tests.api.conftest import field_errors, grant, token_client
from workflows.automations import AUTOMATIONS
from workflows.models import Workflow

pytestmark = pytest.mark.django_db

LIST = "/api/v1/automations/"
KEY = "invoice_created_finalize_invoice"


def apply(client, connection, key: str = KEY):
    return client.post(f"{LIST}{key}/apply/", {"connection": str(connection.pk)}, format="json")


def test_it_lists_the_popular_automations_with_their_steps(no_perms):
    response = no_perms.get(LIST)
    assert response.status_code == 200
    body = {item["key"]: item for item in response.json()}
    assert list(body) == list(AUTOMATIONS)
    finalize = body[KEY]
    assert finalize["trigger_key"] == "invoice.created"
    assert finalize["filters"] == [{"path": "data.object.status", "op": "equals", "value": "draft"}]
    assert finalize["steps"] == [
        {
            "name": "finalize_invoice",
            "action_key": "finalize_invoice",
            "input": {"id": "{{ trigger.data.object.id }}"},
        }
    ]
    assert no_perms.get(f"{LIST}{KEY}/").json() == finalize


def test_applying_one_creates_an_inactive_workflow_owned_by_the_caller(superuser_api, connection):
    response = apply(superuser_api, connection)
    assert response.status_code == 201, response.content
    body = response.json()
    workflow = Workflow.objects.get(pk=body["id"])
    assert body["active"] is False and body["connection"] == str(connection.pk)
    assert [step["name"] for step in body["steps"]] == ["finalize_invoice"]
    assert workflow.owner.username == "root"
    assert workflow.event_type == "invoice.created"


def test_applying_needs_to_add_workflows_and_to_use_the_connection(api_user, connection):
    grant(api_user, "add_workflow")
    client = token_client(api_user)
    response = apply(client, connection)
    assert response.status_code == 403
    assert not Workflow.objects.exists()
    grant(api_user, "use_connection")
    assert apply(client, connection).status_code == 201


def test_a_read_only_token_lists_but_does_not_apply(read_only_api, connection):
    assert read_only_api.get(LIST).status_code == 200
    assert apply(read_only_api, connection).status_code == 403
    assert not Workflow.objects.exists()


def test_an_unknown_automation_or_connection_is_named(superuser_api, connection):
    response = apply(superuser_api, connection, key="launch_rocket")
    assert response.status_code == 404
    assert "launch_rocket" in response.json()["message"]
    response = superuser_api.post(
        f"{LIST}{KEY}/apply/",
        {"connection": "00000000-0000-0000-0000-000000000000", "name": "x"},
        format="json",
    )
    assert set(field_errors(response)) == {"connection", "name"}
    assert not Workflow.objects.exists()
