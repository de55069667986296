"""Who a workflow alerts, edited in admin and the REST API: validated, errors on the field,
the same permissions as the rest of the workflow."""

import pytest
from django.urls import reverse

from tests.api.conftest import field_errors, grant, token_client
from workflows.models import MAX_ALERT_EMAILS, Workflow

from .conftest import make_workflow

pytestmark = pytest.mark.django_db

LIST = "/api/v1/workflows/"


def form_data(connection, **fields) -> dict:
    """What admin's form posts for a workflow without steps (alert_chat checked)."""
    data = {
        "name": "Alerting",
        "description": "",
        "connection": str(connection.pk),
        "trigger_key": "customer.created",
        "custom_event_type": "",
        "schedule_cron": "",
        "schedule_minutes": "",
        "filters": "[]",
        "alert_emails": "",
        "alert_chat": "on",
        "steps-TOTAL_FORMS": "0",
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
    }
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def api(django_user_model):
    user = django_user_model.objects.create_superuser("api-admin", "api@example.com", "pw-12345!")
    return token_client(user)


# --- admin -------------------------------------------------------------------------------


def test_admin_saves_addresses_one_per_line_or_comma_separated(staff_client, connection):
    emails = "ops@example.com\n billing@example.com, finance@example.com "
    response = staff_client.post(
        reverse("admin:workflows_workflow_add"),
        form_data(connection, alert_emails=emails, alert_chat=None),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    workflow = Workflow.objects.get()
    assert workflow.alert_emails == [
        "ops@example.com",
        "billing@example.com",
        "finance@example.com",
    ]
    assert workflow.alert_chat is False


def test_admin_shows_the_addresses_one_per_line_in_their_own_section(staff_client, connection):
    workflow = make_workflow(
        connection, "customer.created", [], alert_emails=["a@example.com", "b@example.com"]
    )

    page = staff_client.get(reverse("admin:workflows_workflow_change", args=[workflow.pk]))

    html = page.content.decode()
    assert "Alerts when a run fails" in html
    assert "a@example.com\nb@example.com</textarea>" in html
    assert 'name="alert_chat"' in html and "ALERT_CHAT_WEBHOOK_URL" in html


@pytest.mark.parametrize(
    ("emails", "message"),
    [
        ("ops@example.com, not-an-address", "Not an email address: 'not-an-address'."),
        ("ops@example.com\nOPS@example.com", "An address is listed twice."),
        (
            "\n".join(f"p{n}@example.com" for n in range(MAX_ALERT_EMAILS + 1)),
            f"At most {MAX_ALERT_EMAILS} addresses.",
        ),
    ],
)
def test_admin_refuses_bad_addresses_on_the_field(staff_client, connection, emails, message):
    response = staff_client.post(
        reverse("admin:workflows_workflow_add"), form_data(connection, alert_emails=emails)
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["alert_emails"] == [message]
    assert not Workflow.objects.exists()


def test_a_view_only_user_sees_the_alert_fields_but_cannot_change_them(staff_as, connection):
    workflow = make_workflow(connection, "customer.created", [], alert_emails=["a@example.com"])
    client = staff_as("view_workflow")
    url = reverse("admin:workflows_workflow_change", args=[workflow.pk])

    html = client.get(url).content.decode()
    assert "a@example.com" in html
    assert 'name="alert_emails"' not in html
    assert client.post(url, form_data(connection, alert_emails="x@example.com")).status_code == 403
    workflow.refresh_from_db()
    assert workflow.alert_emails == ["a@example.com"]


# --- REST API ----------------------------------------------------------------------------


def test_the_api_reads_and_writes_the_alert_fields(api, connection):
    body = {
        "name": "API alerts",
        "connection": str(connection.pk),
        "trigger_key": "customer.created",
        "alert_emails": ["ops@example.com"],
        "alert_chat": False,
    }
    created = api.post(LIST, body, format="json")
    assert created.status_code == 201, created.json()
    assert (created.json()["alert_emails"], created.json()["alert_chat"]) == (
        ["ops@example.com"],
        False,
    )

    url = f"{LIST}{created.json()['id']}/"
    patched = api.patch(url, {"alert_emails": []}, format="json")
    assert patched.status_code == 200
    assert api.get(url).json()["alert_emails"] == []
    assert Workflow.objects.get().alert_emails == []


def test_a_new_workflow_alerts_the_default_addresses_and_chat(api, connection):
    body = {"name": "Defaults", "connection": str(connection.pk), "trigger_key": "customer.created"}
    answer = api.post(LIST, body, format="json").json()
    assert (answer["alert_emails"], answer["alert_chat"]) == ([], True)


@pytest.mark.parametrize(
    ("emails", "field", "message"),
    [
        (["ops@example.com", "nope"], "alert_emails[1]", "Enter a valid email address."),
        (["a@example.com", "a@example.com"], "alert_emails", "An address is listed twice."),
        ("ops@example.com", "alert_emails", 'Expected a list of items but got type "str".'),
        (
            [f"p{n}@example.com" for n in range(MAX_ALERT_EMAILS + 1)],
            "alert_emails",
            f"Ensure this field has no more than {MAX_ALERT_EMAILS} elements.",
        ),
    ],
)
def test_the_api_refuses_bad_addresses_naming_the_field(api, connection, emails, field, message):
    workflow = make_workflow(connection, "customer.created", [])

    response = api.patch(f"{LIST}{workflow.pk}/", {"alert_emails": emails}, format="json")

    assert response.status_code == 400
    assert field_errors(response) == {field: message}
    workflow.refresh_from_db()
    assert workflow.alert_emails == []


def test_the_api_needs_the_change_permission_to_edit_alerts(django_user_model, connection):
    user = django_user_model.objects.create_user("viewer", password="pw-12345!")
    grant(user, "view_workflow")
    workflow = make_workflow(connection, "customer.created", [])
    client = token_client(user)

    assert client.get(f"{LIST}{workflow.pk}/").json()["alert_chat"] is True
    response = client.patch(f"{LIST}{workflow.pk}/", {"alert_chat": False}, format="json")

    assert response.status_code == 403
    workflow.refresh_from_db()
    assert workflow.alert_chat is True
