"""Admin pages render for staff and never contain a Stripe key or a webhook secret."""

import logging

import pytest
from django.urls import reverse

from connections.inbox import ingest
from connections.models import Connection, InboxEvent

from .conftest import (
    API,
    ENDPOINTS_URL,
    OLD_WEBHOOK_SECRET,
    SECRET_KEY,
    WEBHOOK_SECRET,
    endpoint_json,
    make_event,
    stripe_error,
)

pytestmark = pytest.mark.django_db

NEW_KEY = "sk_test_51NewKeyNewKeyNewKeyNewKey0123456789wxyz"
ACCOUNT = {
    "id": "acct_1New",
    "object": "account",
    "settings": {"dashboard": {"display_name": "New"}},
}


def assert_no_secrets(response, *extra: str) -> None:
    body = response.content.decode()
    for secret in (SECRET_KEY, WEBHOOK_SECRET, OLD_WEBHOOK_SECRET, *extra):
        assert secret not in body


@pytest.fixture
def rotated(connection) -> Connection:
    connection.replace_webhook_secret(OLD_WEBHOOK_SECRET)
    connection.save()
    return connection


def test_the_connection_list_shows_the_masked_key_and_no_secret(staff_client, rotated):
    response = staff_client.get(reverse("admin:connections_connection_changelist"))
    assert response.status_code == 200
    assert "sk_test_...ykey" in response.content.decode()
    assert_no_secrets(response)


def test_the_connection_page_shows_the_webhook_url_and_no_secret(staff_client, rotated):
    url = reverse("admin:connections_connection_change", args=[rotated.pk])
    response = staff_client.get(url)
    body = response.content.decode()
    assert response.status_code == 200
    assert rotated.webhook_url in body
    assert "customer.created" in body
    assert_no_secrets(response)


def test_manual_mode_shows_what_to_paste_into_stripe(staff_client, connection):
    connection.webhook_mode = Connection.WebhookMode.MANUAL
    connection.save()
    response = staff_client.get(
        reverse("admin:connections_connection_change", args=[connection.pk])
    )
    body = response.content.decode()
    assert "Developers &gt; Webhooks" in body
    assert f"<code>{connection.webhook_url}</code>" in body
    assert "<code>customer.created</code>" in body
    assert_no_secrets(response)


def test_the_add_page_renders(staff_client):
    response = staff_client.get(reverse("admin:connections_connection_add"))
    assert response.status_code == 200
    assert 'type="password"' in response.content.decode()


def test_adding_a_connection_validates_the_key_and_never_shows_it_again(
    staff_client, stripe_mock, caplog
):
    stripe_mock.get(f"{API}/v1/account", json=ACCOUNT)
    data = {
        "name": "Added",
        "new_key": NEW_KEY,
        "status": "active",
        "api_version": "2026-04-22.dahlia",
        "api_base": "",
        "webhook_mode": "automatic",
        "new_webhook_secret": "",
    }
    with caplog.at_level(logging.DEBUG):
        response = staff_client.post(reverse("admin:connections_connection_add"), data, follow=True)
    assert response.status_code == 200
    added = Connection.objects.get(name="Added")
    assert added.secret_key == NEW_KEY
    assert added.key_hint == "sk_test_...wxyz"
    assert added.account_id == "acct_1New"
    assert_no_secrets(response, NEW_KEY)
    page = staff_client.get(reverse("admin:connections_connection_change", args=[added.pk]))
    assert_no_secrets(page, NEW_KEY)
    assert NEW_KEY not in caplog.text


def test_a_refused_key_shows_the_problem_and_saves_nothing(staff_client, stripe_mock):
    stripe_mock.get(f"{API}/v1/account", status=401, json=stripe_error(401, "Invalid API Key"))
    data = {
        "name": "Refused",
        "new_key": NEW_KEY,
        "status": "active",
        "api_version": "2026-04-22.dahlia",
        "webhook_mode": "automatic",
    }
    response = staff_client.post(reverse("admin:connections_connection_add"), data)
    assert response.status_code == 200
    assert "Stripe refused the key (401" in response.content.decode()
    assert_no_secrets(response, NEW_KEY)
    assert not Connection.objects.filter(name="Refused").exists()


def test_a_pasted_manual_secret_is_stored_and_not_shown(staff_client, connection):
    pasted = "whsec_pasted_from_dashboard_0123456789"
    data = {
        "name": connection.name,
        "new_key": "",
        "status": "active",
        "api_version": connection.api_version,
        "api_base": "",
        "webhook_mode": "manual",
        "new_webhook_secret": pasted,
    }
    url = reverse("admin:connections_connection_change", args=[connection.pk])
    response = staff_client.post(url, data, follow=True)
    assert response.status_code == 200
    connection.refresh_from_db()
    assert connection.valid_webhook_secrets() == [pasted, WEBHOOK_SECRET]
    assert connection.secret_key == SECRET_KEY  # blank key field keeps the key
    assert_no_secrets(response, pasted)


def test_the_test_connection_action_reports_the_outcome(staff_client, connection, stripe_mock):
    stripe_mock.get(f"{API}/v1/account", status=401, json=stripe_error(401, "Expired API Key"))
    response = staff_client.post(
        reverse("admin:connections_connection_changelist"),
        {"action": "test_connection", "_selected_action": [connection.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Expired API Key" in response.content.decode()
    assert_no_secrets(response)


def test_the_sync_action_syncs_the_event_types_in_use(staff_client, connection, stripe_mock):
    stripe_mock.post(
        f"{ENDPOINTS_URL}/we_1Existing", json=endpoint_json("we_1Existing", connection=connection)
    )
    response = staff_client.post(
        reverse("admin:connections_connection_changelist"),
        {"action": "sync_endpoint", "_selected_action": [connection.pk]},
        follow=True,
    )
    assert "we_1Existing updated" in response.content.decode()
    assert_no_secrets(response)


def test_deleting_a_connection_deletes_its_endpoint_first(staff_client, connection, stripe_mock):
    stripe_mock.delete(
        f"{ENDPOINTS_URL}/we_1Existing", json={"id": "we_1Existing", "deleted": True}
    )
    url = reverse("admin:connections_connection_delete", args=[connection.pk])
    response = staff_client.post(url, {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert not Connection.objects.exists()


def test_deleting_says_so_when_the_endpoint_could_not_be_deleted(
    staff_client, connection, stripe_mock
):
    stripe_mock.delete(
        f"{ENDPOINTS_URL}/we_1Existing", status=401, json=stripe_error(401, "Expired API Key")
    )
    url = reverse("admin:connections_connection_delete", args=[connection.pk])
    response = staff_client.post(url, {"post": "yes"}, follow=True)
    body = response.content.decode()
    assert "we_1Existing could not be deleted in Stripe" in body
    assert not Connection.objects.exists()


def test_the_inbox_list_and_detail_render_with_a_pretty_payload(staff_client, connection, enqueued):
    event, _ = ingest(connection, make_event())
    ingest(connection, make_event(livemode=True))
    listing = staff_client.get(reverse("admin:connections_inboxevent_changelist"))
    assert listing.status_code == 200
    assert event.stripe_event_id in listing.content.decode()
    filtered = staff_client.get(
        reverse("admin:connections_inboxevent_changelist"),
        {"status__exact": "mode_mismatch", "connection__id__exact": str(connection.pk)},
    )
    assert filtered.status_code == 200
    assert event.stripe_event_id not in filtered.content.decode()
    detail = staff_client.get(reverse("admin:connections_inboxevent_change", args=[event.pk]))
    assert detail.status_code == 200
    assert "&quot;type&quot;: &quot;customer.created&quot;" in detail.content.decode()
    assert_no_secrets(listing)
    assert_no_secrets(detail)


def test_the_inbox_is_read_only(staff_client, connection, enqueued):
    event, _ = ingest(connection, make_event())
    assert staff_client.get(reverse("admin:connections_inboxevent_add")).status_code == 403
    url = reverse("admin:connections_inboxevent_change", args=[event.pk])
    staff_client.post(url, {"type": "changed"})
    event.refresh_from_db()
    assert event.type == "customer.created"


def test_dispatch_again_says_when_no_workflow_waits_for_the_event(
    staff_client, connection, enqueued, django_capture_on_commit_callbacks
):
    event, _ = ingest(connection, make_event())
    InboxEvent.objects.filter(pk=event.pk).update(status=InboxEvent.Status.DISPATCHED)
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:connections_inboxevent_changelist"),
            {"action": "dispatch_again_action", "_selected_action": [event.pk]},
            follow=True,
        )
    assert [str(message) for message in response.context["messages"]] == [
        f"{event.stripe_event_id}: No workflow of its connection waits for customer.created."
    ]
    event.refresh_from_db()
    assert event.status == InboxEvent.Status.IGNORED
    assert enqueued == []  # dispatched now, not queued
