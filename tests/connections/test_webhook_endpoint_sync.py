"""sync_webhook_endpoint makes Stripe's one endpoint per connection match the event types."""

from urllib.parse import parse_qsl

import pytest
import responses

from connections.models import Connection
from connections.webhooks import sync_webhook_endpoint

from .conftest import ENDPOINTS_URL, SECRET_KEY, WEBHOOK_SECRET, endpoint_json, stripe_error

pytestmark = pytest.mark.django_db

NEW_SECRET = "whsec_brand_new_secret_0123456789"


def form(call) -> list[tuple[str, str]]:
    return parse_qsl(call.request.body)


def empty_list():
    return {"object": "list", "data": [], "has_more": False, "url": "/v1/webhook_endpoints"}


@pytest.fixture
def fresh(connection) -> Connection:
    """A connection that has no endpoint yet."""
    connection.webhook_endpoint_id = ""
    connection.webhook_secret = ""
    connection.webhook_enabled_events = []
    connection.webhook_status = Connection.WebhookStatus.NONE
    connection.save()
    return connection


def test_it_creates_the_endpoint_and_stores_its_secret_encrypted(fresh, stripe_mock, settings):
    settings.PUBLIC_BASE_URL = "https://ops.example.com"
    stripe_mock.get(ENDPOINTS_URL, json=empty_list())
    created = endpoint_json(
        "we_1New", connection=fresh, events=["invoice.paid", "customer.created"], secret=NEW_SECRET
    )
    stripe_mock.post(ENDPOINTS_URL, json=created)

    result = sync_webhook_endpoint(fresh, ["invoice.paid", "customer.created", "invoice.paid"])

    assert result.ok and result.action == "created"
    sent = form(stripe_mock.calls[1])
    assert ("url", f"https://ops.example.com/webhooks/stripe/{fresh.id}/") in sent
    assert sorted(v for k, v in sent if k.startswith("enabled_events")) == [
        "customer.created",
        "invoice.paid",
    ]
    assert ("api_version", fresh.api_version) in sent
    assert ("metadata[product]", "konnectify") in sent
    assert ("metadata[connection_id]", str(fresh.id)) in sent
    assert any(k == "description" and "Konnectify" in v for k, v in sent)
    assert stripe_mock.calls[1].request.headers["Stripe-Version"] == fresh.api_version
    fresh.refresh_from_db()
    assert fresh.webhook_endpoint_id == "we_1New"
    assert fresh.webhook_secret == NEW_SECRET
    assert fresh.webhook_enabled_events == ["customer.created", "invoice.paid"]
    assert fresh.webhook_status == Connection.WebhookStatus.ENABLED
    assert fresh.webhook_error == ""
    assert fresh.events_cursor is not None


def test_creating_removes_an_untracked_endpoint_left_for_this_connection(fresh, stripe_mock):
    leftover = endpoint_json("we_1Lost", connection=fresh)
    stripe_mock.get(ENDPOINTS_URL, json={**empty_list(), "data": [leftover]})
    stripe_mock.delete(f"{ENDPOINTS_URL}/we_1Lost", json={"id": "we_1Lost", "deleted": True})
    stripe_mock.post(
        ENDPOINTS_URL, json=endpoint_json("we_1New", connection=fresh, secret=NEW_SECRET)
    )

    assert sync_webhook_endpoint(fresh, ["customer.created"]).action == "created"


def test_it_updates_enabled_events_in_place(connection, stripe_mock):
    updated = endpoint_json(
        "we_1Existing", connection=connection, events=["customer.created", "customer.deleted"]
    )
    stripe_mock.post(f"{ENDPOINTS_URL}/we_1Existing", json=updated)

    result = sync_webhook_endpoint(connection, ["customer.deleted", "customer.created"])

    assert result.ok and result.action == "updated"
    assert len(stripe_mock.calls) == 1  # no delete, no create
    sent = form(stripe_mock.calls[0])
    assert sorted(v for k, v in sent if k.startswith("enabled_events")) == [
        "customer.created",
        "customer.deleted",
    ]
    connection.refresh_from_db()
    assert connection.webhook_endpoint_id == "we_1Existing"
    assert connection.webhook_secret == WEBHOOK_SECRET
    assert connection.webhook_enabled_events == ["customer.created", "customer.deleted"]


def test_it_deletes_the_endpoint_when_no_event_types_are_left(connection, stripe_mock):
    stripe_mock.delete(
        f"{ENDPOINTS_URL}/we_1Existing", json={"id": "we_1Existing", "deleted": True}
    )

    result = sync_webhook_endpoint(connection, [])

    assert result.ok and result.action == "deleted"
    connection.refresh_from_db()
    assert connection.webhook_endpoint_id == ""
    assert connection.webhook_secret == ""
    assert connection.webhook_enabled_events == []
    assert connection.webhook_status == Connection.WebhookStatus.NONE


def test_an_endpoint_deleted_in_stripe_is_recreated_with_a_new_secret(connection, stripe_mock):
    missing = stripe_error(404, "No such webhook endpoint: 'we_1Existing'")
    stripe_mock.post(f"{ENDPOINTS_URL}/we_1Existing", status=404, json=missing)
    stripe_mock.delete(f"{ENDPOINTS_URL}/we_1Existing", status=404, json=missing)
    stripe_mock.get(ENDPOINTS_URL, json=empty_list())
    stripe_mock.post(
        ENDPOINTS_URL, json=endpoint_json("we_1Again", connection=connection, secret=NEW_SECRET)
    )

    result = sync_webhook_endpoint(connection, ["customer.created"])

    assert result.ok and result.action == "repaired"
    assert "deleted in Stripe" in result.message
    connection.refresh_from_db()
    assert connection.webhook_endpoint_id == "we_1Again"
    assert connection.webhook_secret == NEW_SECRET
    assert connection.webhook_status == Connection.WebhookStatus.ENABLED


def test_an_endpoint_that_stays_disabled_is_replaced(connection, stripe_mock):
    disabled = endpoint_json("we_1Existing", connection=connection, status="disabled")
    stripe_mock.post(f"{ENDPOINTS_URL}/we_1Existing", json=disabled)
    stripe_mock.delete(
        f"{ENDPOINTS_URL}/we_1Existing", json={"id": "we_1Existing", "deleted": True}
    )
    stripe_mock.get(ENDPOINTS_URL, json=empty_list())
    stripe_mock.post(
        ENDPOINTS_URL, json=endpoint_json("we_1Again", connection=connection, secret=NEW_SECRET)
    )

    result = sync_webhook_endpoint(connection, ["customer.created"])

    assert result.action == "repaired"
    assert ("disabled", "false") in form(stripe_mock.calls[0])
    connection.refresh_from_db()
    assert connection.webhook_endpoint_id == "we_1Again"
    assert connection.valid_webhook_secrets() == [NEW_SECRET, WEBHOOK_SECRET]


def test_a_stripe_failure_is_recorded_on_the_connection_and_logged(connection, stripe_mock, caplog):
    stripe_mock.post(
        f"{ENDPOINTS_URL}/we_1Existing",
        status=403,
        json=stripe_error(
            403,
            "The provided key does not have access to webhook endpoints.",
            "invalid_request_error",
        ),
    )

    result = sync_webhook_endpoint(connection, ["customer.created"])

    assert not result.ok and result.action == "failed"
    connection.refresh_from_db()
    assert connection.webhook_status == Connection.WebhookStatus.ERROR
    assert "does not have access to webhook endpoints" in connection.webhook_error
    assert "Webhook endpoint sync failed" in caplog.text
    assert SECRET_KEY not in caplog.text and WEBHOOK_SECRET not in caplog.text


def test_a_network_failure_is_recorded_too(connection, stripe_mock):
    import requests

    stripe_mock.post(f"{ENDPOINTS_URL}/we_1Existing", body=requests.ConnectionError("reset"))
    result = sync_webhook_endpoint(connection, ["customer.created"])
    assert not result.ok
    connection.refresh_from_db()
    assert "Could not reach Stripe" in connection.webhook_error


def test_a_create_without_a_signing_secret_is_a_recorded_failure(fresh, stripe_mock):
    stripe_mock.get(ENDPOINTS_URL, json=empty_list())
    stripe_mock.post(ENDPOINTS_URL, json=endpoint_json("we_1New", connection=fresh))
    result = sync_webhook_endpoint(fresh, ["customer.created"])
    assert not result.ok
    fresh.refresh_from_db()
    assert fresh.webhook_status == Connection.WebhookStatus.ERROR
    assert "without a signing secret" in fresh.webhook_error


def test_manual_mode_only_records_the_event_types_to_enable(connection):
    connection.webhook_mode = Connection.WebhookMode.MANUAL
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        result = sync_webhook_endpoint(connection, ["invoice.paid"])
        assert len(mock.calls) == 0
    assert result.action == "manual"
    assert "invoice.paid" in result.message
    connection.refresh_from_db()
    assert connection.webhook_enabled_events == ["invoice.paid"]
    assert connection.webhook_status == Connection.WebhookStatus.MANUAL
