"""The periodic check finds drift on automatic endpoints and repairs it."""

import pytest

from connections.models import Connection
from connections.tasks import check_webhook_endpoints
from connections.webhooks import (
    check_webhook_endpoint,
    event_types_in_use,
    provide_event_types_with,
)

from .conftest import ENDPOINTS_URL, endpoint_json

pytestmark = pytest.mark.django_db


def listing(*endpoints):
    return {"object": "list", "data": list(endpoints), "has_more": False}


def provide_invoice_events(connection):
    """A stand-in for the workflows app's source (registered in WorkflowsConfig.ready)."""
    return {"invoice.paid", "customer.created"}


def test_an_endpoint_that_matches_is_left_alone(connection, stripe_mock):
    stripe_mock.get(
        ENDPOINTS_URL, json=listing(endpoint_json("we_1Existing", connection=connection))
    )
    result = check_webhook_endpoint(connection)
    assert result.action == "unchanged"
    assert len(stripe_mock.calls) == 1


@pytest.mark.parametrize(
    "drift",
    [
        {"url": "https://old-host.example.com/webhooks/stripe/x/"},
        {"enabled_events": ["customer.created", "charge.failed"]},
        {"status": "disabled"},
    ],
)
def test_drift_in_url_events_or_status_is_repaired_by_an_update(connection, stripe_mock, drift):
    drifted = endpoint_json("we_1Existing", connection=connection, **drift)
    stripe_mock.get(ENDPOINTS_URL, json=listing(drifted))
    stripe_mock.post(
        f"{ENDPOINTS_URL}/we_1Existing", json=endpoint_json("we_1Existing", connection=connection)
    )
    result = check_webhook_endpoint(connection)
    assert result.ok and result.action == "updated"


def test_a_missing_endpoint_is_recreated(connection, stripe_mock):
    stripe_mock.get(ENDPOINTS_URL, json=listing())
    stripe_mock.post(
        f"{ENDPOINTS_URL}/we_1Existing",
        status=404,
        json={"error": {"type": "invalid_request_error", "message": "No such webhook endpoint"}},
    )
    stripe_mock.delete(
        f"{ENDPOINTS_URL}/we_1Existing",
        status=404,
        json={"error": {"type": "invalid_request_error", "message": "No such webhook endpoint"}},
    )
    stripe_mock.get(ENDPOINTS_URL, json=listing())
    stripe_mock.post(
        ENDPOINTS_URL,
        json=endpoint_json("we_1New", connection=connection, secret="whsec_new_0123456789abcdef"),
    )
    result = check_webhook_endpoint(connection)
    assert result.action == "repaired"
    connection.refresh_from_db()
    assert connection.webhook_endpoint_id == "we_1New"


def test_the_event_types_in_use_come_from_the_registered_source(connection):
    provide_event_types_with(provide_invoice_events)
    assert event_types_in_use(connection) == ["customer.created", "invoice.paid"]
    provide_event_types_with(None)
    assert event_types_in_use(connection) == ["customer.created"]


def test_a_failed_sync_is_kept_on_the_connection_until_the_check_finds_stripe_matching(
    connection, stripe_mock
):
    Connection.objects.filter(pk=connection.pk).update(
        webhook_status=Connection.WebhookStatus.ERROR, webhook_error="Stripe is down"
    )
    connection.refresh_from_db()
    stripe_mock.get(
        ENDPOINTS_URL, json=listing(endpoint_json("we_1Existing", connection=connection))
    )
    result = check_webhook_endpoint(connection)
    assert result.ok and result.action == "unchanged"
    connection.refresh_from_db()
    assert (connection.webhook_status, connection.webhook_error) == ("enabled", "")


def test_the_scheduled_task_skips_manual_and_disabled_connections(connection, stripe_mock):
    Connection.objects.create(
        name="Manual one",
        api_version=connection.api_version,
        webhook_mode=Connection.WebhookMode.MANUAL,
    )
    Connection.objects.create(
        name="Disabled one", api_version=connection.api_version, status=Connection.Status.DISABLED
    )
    stripe_mock.get(
        ENDPOINTS_URL, json=listing(endpoint_json("we_1Existing", connection=connection))
    )
    outcomes = check_webhook_endpoints()
    assert list(outcomes) == [connection.name]
