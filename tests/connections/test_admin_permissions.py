"""Admin actions on connections and the inbox check the permission they need: 403, not run."""

import pytest
from django.urls import reverse

from connections.inbox import ingest
from connections.models import Connection, InboxEvent
from tests.api.conftest import grant

from .conftest import API, ENDPOINTS_URL, endpoint_json, make_event

pytestmark = pytest.mark.django_db

CONNECTIONS = "admin:connections_connection_changelist"
INBOX = "admin:connections_inboxevent_changelist"


@pytest.fixture
def event(connection, enqueued):
    event, _ = ingest(connection, make_event())
    InboxEvent.objects.filter(pk=event.pk).update(status=InboxEvent.Status.DISPATCHED)
    enqueued.clear()
    return event


def run_action(client, changelist: str, action: str, pk):
    return client.post(reverse(changelist), {"action": action, "_selected_action": [pk]})


@pytest.mark.parametrize("action", ["test_connection", "sync_endpoint"])
def test_view_only_staff_cannot_run_connection_actions(staff_as, connection, stripe_mock, action):
    client = staff_as("view_connection")

    assert action not in client.get(reverse(CONNECTIONS)).content.decode()
    response = run_action(client, CONNECTIONS, action, connection.pk)

    assert response.status_code == 403
    assert len(stripe_mock.calls) == 0
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE and not connection.webhook_synced_at


@pytest.mark.parametrize("action", ["test_connection", "sync_endpoint"])
def test_actions_sending_the_key_need_the_use_permission_besides_change(
    staff_as, connection, stripe_mock, action
):
    client = staff_as("view_connection", "change_connection")

    assert action not in client.get(reverse(CONNECTIONS)).content.decode()
    assert run_action(client, CONNECTIONS, action, connection.pk).status_code == 403
    assert len(stripe_mock.calls) == 0
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE and not connection.webhook_synced_at


def test_staff_who_may_use_a_connection_can_test_it(staff_as, connection, stripe_mock):
    client = staff_as("view_connection", "change_connection", "use_connection")
    stripe_mock.get(f"{API}/v1/account", json={"id": "acct_1", "object": "account"})

    response = run_action(client, CONNECTIONS, "test_connection", connection.pk)

    assert response.status_code == 302
    assert len(stripe_mock.calls) == 1


def test_staff_who_may_use_a_connection_can_sync_its_endpoint(staff_as, connection, stripe_mock):
    client = staff_as("view_connection", "change_connection", "use_connection")
    stripe_mock.post(
        f"{ENDPOINTS_URL}/we_1Existing", json=endpoint_json("we_1Existing", connection=connection)
    )

    response = run_action(client, CONNECTIONS, "sync_endpoint", connection.pk)

    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.webhook_synced_at is not None


def test_deleting_a_connection_needs_the_use_permission_besides_delete(
    staff_as, connection, stripe_mock
):
    """Deleting deletes the endpoint in Stripe with the stored key: it spends the key."""
    client = staff_as("view_connection", "delete_connection")
    delete_url = reverse("admin:connections_connection_delete", args=[connection.pk])

    assert "delete_selected" not in client.get(reverse(CONNECTIONS)).content.decode()
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [connection.pk], "post": "yes"}
    assert client.post(reverse(CONNECTIONS), bulk).status_code == 403
    assert len(stripe_mock.calls) == 0
    assert Connection.objects.filter(pk=connection.pk).exists()


def test_staff_who_may_use_a_connection_can_delete_it_and_its_endpoint(
    staff_as, connection, stripe_mock
):
    client = staff_as("view_connection", "delete_connection", "use_connection")
    stripe_mock.delete(
        f"{ENDPOINTS_URL}/we_1Existing", json={"id": "we_1Existing", "deleted": True}
    )
    delete_url = reverse("admin:connections_connection_delete", args=[connection.pk])

    assert client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not Connection.objects.filter(pk=connection.pk).exists()


def test_view_only_staff_cannot_dispatch_events_again(
    staff_as, event, enqueued, django_capture_on_commit_callbacks
):
    client = staff_as("view_inboxevent")

    assert "dispatch_again_action" not in client.get(reverse(INBOX)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(client, INBOX, "dispatch_again_action", event.pk)

    assert response.status_code == 403
    assert enqueued == []
    event.refresh_from_db()
    assert event.status == InboxEvent.Status.DISPATCHED


def test_dispatching_again_needs_to_create_runs_and_use_the_connection(
    staff_as, staff, event, enqueued, django_capture_on_commit_callbacks
):
    client = staff_as("view_inboxevent", "add_run")
    with django_capture_on_commit_callbacks(execute=True):
        assert run_action(client, INBOX, "dispatch_again_action", event.pk).status_code == 403
    assert enqueued == []

    grant(staff, "use_connection")
    with django_capture_on_commit_callbacks(execute=True):
        assert run_action(client, INBOX, "dispatch_again_action", event.pk).status_code == 302
    event.refresh_from_db()
    assert event.status_detail == "Dispatched again through admin: no active workflow."
