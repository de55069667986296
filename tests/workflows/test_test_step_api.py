"""POST /api/v1/workflows/{id}/test-step/ and load-sample/: admin's Test a step in the API."""

import pytest

from connections.models import Connection
from stripe_connector.catalog import get_trigger
from tests.api.conftest import field_errors, grant, token_client
from workflows.models import Run

from .conftest import API, make_workflow

pytestmark = pytest.mark.django_db

STEPS = [
    ("find", "find_customer", {"id": "{{ trigger.data.object.id }}"}),
    ("tag", "update_customer", {"id": "{{ steps.find.id }}", "metadata": {"seen": "yes"}}),
]
SAMPLE_ID = get_trigger("customer.updated").sample["data"]["object"]["id"]


@pytest.fixture
def api(django_user_model):
    user = django_user_model.objects.create_superuser("api-test", "t@example.com", "pw-1234567!")
    return token_client(user)


@pytest.fixture
def workflow(connection):
    return make_workflow(connection, "customer.updated", STEPS, active=False)


def url(workflow, what: str = "test-step") -> str:
    return f"/api/v1/workflows/{workflow.pk}/{what}/"


def test_testing_step_one_then_step_two_uses_step_ones_output(api, workflow, stripe):
    stripe.get(f"{API}/v1/customers/{SAMPLE_ID}", json={"id": "cus_Found", "object": "customer"})
    stripe.post(f"{API}/v1/customers/cus_Found", json={"id": "cus_Found", "object": "customer"})

    first = api.post(url(workflow), {"step": "find"}, format="json")
    second = api.post(url(workflow), {"step": "tag"}, format="json")

    assert first.status_code == 200, first.content
    assert (first.json()["ok"], first.json()["output"]["id"]) == (True, "cus_Found")
    assert workflow.steps.get(name="find").sample_output["id"] == "cus_Found"
    body = second.json()
    assert (body["ok"], body["step"], body["input"]["id"]) == (True, "tag", "cus_Found")
    assert not Run.objects.exists()


def test_an_untested_earlier_step_is_named_and_nothing_is_sent(api, workflow, stripe):
    response = api.post(url(workflow), {"step": "tag"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    assert (body["error"]["type"], body["error"]["steps"]) == ("untested_step", ["find"])
    assert len(stripe.calls) == 0


def test_an_unknown_step_or_a_stray_field_is_a_400_naming_it(api, workflow, stripe):
    response = api.post(url(workflow), {"step": "nope"}, format="json")
    assert field_errors(response) == {"step": "This workflow has no step 'nope'."}
    response = api.post(url(workflow), {"step": "find", "dry_run": True}, format="json")
    assert list(field_errors(response)) == ["dry_run"]
    assert len(stripe.calls) == 0


def test_a_live_connection_needs_confirm_live(api, workflow, stripe, connection):
    Connection.objects.filter(pk=connection.pk).update(mode=Connection.Mode.LIVE)

    response = api.post(url(workflow), {"step": "find"}, format="json")

    assert list(field_errors(response)) == ["confirm_live"]
    assert len(stripe.calls) == 0
    stripe.get(f"{API}/v1/customers/{SAMPLE_ID}", json={"id": SAMPLE_ID, "object": "customer"})
    response = api.post(url(workflow), {"step": "find", "confirm_live": True}, format="json")
    assert response.json()["ok"] is True


def test_the_made_up_samples_missing_id_answers_with_the_hint(api, workflow, stripe):
    stripe.get(
        f"{API}/v1/customers/{SAMPLE_ID}",
        status=404,
        json={"error": {"type": "invalid_request_error", "code": "resource_missing"}},
    )

    body = api.post(url(workflow), {"step": "find"}, format="json").json()

    assert body["ok"] is False
    assert "load-sample" not in body["hint"] and "Load a sample event" in body["hint"]


def test_load_sample_stores_the_latest_event_from_stripe(api, workflow, stripe):
    latest = {"id": "evt_L", "type": "customer.updated", "data": {"object": {"id": "cus_L"}}}
    stripe.get(f"{API}/v1/events", json={"object": "list", "data": [latest], "has_more": False})

    response = api.post(url(workflow, "load-sample"))

    assert response.status_code == 200, response.content
    assert response.json() == {"source": "Stripe", "sample_event": latest}
    workflow.refresh_from_db()
    assert workflow.sample_event == latest


def test_both_need_to_change_the_workflow_and_use_its_connection(
    django_user_model, workflow, stripe
):
    user = django_user_model.objects.create_user("limited", password="pw-1234567!")
    grant(user, "view_workflow", "change_workflow")
    client = token_client(user)

    assert client.post(url(workflow), {"step": "find"}, format="json").status_code == 403
    assert client.post(url(workflow, "load-sample")).status_code == 403
    assert len(stripe.calls) == 0
    grant(user, "use_connection")
    user.user_permissions.remove(*user.user_permissions.filter(codename="change_workflow"))
    client = token_client(django_user_model.objects.get(pk=user.pk))
    assert client.post(url(workflow, "load-sample")).status_code == 403
    assert len(stripe.calls) == 0
