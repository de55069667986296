"""The workflow's admin page and the API: a trigger's own fields, schedule errors on their
fields, no preselected trigger, Activate / Deactivate buttons, the sample event after the steps.
"""

import pytest
from django.urls import reverse

from stripe_connector.catalog import get_trigger
from tests.api.conftest import field_errors, token_client
from workflows.models import Workflow

from .conftest import API, make_workflow

pytestmark = pytest.mark.django_db

LIST = "/api/v1/workflows/"
FIND_STEP = [("find", "find_customer", {"id": "{{ trigger.data.object.id }}"})]


def form_data(connection, **fields) -> dict:
    """What admin's form posts for a workflow without steps."""
    data = {
        "name": "Page test",
        "description": "",
        "connection": str(connection.pk),
        "trigger_key": "customer.created",
        "custom_event_type": "",
        "schedule_cron": "",
        "schedule_minutes": "",
        "filters": "[]",
        "steps-TOTAL_FORMS": "0",
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
    }
    data.update(fields)
    return data


def add(client, connection, **fields):
    return client.post(reverse("admin:workflows_workflow_add"), form_data(connection, **fields))


def form_errors(response) -> dict:
    assert response.status_code == 200, "expected the form again, with errors"
    return response.context["adminform"].form.errors


@pytest.fixture
def api(django_user_model):
    user = django_user_model.objects.create_superuser("api-admin", "api@example.com", "pw-1234567!")
    return token_client(user)


def api_body(connection, **fields) -> dict:
    return {
        "name": "API page test",
        "connection": str(connection.pk),
        "trigger_key": "customer.created",
        "steps": [],
        **fields,
    }


# --- a trigger's own fields --------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger_key", "field", "value"),
    [
        ("customer.created", "schedule_cron", "garbage"),
        ("customer.created", "schedule_minutes", "5"),
        ("customer.created", "custom_event_type", "charge.refunded"),
        ("schedule", "custom_event_type", "charge.refunded"),
        ("custom", "schedule_cron", "*/5 * * * *"),
    ],
)
def test_admin_refuses_a_field_of_another_trigger_kind_on_that_field(
    staff_client, connection, trigger_key, field, value
):
    own = {"schedule": {"schedule_minutes": "5"}, "custom": {"custom_event_type": "a.b"}}
    fields = {"trigger_key": trigger_key, **own.get(trigger_key, {}), field: value}

    errors = form_errors(add(staff_client, connection, **fields))

    assert list(errors) == [field]
    assert "leave it empty" in errors[field][0]
    assert not Workflow.objects.exists()


@pytest.mark.parametrize(
    ("trigger_key", "field", "value"),
    [
        ("customer.created", "schedule_cron", "garbage"),
        ("customer.created", "schedule_minutes", 5),
        ("schedule", "custom_event_type", "charge.refunded"),
    ],
)
def test_the_api_refuses_a_field_of_another_trigger_kind_naming_it(
    api, connection, trigger_key, field, value
):
    own = {"schedule": {"schedule_minutes": 5}}
    body = api_body(
        connection, trigger_key=trigger_key, **own.get(trigger_key, {}), **{field: value}
    )

    response = api.post(LIST, body, format="json")

    assert response.status_code == 400
    assert list(field_errors(response)) == [field]
    assert "leave it empty" in field_errors(response)[field]
    assert not Workflow.objects.exists()


def test_changing_the_trigger_in_the_api_clears_the_old_kinds_stored_fields(api, connection):
    workflow = make_workflow(connection, "schedule", [], active=False, schedule_cron="0 * * * *")

    response = api.patch(
        f"{LIST}{workflow.pk}/", {"trigger_key": "customer.created"}, format="json"
    )

    assert response.status_code == 200, response.content
    workflow.refresh_from_db()
    assert (workflow.trigger_key, workflow.schedule_cron) == ("customer.created", "")
    assert response.json()["schedule_cron"] == ""


def test_the_page_tells_the_browser_which_fields_each_trigger_kind_shows(staff_client):
    page = staff_client.get(reverse("admin:workflows_workflow_add"))
    config = page.context["trigger_fields"]

    assert config["kinds"]["schedule"] == ["schedule_cron", "schedule_minutes"]
    assert config["kinds"]["custom"] == ["custom_event_type"]
    assert config["kinds"]["catalog"] == []
    assert config["keys"] == {"schedule": "schedule", "custom": "custom"}
    content = page.content.decode()
    assert 'id="workflow-trigger-fields"' in content
    assert "workflows/workflow_page.js" in content


# --- schedule errors on their fields ----------------------------------------------------


def test_a_schedule_without_cron_or_minutes_is_an_error_on_both_fields_in_admin(
    staff_client, connection
):
    response = add(staff_client, connection, trigger_key="schedule")

    errors = form_errors(response)
    needs = "A schedule needs either a cron expression or minutes."
    assert errors["schedule_cron"] == [needs] and errors["schedule_minutes"] == [needs]
    assert not response.context["adminform"].form.non_field_errors()


def test_an_invalid_cron_is_an_error_on_the_cron_field_in_admin_and_the_api(
    staff_client, api, connection
):
    errors = form_errors(add(staff_client, connection, trigger_key="schedule", schedule_cron="x"))
    assert errors == {"schedule_cron": ["Not a valid cron expression."]}

    response = api.post(
        LIST, api_body(connection, trigger_key="schedule", schedule_cron="x"), format="json"
    )
    assert field_errors(response) == {"schedule_cron": "Not a valid cron expression."}


def test_cron_and_minutes_together_are_refused_on_both_fields(api, connection):
    body = api_body(
        connection, trigger_key="schedule", schedule_cron="0 * * * *", schedule_minutes=5
    )
    errors = field_errors(api.post(LIST, body, format="json"))
    assert set(errors) == {"schedule_cron", "schedule_minutes"}


def test_a_valid_schedule_saves_in_admin(staff_client, connection):
    response = add(staff_client, connection, trigger_key="schedule", schedule_cron="0 * * * *")

    assert response.status_code == 302
    workflow = Workflow.objects.get()
    assert (workflow.schedule_cron, workflow.schedule_minutes, workflow.event_type) == (
        "0 * * * *",
        None,
        "",
    )


# --- no preselected trigger ----------------------------------------------------------------


def test_the_add_form_starts_with_no_trigger_chosen(staff_client, connection):
    page = staff_client.get(reverse("admin:workflows_workflow_add"))
    field = page.context["adminform"].form["trigger_key"]

    assert field.value() in (None, "")
    assert '<option value="" selected>' in str(field)
    assert "Runs per day" not in page.content.decode()  # no runs before it exists
    errors = form_errors(add(staff_client, connection, trigger_key=""))
    assert errors["trigger_key"] == ["This field is required."]


# --- Activate / Deactivate --------------------------------------------------------------------


def change_page(client, workflow) -> str:
    response = client.get(reverse("admin:workflows_workflow_change", args=[workflow.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_activate_button_activates_and_the_deactivate_button_deactivates(
    staff_as, staff, connection
):
    client = staff_as("view_workflow", "change_workflow", "use_connection")
    workflow = make_workflow(connection, "customer.updated", FIND_STEP, active=False)
    activate = reverse("admin:workflows_workflow_activate", args=[workflow.pk])
    deactivate = reverse("admin:workflows_workflow_deactivate", args=[workflow.pk])

    assert f'action="{activate}"' in change_page(client, workflow)
    assert client.get(activate).status_code == 405
    response = client.post(activate)

    assert response.status_code == 302
    workflow.refresh_from_db()
    assert workflow.active and workflow.owner == staff
    page = change_page(client, workflow)
    assert f'action="{deactivate}"' in page and f'action="{activate}"' not in page

    client.post(deactivate)
    workflow.refresh_from_db()
    assert not workflow.active


def test_without_the_use_permission_no_activate_button_and_posting_is_403(staff_as, connection):
    client = staff_as("view_workflow", "change_workflow")
    workflow = make_workflow(connection, "customer.updated", FIND_STEP, active=False)
    activate = reverse("admin:workflows_workflow_activate", args=[workflow.pk])

    assert activate not in change_page(client, workflow)
    assert client.post(activate).status_code == 403
    workflow.refresh_from_db()
    assert not workflow.active


def test_a_view_only_user_can_neither_activate_nor_deactivate(staff_as, connection):
    client = staff_as("view_workflow", "use_connection")
    workflow = make_workflow(connection, "customer.updated", FIND_STEP, active=True)
    deactivate = reverse("admin:workflows_workflow_deactivate", args=[workflow.pk])

    assert deactivate not in change_page(client, workflow)
    assert client.post(deactivate).status_code == 403
    workflow.refresh_from_db()
    assert workflow.active


def test_the_buttons_need_the_csrf_token(connection, django_user_model):
    from django.test import Client

    user = django_user_model.objects.create_superuser("csrf", "c@example.com", "pw-1234567!")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    workflow = make_workflow(connection, "customer.updated", FIND_STEP, active=False)

    response = client.post(reverse("admin:workflows_workflow_activate", args=[workflow.pk]))

    assert response.status_code == 403
    workflow.refresh_from_db()
    assert not workflow.active


# --- the sample event --------------------------------------------------------------------------


def test_the_sample_is_collapsed_searchable_and_after_the_steps(staff_client, connection):
    workflow = make_workflow(connection, "customer.updated", FIND_STEP, active=False)
    page = change_page(staff_client, workflow)
    sample_id = get_trigger("customer.updated").sample["data"]["object"]["id"]

    assert '<details id="sample-details">' in page  # not open
    assert 'id="sample-filter"' in page
    assert "{{ trigger.data.object.id }}" in page and f"&quot;{sample_id}&quot;" in page
    assert page.index('id="steps-group"') < page.index('id="workflow-sample"')
    assert page.index('id="workflow-sample"') > page.index("Runs per day")


def test_the_catalog_sample_is_named_and_offers_load_sample_event(staff_client, connection, stripe):
    workflow = make_workflow(connection, "customer.updated", FIND_STEP, active=False)
    page = change_page(staff_client, workflow)
    assert "catalog's made-up sample" in page
    assert 'form="workflow-load-sample"' in page
    latest = {"id": "evt_real", "type": "customer.updated", "data": {"object": {"id": "cus_R"}}}
    stripe.get(f"{API}/v1/events", json={"object": "list", "data": [latest], "has_more": False})

    url = reverse("admin:workflows_workflow_load_sample", args=[workflow.pk])
    response = staff_client.post(url)

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:workflows_workflow_change", args=[workflow.pk])
    workflow.refresh_from_db()
    assert workflow.sample_event == latest
    page = change_page(staff_client, workflow)
    assert "catalog's made-up sample" not in page
    assert "{{ trigger.data.object.id }}" in page and "&quot;cus_R&quot;" in page


def test_a_catalog_fallback_sample_still_counts_as_made_up(staff_client, connection, stripe):
    workflow = make_workflow(connection, "customer.updated", FIND_STEP, active=False)
    stripe.get(f"{API}/v1/events", json={"object": "list", "data": [], "has_more": False})

    staff_client.post(reverse("admin:workflows_workflow_load_sample", args=[workflow.pk]))

    workflow.refresh_from_db()
    assert workflow.sample_event
    assert "catalog's made-up sample" in change_page(staff_client, workflow)


def test_loading_a_sample_for_one_workflow_needs_the_use_permission(staff_as, connection, stripe):
    client = staff_as("view_workflow", "change_workflow")
    workflow = make_workflow(connection, "customer.updated", FIND_STEP, active=False)
    url = reverse("admin:workflows_workflow_load_sample", args=[workflow.pk])

    assert url not in change_page(client, workflow)
    assert client.post(url).status_code == 403
    assert len(stripe.calls) == 0
