"""Admin's Export button, Import a workflow page and Copy to a live connection page."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from connections.credentials import Credential
from connections.models import Connection
from tests.support.factories import make_connection
from workflows import portable, services
from workflows.models import Workflow

from .conftest import make_workflow

pytestmark = pytest.mark.django_db

TEST_PRICE = "price_1AdminTestPrice01"
LIVE_PRICE = "price_1AdminLivePrice01"
STEPS = [
    ("find", "find_customer", {"id": "{{ trigger.data.object.id }}"}),
    ("tag", "update_customer", {"id": "{{ steps.find.id }}", "metadata": {"price": TEST_PRICE}}),
]
EDIT = ("view_workflow", "add_workflow", "change_workflow", "view_step", "add_step", "change_step")


@pytest.fixture
def workflow(connection) -> Workflow:
    return make_workflow(connection, "customer.updated", STEPS, active=False, name="Tag buyers")


@pytest.fixture
def live(db) -> Connection:
    return make_connection(
        name="Live shop",
        secret_key="sk_live_"
        + "51AdminLiveKey000000000000000000000000000000000wxyz",  # built, not a literal key
        webhook_secret="whsec_admin_live_0123456789abcdef",
        mode=Connection.Mode.LIVE,
    )


def change_page(client, workflow) -> str:
    response = client.get(reverse("admin:workflows_workflow_change", args=[workflow.pk]))
    assert response.status_code == 200
    return response.content.decode()


def export_url(workflow) -> str:
    return reverse("admin:workflows_workflow_export", args=[workflow.pk])


def copy_url(workflow) -> str:
    return reverse("admin:workflows_workflow_copy_to_live", args=[workflow.pk])


IMPORT = "/admin/workflows/workflow/import/"


# -- export ------------------------------------------------------------------------------


def test_export_downloads_the_document(staff_as, workflow):
    client = staff_as("view_workflow", "view_step")
    assert f'href="{export_url(workflow)}"' in change_page(client, workflow)
    response = client.get(export_url(workflow))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="tag-buyers.workflow.json"'
    assert response.content.decode() == portable.export_text(workflow)


def test_export_needs_to_view_the_workflow(staff_as, workflow):
    assert staff_as("view_connection").get(export_url(workflow)).status_code == 403


# -- import ------------------------------------------------------------------------------


def test_the_list_offers_import_to_who_may_add_and_use_connections(staff_as, workflow):
    client = staff_as("view_workflow", "add_workflow")
    listing = reverse("admin:workflows_workflow_changelist")
    assert IMPORT not in client.get(listing).content.decode()
    assert client.get(IMPORT).status_code == 403
    client = staff_as("use_connection")
    assert IMPORT in client.get(listing).content.decode()
    assert client.get(IMPORT).status_code == 200


def test_importing_a_file_opens_the_new_inactive_workflow(staff_as, workflow, connection):
    client = staff_as(*EDIT, "use_connection")
    upload = SimpleUploadedFile(
        "tag.workflow.json", portable.export_text(workflow).encode(), "application/json"
    )
    response = client.post(IMPORT, {"connection": str(connection.pk), "file": upload})
    imported = Workflow.objects.exclude(pk=workflow.pk).get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:workflows_workflow_change", args=[imported.pk])
    assert not imported.active
    assert portable.export_text(imported) == portable.export_text(workflow)
    page = client.get(response["Location"]).content.decode()
    assert "Imported Tag buyers onto Workflows test account (inactive)" in page


def test_import_lists_the_problems_by_path(staff_as, workflow, connection):
    client = staff_as(*EDIT, "use_connection")
    document = portable.export_document(workflow)
    document["version"] = 9
    document["workflow"]["steps"][1]["action_key"] = "launch_rocket"
    del document["workflow"]["steps"][1]["input"]
    response = client.post(IMPORT, {"connection": str(connection.pk), "text": json.dumps(document)})
    assert response.status_code == 200
    assert response.context["problems"] == [
        ("version", "Version 9 is not supported: this version reads 1.")
    ]
    document["version"] = 1
    response = client.post(IMPORT, {"connection": str(connection.pk), "text": json.dumps(document)})
    html = response.content.decode()
    assert 'id="import-problems"' in html
    assert "<code>workflow.steps[1].action_key</code>" in html
    assert Workflow.objects.count() == 1


def test_import_refuses_text_that_is_not_json_or_both_or_neither(staff_as, connection):
    client = staff_as(*EDIT, "use_connection")
    response = client.post(IMPORT, {"connection": str(connection.pk), "text": "{nope"})
    assert "Not a JSON document" in response.context["form"].errors["text"][0]
    response = client.post(IMPORT, {"connection": str(connection.pk)})
    assert response.context["form"].non_field_errors() == [
        "Choose a file or paste the JSON (one of them)."
    ]
    assert not Workflow.objects.exists()


# -- copy to a live connection ------------------------------------------------------------------


def test_a_test_workflow_offers_copying_to_who_may_add_change_and_use(staff_as, workflow, live):
    assert copy_url(workflow) not in change_page(staff_as(*EDIT), workflow)
    client = staff_as("use_connection")
    assert copy_url(workflow) in change_page(client, workflow)
    live_workflow = make_workflow(live, "customer.updated", [], active=False, name="Live one")
    assert copy_url(live_workflow) not in change_page(client, live_workflow)
    response = client.get(copy_url(live_workflow))
    assert 'id="copy-refusal"' in response.content.decode()


def test_copying_needs_the_use_of_connections(staff_as, workflow, live):
    assert staff_as(*EDIT).get(copy_url(workflow)).status_code == 403


def test_copying_needs_to_add_workflows(staff_as, workflow, live):
    client = staff_as("view_workflow", "change_workflow", "use_connection")
    assert client.get(copy_url(workflow)).status_code == 403


def test_preview_then_copy_then_copy_again_over_an_active_copy(staff_as, workflow, live):
    client = staff_as(*EDIT, "use_connection")
    page = client.get(copy_url(workflow), {"connection": str(live.pk)})
    html = page.content.decode()
    assert page.context["preview"]["live_copy"] is None
    assert f'name="replace_{TEST_PRICE}"' in html
    assert "steps[tag].input.metadata.price" in html

    form = {"connection": str(live.pk), f"replace_{TEST_PRICE}": LIVE_PRICE, "_copy": "1"}
    response = client.post(copy_url(workflow), form)  # not confirmed
    assert response.context["problems"][0][0] == "confirm_live"
    assert not Workflow.objects.filter(copied_from=workflow).exists()

    response = client.post(copy_url(workflow), {**form, "confirm_live": "yes"})
    copy = Workflow.objects.get(copied_from=workflow)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:workflows_workflow_change", args=[copy.pk])
    assert (copy.connection, copy.active) == (live, False)
    assert copy.steps.get(name="tag").input_mapping["metadata"]["price"] == LIVE_PRICE

    services.set_active(copy, True)
    tag = workflow.steps.get(name="tag")
    tag.input_mapping = {**tag.input_mapping, "description": "seen"}
    tag.save()
    page = client.get(copy_url(workflow), {"connection": str(live.pk)})
    html = page.content.decode()
    assert 'id="copy-will-deactivate"' in html
    assert f'value="{LIVE_PRICE}"' in html  # the live copy's id, suggested
    assert page.context["differences"] == [
        {"path": "steps[tag].input.description", "live": "(none)", "test": '"seen"'}
    ]  # the price is copied with the live copy's id, suggested
    response = client.post(copy_url(workflow), {**form, "confirm_live": "yes"}, follow=True)
    assert "It was active: it is now inactive." in response.content.decode()
    copy.refresh_from_db()
    assert not copy.active
    assert Workflow.objects.filter(copied_from=workflow).count() == 1


def test_a_missing_or_wrong_replacement_is_listed_and_marked(staff_as, workflow, live):
    client = staff_as(*EDIT, "use_connection")
    form = {"connection": str(live.pk), "_copy": "1", "confirm_live": "yes"}
    response = client.post(copy_url(workflow), form)
    assert [path for path, _ in response.context["problems"]] == ["replacements"]
    assert response.context["ids"][0]["wrong"] is True
    response = client.post(copy_url(workflow), {**form, f"replace_{TEST_PRICE}": "cus_12345678"})
    assert [path for path, _ in response.context["problems"]] == [f"replacements.{TEST_PRICE}"]
    assert 'class="wrong"' in response.content.decode()
    assert not Workflow.objects.filter(copied_from=workflow).exists()


def test_a_test_mode_target_is_refused(staff_as, workflow, connection):
    client = staff_as(*EDIT, "use_connection")
    response = client.get(copy_url(workflow), {"connection": str(connection.pk)})
    assert [path for path, _ in response.context["problems"]] == ["connection"]
    assert "preview" not in response.context


# -- export needs the steps' view; import's credentials, BOM, alert addresses ------------------


def test_export_needs_to_view_the_steps_as_the_change_page_does(staff_as, workflow):
    client = staff_as("view_workflow")
    page = change_page(client, workflow)
    assert "Seeing them needs the permission to view steps" in page
    assert export_url(workflow) not in page
    assert client.get(export_url(workflow)).status_code == 403
    client = staff_as("change_step")  # change implies view, as for the page's steps
    assert export_url(workflow) in change_page(client, workflow)
    assert client.get(export_url(workflow)).status_code == 200


def http_document(credential: str = "crm") -> dict:
    return {
        "format": "konnectify.workflow",
        "version": 1,
        "workflow": {
            "name": "Tell the CRM",
            "description": "",
            "trigger_key": "customer.created",
            "custom_event_type": "",
            "schedule_cron": "",
            "schedule_minutes": None,
            "filters": [],
            "alert_emails": ["them@example.org"],
            "alert_chat": True,
            "steps": [
                {
                    "name": "tell",
                    "action_key": "http_request",
                    "input": {
                        "method": "POST",
                        "url": "https://crm.example.com/hooks",
                        "credential": credential,
                        "json_body": {"customer": "{{ trigger.data.object.id }}"},
                    },
                    "on_failure": "stop",
                    "condition": [],
                    "condition_match": "all",
                    "for_each": "",
                    "max_items": 100,
                }
            ],
        },
    }


def test_a_credential_the_importer_may_not_use_is_listed_by_path_with_the_text_kept(
    staff_as, connection
):
    Credential.objects.create(
        name="crm", secret="tok-abcdefghijklmnop", allowed_hosts="crm.example.com"
    )
    client = staff_as(*EDIT, "use_connection")
    text = json.dumps(http_document())
    response = client.post(IMPORT, {"connection": str(connection.pk), "text": text})
    assert response.status_code == 200
    assert [path for path, _ in response.context["problems"]] == [
        "workflow.steps[0].input.credential"
    ]
    assert "'crm'" in response.context["problems"][0][1]
    assert response.context["form"]["text"].value() == text  # the pasted document is still there
    assert not Workflow.objects.exists()


def test_a_credential_that_does_not_exist_is_listed_by_path(staff_as, connection):
    client = staff_as(*EDIT, "use_connection", "use_credential")
    response = client.post(
        IMPORT, {"connection": str(connection.pk), "text": json.dumps(http_document("nope"))}
    )
    assert [path for path, _ in response.context["problems"]] == [
        "workflow.steps[0].input.credential"
    ]
    assert not Workflow.objects.exists()


def test_a_file_or_text_starting_with_a_byte_order_mark_is_imported(staff_as, workflow, connection):
    client = staff_as(*EDIT, "use_connection")
    text = portable.export_text(workflow)
    upload = SimpleUploadedFile(
        "w.workflow.json", b"\xef\xbb\xbf" + text.encode(), "application/json"
    )
    response = client.post(IMPORT, {"connection": str(connection.pk), "file": upload})
    assert response.status_code == 302
    response = client.post(IMPORT, {"connection": str(connection.pk), "text": "\ufeff" + text})
    assert response.status_code == 302
    assert Workflow.objects.count() == 3


def test_the_alert_addresses_are_imported_only_when_ticked(staff_as, connection):
    Credential.objects.create(
        name="crm", secret="tok-abcdefghijklmnop", allowed_hosts="crm.example.com"
    )
    client = staff_as(*EDIT, "use_connection", "use_credential")
    text = json.dumps(http_document())
    response = client.post(IMPORT, {"connection": str(connection.pk), "text": text}, follow=True)
    assert Workflow.objects.get().alert_emails == []
    assert "them@example.org" in response.content.decode()  # the warning names them
    client.post(IMPORT, {"connection": str(connection.pk), "text": text, "keep_alert_emails": "on"})
    assert Workflow.objects.order_by("pk").last().alert_emails == ["them@example.org"]


def test_the_copy_page_shows_when_the_live_copy_holds_a_list_where_the_test_has_an_id(
    staff_as, workflow, live, django_user_model
):
    client = staff_as(*EDIT, "use_connection")
    workflow.filters = [
        {"path": "data.object.customer", "op": "equals", "value": "cus_TestBuyer00001"}
    ]
    services.save_workflow(workflow)
    replacements = {TEST_PRICE: LIVE_PRICE, "cus_TestBuyer00001": "cus_LiveBuyer00001"}
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-123456!")
    copy = portable.promote(workflow, live, root, replacements)
    Workflow.objects.filter(pk=copy.pk).update(
        filters=[{"path": "data.object.customer", "op": "in", "value": []}]
    )
    page = client.get(copy_url(workflow), {"connection": str(live.pk)})
    assert page.status_code == 200
    ids = {item["id"]: item["value"] for item in page.context["ids"]}
    assert ids == {TEST_PRICE: LIVE_PRICE, "cus_TestBuyer00001": ""}
