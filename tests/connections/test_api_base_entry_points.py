"""Every path that uses a connection's key refuses a stored api_base the environment does not
allow, and sends nothing: webhook sync, reconciliation, manage.py stripe_action."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from connections.models import Connection
from connections.reconcile import reconcile_connection
from connections.webhooks import sync_webhook_endpoint
from stripe_connector.errors import APIBaseNotAllowed
from tests.listener import recording_server

pytestmark = pytest.mark.django_db


@pytest.fixture
def listener():
    with recording_server({"id": "we_1", "object": "webhook_endpoint"}) as server:
        yield server


@pytest.fixture
def pointed(connection, listener) -> Connection:
    """The connection as an old release may have stored it: api_base at a listener."""
    Connection.objects.filter(pk=connection.pk).update(
        api_base=listener.url, events_cursor=timezone.now() - timedelta(hours=1)
    )
    connection.refresh_from_db()
    return connection


def test_syncing_the_webhook_endpoint_records_the_refusal_and_sends_nothing(pointed, listener):
    result = sync_webhook_endpoint(pointed, ["customer.created"])
    assert result.action == "failed"
    pointed.refresh_from_db()
    assert "is not one the environment allows" in pointed.webhook_error
    assert listener.requests == []


def test_reconciliation_refuses_and_sends_nothing(pointed, listener, monkeypatch):
    monkeypatch.setattr(
        "connections.reconcile.event_types_in_use", lambda connection: ["customer.created"]
    )
    with pytest.raises(APIBaseNotAllowed):
        reconcile_connection(pointed)
    assert listener.requests == []


def test_the_stripe_action_command_refuses_and_sends_nothing(pointed, listener):
    with pytest.raises(CommandError, match="is not one the environment allows"):
        call_command("stripe_action", "get_account", "--connection", pointed.name, "--input", "{}")
    assert listener.requests == []
