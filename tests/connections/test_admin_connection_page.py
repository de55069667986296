"""A connection's admin pages: Stripe's terms in labels, a list that fits at 1280 px, and
the page's own Test connection and Sync webhook endpoint buttons (POSTs, with the list's
bulk actions' permission checks and services)."""

import pytest
from django.urls import reverse
from django.utils import timezone

from connections.models import Connection, InboxEvent

from .conftest import API, ENDPOINTS_URL, endpoint_json, stripe_error

pytestmark = pytest.mark.django_db

CONNECTIONS = "admin:connections_connection_changelist"


def change_url(connection: Connection) -> str:
    return reverse("admin:connections_connection_change", args=[connection.pk])


def test_fields_carry_stripes_terms():
    """What admin, the API's schema and forms show as labels: "API version", not "Api version"."""
    labels = {
        field.name: str(field.verbose_name)
        for model in (Connection, InboxEvent)
        for field in model._meta.get_fields()
        if hasattr(field, "verbose_name")
    }
    assert labels["api_version"] == "API version"
    assert labels["api_base"] == "API base"
    assert labels["key_hint"] == "API key"
    assert labels["secret_key"] == "API key"
    assert labels["account_id"] == "account ID"
    assert labels["webhook_endpoint_id"] == "webhook endpoint ID"
    assert labels["stripe_event_id"] == "event ID"
    assert labels["object_id"] == "object ID"
    assert labels["livemode"] == "live mode"
    for name, label in labels.items():
        assert not any(word in label.split() for word in ("api", "Api", "id", "Id")), name


def test_the_connection_page_labels_use_stripes_terms(staff_client, connection):
    html = staff_client.get(change_url(connection)).content.decode()

    assert '<label class="required" for="id_api_version">API version:</label>' in html
    assert '<label for="id_api_base">API base:</label>' in html
    assert '<label for="id_new_key">New API key:</label>' in html
    assert "<label>Webhook endpoint ID:</label>" in html
    assert "<label>Webhook URL:</label>" in html
    assert "Api version" not in html and "Api base" not in html and "Stripe key" not in html


def test_the_add_page_asks_for_the_api_key(staff_client):
    html = staff_client.get(reverse("admin:connections_connection_add")).content.decode()

    assert '<label class="required" for="id_new_key">API key:</label>' in html


def test_the_list_shows_what_matters_compactly(staff_client, connection):
    """Five columns: name over account, key over mode, key and webhook status one over the
    other, the last event as "... ago", problems cut short (the page has them in full)."""
    problem = "Stripe refused the key: " + "x" * 300
    Connection.objects.filter(pk=connection.pk).update(
        last_event_at=timezone.now() - timezone.timedelta(hours=3),
        status_message=problem,
        status=Connection.Status.INVALID,
    )

    response = staff_client.get(reverse(CONNECTIONS))

    headers = [str(header["text"]) for header in response.context["result_headers"]]
    assert headers[1:] == ["Connection", "API key", "Status", "Last event", "Problems"]
    html = response.content.decode()
    link = reverse("admin:connections_connection_change", args=[connection.pk])
    assert f'<a href="{link}">Main test account</a>' in html
    assert "Test Shop (acct_1Test)</div>" in html
    assert "sk_test_...ykey</span>" in html and ">Test</span>" in html
    assert ">Invalid</span></div>" in html and ">Enabled</span></div>" in html
    assert ">3\xa0hours ago</span>" in html
    assert f'title="{problem}"' in html
    assert f">{problem[:159]}…</div>" in html


def test_the_page_offers_test_and_sync_to_who_may_use_the_connection(staff_client, connection):
    html = staff_client.get(change_url(connection)).content.decode()

    test = reverse("admin:connections_connection_test", args=[connection.pk])
    sync = reverse("admin:connections_connection_sync", args=[connection.pk])
    assert f'<form method="post" action="{test}">' in html
    assert f'<form method="post" action="{sync}">' in html
    assert ">Test connection</button>" in html and ">Sync webhook endpoint</button>" in html


def test_test_connection_on_the_page_checks_the_key_and_comes_back(
    staff_client, connection, stripe_mock
):
    stripe_mock.get(f"{API}/v1/account", status=401, json=stripe_error(401, "Invalid API Key"))

    response = staff_client.post(
        reverse("admin:connections_connection_test", args=[connection.pk]), follow=True
    )

    assert response.redirect_chain == [(change_url(connection), 302)]
    connection.refresh_from_db()
    assert connection.status == Connection.Status.INVALID
    [message] = [str(m) for m in response.context["messages"]]
    assert message.startswith(f"{connection.name}: ") and "401" in message


def test_sync_on_the_page_syncs_the_endpoint_and_comes_back(staff_client, connection, stripe_mock):
    stripe_mock.post(
        f"{ENDPOINTS_URL}/we_1Existing", json=endpoint_json("we_1Existing", connection=connection)
    )

    response = staff_client.post(
        reverse("admin:connections_connection_sync", args=[connection.pk]), follow=True
    )

    assert response.redirect_chain == [(change_url(connection), 302)]
    connection.refresh_from_db()
    assert connection.webhook_synced_at is not None


@pytest.mark.parametrize("button", ["test", "sync"])
@pytest.mark.parametrize(
    "codenames",
    [("view_connection",), ("view_connection", "change_connection")],
    ids=["view-only", "change-without-use"],
)
def test_staff_who_may_not_use_the_key_neither_see_nor_press_the_buttons(
    staff_as, connection, stripe_mock, button, codenames
):
    client = staff_as(*codenames)

    html = client.get(change_url(connection)).content.decode()
    response = client.post(reverse(f"admin:connections_connection_{button}", args=[connection.pk]))

    assert "Test connection</button>" not in html and "Sync webhook endpoint</button>" not in html
    assert response.status_code == 403
    assert len(stripe_mock.calls) == 0
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE and not connection.webhook_synced_at


@pytest.mark.parametrize("button", ["test", "sync"])
def test_the_buttons_answer_only_posts(staff_client, connection, stripe_mock, button):
    url = reverse(f"admin:connections_connection_{button}", args=[connection.pk])

    assert staff_client.get(url).status_code == 405
    assert len(stripe_mock.calls) == 0


def test_the_buttons_need_the_csrf_token(client, django_user_model, connection, stripe_mock):
    from django.test import Client

    user = django_user_model.objects.create_superuser("csrf", "c@example.com", "pw-123456!")
    checked = Client(enforce_csrf_checks=True)
    checked.force_login(user)

    response = checked.post(reverse("admin:connections_connection_test", args=[connection.pk]))

    assert response.status_code == 403
    assert len(stripe_mock.calls) == 0


@pytest.mark.parametrize("pk", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_a_button_for_an_unknown_connection_is_a_404(staff_client, stripe_mock, pk):
    assert staff_client.post(f"/admin/connections/connection/{pk}/test/").status_code == 404
