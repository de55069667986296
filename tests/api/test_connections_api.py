"""/api/v1/connections/: the key is write-only and checked with Stripe as in admin."""

import json
from datetime import datetime

import pytest
from responses import matchers

from connections.models import Connection
from tests.api.conftest import (
    API,
    NEW_KEY,
    PASTED_SECRET,
    SECRET_KEY,
    account_json,
    field_errors,
    grant,
    stripe_error,
    token_client,
)
from workflows.models import Workflow

pytestmark = pytest.mark.django_db

LIST = "/api/v1/connections/"


def detail(connection) -> str:
    return f"{LIST}{connection.pk}/"


def endpoints(connection) -> list[tuple[str, str, dict | None]]:
    """Every connection endpoint as (method, url, body)."""
    return [
        ("get", LIST, None),
        ("post", LIST, {"name": "x", "secret_key": NEW_KEY}),
        ("get", detail(connection), None),
        ("put", detail(connection), {"name": "x"}),
        ("patch", detail(connection), {"name": "x"}),
        ("delete", detail(connection), None),
        ("post", f"{detail(connection)}test/", None),
        ("post", f"{detail(connection)}sync-webhook/", None),
        ("post", f"{detail(connection)}actions/get_account/", {"input": {}}),
    ]


def call(client, method: str, url: str, body=None):
    return (
        getattr(client, method)(url, body, format="json") if body else getattr(client, method)(url)
    )


def test_every_endpoint_needs_authentication(anonymous, connection):
    for method, url, body in endpoints(connection):
        response = call(anonymous, method, url, body)
        assert response.status_code == 401, (method, url)
        assert response.json()["type"] == "not_authenticated"


def test_every_endpoint_needs_a_model_permission(no_perms, connection):
    for method, url, body in endpoints(connection):
        response = call(no_perms, method, url, body)
        assert response.status_code == 403, (method, url)
        assert response.json()["type"] == "permission_denied"


def test_a_read_only_token_may_read_but_not_write(read_only_api, connection):
    for method, url, body in endpoints(connection):
        response = call(read_only_api, method, url, body)
        expected = 200 if method == "get" else 403
        assert response.status_code == expected, (method, url)
    assert Connection.objects.filter(pk=connection.pk, name="API test account").exists()


def test_the_view_permission_is_enough_to_read(api_user, connection):
    grant(api_user, "view_connection")
    client = token_client(api_user)
    assert client.get(LIST).status_code == 200
    assert client.patch(detail(connection), {"name": "x"}, format="json").status_code == 403


def test_the_list_shows_the_masked_key_only(superuser_api, connection):
    response = superuser_api.get(LIST)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    item = body["results"][0]
    assert item["id"] == str(connection.pk)
    assert item["key_hint"] == "sk_test_...abcd"
    assert "secret_key" not in item and "webhook_secret" not in item
    assert item["webhook_url"].endswith(f"/webhooks/stripe/{connection.pk}/")
    assert item["created_at"].endswith("Z")  # ISO 8601 in UTC
    assert datetime.fromisoformat(item["created_at"]) == connection.created_at


def test_creating_checks_the_key_with_stripe_and_stores_it(superuser_api, stripe):
    stripe.get(
        f"{API}/v1/account",
        json=account_json(),
        match=[matchers.header_matcher({"Authorization": f"Bearer {NEW_KEY}"})],
    )
    response = superuser_api.post(
        LIST, {"name": "Shop", "secret_key": NEW_KEY, "status": "active"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["key_hint"] == "sk_test_...wxyz"
    assert body["mode"] == "test" and body["key_kind"] == "secret"
    assert body["account_id"] == "acct_1New" and body["account_name"] == "New Shop"
    assert "secret_key" not in body
    assert Connection.objects.get(pk=body["id"]).secret_key == NEW_KEY


def test_a_key_stripe_refuses_is_a_400_on_the_key_and_nothing_is_saved(superuser_api, stripe):
    stripe.get(
        f"{API}/v1/account",
        status=401,
        json=stripe_error("Invalid API Key provided: sk_test_****wxyz"),
    )
    response = superuser_api.post(LIST, {"name": "Shop", "secret_key": NEW_KEY}, format="json")
    assert response.status_code == 400
    message = field_errors(response)["secret_key"]
    assert message.startswith("Stripe refused the key (401, authentication failed)")
    assert not Connection.objects.exists()


def test_a_malformed_or_missing_key_is_refused_without_asking_stripe(superuser_api, stripe):
    response = superuser_api.post(
        LIST, {"name": "Shop", "secret_key": "pk_test_123"}, format="json"
    )
    assert response.status_code == 400
    assert "secret_key" in field_errors(response)
    response = superuser_api.post(LIST, {"name": "Shop"}, format="json")
    assert field_errors(response) == {"secret_key": "This field is required."}


def test_a_duplicate_name_is_a_field_error(superuser_api, connection):
    response = superuser_api.post(
        LIST, {"name": connection.name, "secret_key": NEW_KEY}, format="json"
    )
    assert response.status_code == 400
    assert list(field_errors(response)) == ["name"]


def test_updating_settings_does_not_touch_the_key(superuser_api, connection):
    response = superuser_api.patch(
        detail(connection), {"name": "Renamed", "status": "disabled"}, format="json"
    )
    assert response.status_code == 200, response.content
    connection.refresh_from_db()
    assert connection.name == "Renamed" and connection.status == "disabled"
    assert connection.secret_key == SECRET_KEY


def test_invalid_is_not_a_status_one_can_set(superuser_api, connection):
    response = superuser_api.patch(detail(connection), {"status": "invalid"}, format="json")
    assert response.status_code == 400
    assert list(field_errors(response)) == ["status"]


def test_a_new_key_is_checked_with_the_new_api_base(superuser_api, connection, stripe, settings):
    settings.STRIPE_API_ALLOWED_BASES = [API, "https://stripe.internal.example"]
    stripe.get("https://stripe.internal.example/v1/account", json=account_json(id="acct_2"))
    response = superuser_api.patch(
        detail(connection),
        {"secret_key": NEW_KEY, "api_base": "https://stripe.internal.example"},
        format="json",
    )
    assert response.status_code == 200, response.content
    connection.refresh_from_db()
    assert connection.secret_key == NEW_KEY and connection.account_id == "acct_2"
    assert connection.key_hint == "sk_test_...wxyz"


def test_a_refused_new_key_leaves_the_old_one(superuser_api, connection, stripe):
    stripe.get(f"{API}/v1/account", status=401, json=stripe_error("Invalid API Key provided"))
    response = superuser_api.patch(
        detail(connection), {"secret_key": NEW_KEY, "name": "Renamed"}, format="json"
    )
    assert response.status_code == 400
    connection.refresh_from_db()
    assert connection.secret_key == SECRET_KEY and connection.name == "API test account"


def test_manual_mode_takes_a_pasted_signing_secret(superuser_api, connection):
    response = superuser_api.patch(
        detail(connection),
        {"webhook_mode": "manual", "webhook_secret": PASTED_SECRET},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["webhook_status"] == "manual"
    connection.refresh_from_db()
    assert connection.webhook_secret == PASTED_SECRET
    assert connection.previous_webhook_secret  # the old one stays valid for the grace period


def test_a_pasted_secret_needs_manual_mode_and_the_whsec_format(superuser_api, connection):
    response = superuser_api.patch(
        detail(connection), {"webhook_secret": PASTED_SECRET}, format="json"
    )
    assert field_errors(response)["webhook_secret"].startswith("Only manual mode")
    response = superuser_api.patch(
        detail(connection), {"webhook_mode": "manual", "webhook_secret": "nope"}, format="json"
    )
    assert field_errors(response)["webhook_secret"].startswith("This is not a webhook signing")


def test_test_rechecks_the_key_and_records_a_refusal(superuser_api, connection, stripe):
    stripe.get(f"{API}/v1/account", status=401, json=stripe_error("Expired API Key provided"))
    response = superuser_api.post(f"{detail(connection)}test/")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False and "401" in body["message"]
    assert body["connection"]["status"] == "invalid"
    connection.refresh_from_db()
    assert connection.status == "invalid"


def test_test_reports_a_working_key(superuser_api, connection, stripe):
    stripe.get(f"{API}/v1/account", json=account_json(id="acct_1Api"))
    body = superuser_api.post(f"{detail(connection)}test/").json()
    assert body["ok"] is True
    assert body["message"] == "The key works for New Shop."


def test_sync_webhook_makes_stripe_match_the_event_types_in_use(superuser_api, connection, stripe):
    Workflow.objects.create(
        name="Welcome", connection=connection, trigger_key="invoice.paid", active=True
    )
    stripe.post(
        f"{API}/v1/webhook_endpoints/we_1Api",
        json={
            "id": "we_1Api",
            "object": "webhook_endpoint",
            "status": "enabled",
            "enabled_events": ["invoice.paid"],
            "api_version": connection.api_version,
        },
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "url": connection.webhook_url,
                    "enabled_events[0]": "invoice.paid",
                    "disabled": "false",
                }
            )
        ],
    )
    response = superuser_api.post(f"{detail(connection)}sync-webhook/")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["action"] == "updated"
    assert body["connection"]["webhook_enabled_events"] == ["invoice.paid"]


def test_a_failed_sync_is_answered_and_recorded(superuser_api, connection, stripe):
    Workflow.objects.create(
        name="Welcome", connection=connection, trigger_key="invoice.paid", active=True
    )
    stripe.post(
        f"{API}/v1/webhook_endpoints/we_1Api", status=400, json=stripe_error("Bad URL: boom")
    )
    body = superuser_api.post(f"{detail(connection)}sync-webhook/").json()
    assert body["ok"] is False and body["action"] == "failed"
    connection.refresh_from_db()
    assert connection.webhook_status == "error" and "boom" in connection.webhook_error


def test_deleting_removes_the_stripe_endpoint_first(superuser_api, connection, stripe):
    stripe.delete(f"{API}/v1/webhook_endpoints/we_1Api", json={"id": "we_1Api", "deleted": True})
    response = superuser_api.delete(detail(connection))
    assert response.status_code == 200
    assert response.json() == {"deleted": True, "warning": ""}
    assert not Connection.objects.exists()


def test_deleting_says_so_when_the_endpoint_could_not_be_removed(superuser_api, connection, stripe):
    stripe.delete(
        f"{API}/v1/webhook_endpoints/we_1Api", status=401, json=stripe_error("Key revoked")
    )
    response = superuser_api.delete(detail(connection))
    assert response.status_code == 200
    warning = response.json()["warning"]
    assert "we_1Api could not be deleted in Stripe" in warning
    assert not Connection.objects.exists()


def test_a_connection_used_by_workflows_is_not_deleted_nor_its_endpoint(
    superuser_api, connection, stripe
):
    Workflow.objects.create(name="Welcome", connection=connection, trigger_key="invoice.paid")
    response = superuser_api.delete(detail(connection))
    assert response.status_code == 409
    body = response.json()
    assert body["type"] == "conflict"
    assert "workflow Welcome" in body["message"]
    assert Connection.objects.filter(pk=connection.pk).exists()


def test_an_unknown_connection_is_a_404(superuser_api):
    response = superuser_api.get(f"{LIST}00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404
    assert response.json()["type"] == "not_found"
    assert superuser_api.get(f"{LIST}not-a-uuid/").status_code == 404


def test_bodies_are_json_only(superuser_api, connection):
    response = superuser_api.patch(
        detail(connection), "name=x", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    response = superuser_api.patch(detail(connection), "{", content_type="application/json")
    assert response.status_code == 400
    assert json.loads(response.content)["type"] == "parse_error"


def test_a_create_without_a_key_reports_its_other_problems_too(superuser_api, stripe):
    body = {"name": "Shop", "webhook_secret": PASTED_SECRET}  # automatic mode takes no secret
    response = superuser_api.post(LIST, body, format="json")
    assert set(field_errors(response)) == {"secret_key", "webhook_secret"}
    assert not Connection.objects.filter(name="Shop").exists()
