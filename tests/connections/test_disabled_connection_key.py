"""A disabled connection's key is never sent: every Stripe client is made by Connection.client()."""

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from connections.management.commands.stripe_action import Command as StripeActionCommand
from connections.models import Connection, ConnectionDisabled
from connections.reconcile import reconcile_connection
from connections.services import recheck_connection
from connections.webhooks import sync_webhook_endpoint

pytestmark = pytest.mark.django_db


def disable(connection: Connection) -> None:
    """What staff do in admin or the API: the row changes, loaded objects do not."""
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.DISABLED)


def test_no_client_is_made_for_a_connection_disabled_after_it_was_loaded(connection):
    disable(connection)
    assert connection.status == Connection.Status.ACTIVE  # the stale object

    with pytest.raises(ConnectionDisabled) as refused:
        connection.client()

    assert refused.value.type == "connection_disabled"
    assert refused.value.retryable is False
    assert "Main test account" in refused.value.message


def test_testing_a_disabled_connection_sends_nothing_and_keeps_its_status(connection, stripe_mock):
    disable(connection)
    connection.refresh_from_db()

    ok, message = recheck_connection(connection)

    assert not ok and "is disabled" in message
    assert len(stripe_mock.calls) == 0
    connection.refresh_from_db()
    assert connection.status == Connection.Status.DISABLED


def test_the_endpoint_sync_sends_nothing_for_a_disabled_connection(connection, stripe_mock):
    disable(connection)
    result = sync_webhook_endpoint(connection, ["customer.created"])
    assert not result.ok and "is disabled" in result.message
    assert len(stripe_mock.calls) == 0


def test_reconciliation_sends_nothing_for_a_disabled_connection(connection, stripe_mock):
    connection.events_cursor = timezone.now()
    disable(connection)
    with pytest.raises(ConnectionDisabled):
        reconcile_connection(connection)
    assert len(stripe_mock.calls) == 0


def test_the_command_sends_nothing_when_disabled_after_it_found_the_connection(
    connection, stripe_mock, monkeypatch
):
    found = StripeActionCommand.find

    def find_then_disable(self, name):
        target = found(self, name)
        disable(target)  # disabled between the lookup and the call
        return target

    monkeypatch.setattr(StripeActionCommand, "find", find_then_disable)
    with pytest.raises(CommandError, match="is disabled"):
        call_command("stripe_action", "get_account", "--connection", connection.name)
    assert len(stripe_mock.calls) == 0
