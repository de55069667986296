"""A credential's secret goes only where its rules say: to the hosts it allows, for users
who may use it at every entry point that makes runs (save, re-run, resume, dispatch
again), never chosen by event data, and never signed for a second origin."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from connections.credentials import Credential, parse_allowed_hosts
from connections.outbound import HttpClient
from stripe_connector.outbound import OutboundRefused
from tests.http_steps import test_engine_http as engine_tests
from tests.http_steps.server import Answer, echo, http_server
from tests.support.factories import make_workflow
from workflows import tryout
from workflows.models import Run, RunStatus, Step

pytestmark = pytest.mark.django_db

# Fixtures shared with the engine's tests.
connection = engine_tests.connection
crm = engine_tests.crm
run_on = engine_tests.run_on
sync_tasks = engine_tests.sync_tasks
http_step = engine_tests.http_step
owner_with = engine_tests.owner_with
TOKEN = engine_tests.TOKEN


def every_right_but_the_credential(django_user_model, name="mallory"):
    """A staff user with every permission except ``use_credential``."""
    user = django_user_model.objects.create_user(name, password="x-123456!", is_staff=True)
    user.user_permissions.add(*Permission.objects.exclude(codename="use_credential"))
    return django_user_model.objects.get(pk=user.pk)


@pytest.fixture
def failed_run(connection, crm, server, allow_loopback, run_on, django_user_model):
    """A failed run of a workflow whose HTTP step sends with ``crm``, owned by a user who
    may use it; the server then echoes."""
    owner = owner_with(django_user_model, "use_connection", "use_credential")
    workflow = make_workflow(
        connection, "customer.updated", [http_step(server.url, credential="crm")], owner=owner
    )
    workflow.active = True
    workflow.save(update_fields=["active"])
    server.answer(Answer(status=400, body=b'{"e":1}'))
    run = Run.objects.get(pk=run_on(workflow).run_id)
    assert run.status == RunStatus.FAILED
    server.answer(echo)
    return run


def sent_tokens(server, since: int) -> list:
    return [seen.header("Authorization") for seen in server.seen[since:]]


# -- replaying: the replayer needs the credential too ------------------------------------


@pytest.mark.parametrize("kind", ["rerun", "resume"])
def test_api_replay_needs_the_credential(
    failed_run, server, django_user_model, django_capture_on_commit_callbacks, kind
):
    api = APIClient()
    api.force_authenticate(every_right_but_the_credential(django_user_model))
    before = len(server.seen)
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(f"/api/v1/runs/{failed_run.pk}/{kind}/")
    assert answer.status_code == 403
    assert "may not use credential 'crm'" in answer.json()["message"]
    assert sent_tokens(server, before) == []
    assert Run.objects.count() == 1


def test_api_rerun_by_a_user_who_may_use_the_credential_sends_it(
    failed_run, server, django_user_model, django_capture_on_commit_callbacks
):
    trusted = django_user_model.objects.create_user("trusted", password="x-123456!")
    trusted.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["use_connection", "use_credential", "add_run", "view_run"]
        )
    )
    api = APIClient()
    api.force_authenticate(django_user_model.objects.get(pk=trusted.pk))
    before = len(server.seen)
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(f"/api/v1/runs/{failed_run.pk}/rerun/")
    assert answer.status_code == 201, answer.content
    assert sent_tokens(server, before) == [f"Bearer {TOKEN}"]


@pytest.mark.parametrize("action", ["rerun_selected", "resume_selected"])
def test_admin_replay_needs_the_credential(
    failed_run, server, client, django_user_model, django_capture_on_commit_callbacks, action
):
    client.force_login(every_right_but_the_credential(django_user_model))
    before = len(server.seen)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(
            reverse("admin:workflows_run_changelist"),
            {"action": action, "_selected_action": [failed_run.pk], "confirm": "yes"},
        )
    assert answer.status_code == 403
    assert sent_tokens(server, before) == []
    assert Run.objects.count() == 1


def test_api_dispatch_again_needs_the_credential(
    failed_run, server, django_user_model, django_capture_on_commit_callbacks
):
    api = APIClient()
    api.force_authenticate(every_right_but_the_credential(django_user_model))
    before = len(server.seen)
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post(f"/api/v1/events/{failed_run.event_id}/dispatch-again/")
    assert answer.status_code == 403
    assert "may not use credential 'crm'" in answer.json()["message"]
    assert sent_tokens(server, before) == []


@pytest.mark.parametrize("way", ["button", "bulk action", "re-run button"])
def test_admin_dispatch_again_needs_the_credential(
    failed_run, server, client, django_user_model, django_capture_on_commit_callbacks, way
):
    client.force_login(every_right_but_the_credential(django_user_model))
    event = failed_run.event
    before = len(server.seen)
    with django_capture_on_commit_callbacks(execute=True):
        if way == "button":
            url = reverse("admin:connections_inboxevent_dispatch_again", args=[event.pk])
            answer = client.post(url)
        elif way == "re-run button":
            url = reverse("admin:connections_inboxevent_rerun", args=[event.pk])
            answer = client.post(url, {"run": [failed_run.pk]})
        else:
            answer = client.post(
                reverse("admin:connections_inboxevent_changelist"),
                {"action": "dispatch_again_action", "_selected_action": [event.pk]},
            )
    assert answer.status_code == 403
    assert sent_tokens(server, before) == []
    assert Run.objects.count() == 1


# -- saving: the steps being saved are checked --------------------------------------------


def test_api_save_checks_the_credentials_of_the_new_steps(connection, crm, django_user_model):
    user = every_right_but_the_credential(django_user_model)
    workflow = make_workflow(
        connection, "customer.updated", [http_step("https://crm.example.com/hook")], owner=user
    )
    api = APIClient()
    api.force_authenticate(user)
    step = {
        "name": "call",
        "action_key": "http_request",
        "input": {"method": "POST", "url": "https://evil.example/", "credential": "crm"},
    }
    answer = api.patch(f"/api/v1/workflows/{workflow.pk}/", {"steps": [step]}, format="json")
    assert answer.status_code == 403, answer.content
    assert "may not use credential 'crm'" in answer.json()["message"]
    assert Step.objects.get(workflow=workflow).input_mapping.get("credential") is None


# -- a credential is a literal name --------------------------------------------------------


def test_api_save_refuses_a_reference_as_the_credential(connection, crm, django_user_model):
    user = owner_with(django_user_model, "use_connection", "use_credential")
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="workflows"))
    user = django_user_model.objects.get(pk=user.pk)
    api = APIClient()
    api.force_authenticate(user)
    body = {
        "name": "CRM",
        "connection": str(connection.pk),
        "trigger_key": "customer.updated",
        "steps": [
            {
                "name": "call",
                "action_key": "http_request",
                "input": {
                    "method": "POST",
                    "url": "https://crm.example.com/",
                    "credential": "{{ trigger.data.object.metadata.cred }}",
                },
            }
        ],
    }
    answer = api.post("/api/v1/workflows/", body, format="json")
    assert answer.status_code == 400, answer.content
    [problem] = answer.json()["errors"]
    assert problem["field"] == "steps[0].input.credential"
    assert "not a reference" in problem["message"]


def test_the_engine_refuses_a_reference_as_the_credential(
    connection, crm, server, allow_loopback, run_on
):
    workflow = make_workflow(
        connection,
        "customer.updated",
        [http_step(server.url, credential="{{ trigger.data.object.metadata.cred }}")],
    )
    step_run = run_on(workflow, metadata={"cred": "crm"})
    step_run.refresh_from_db()
    assert step_run.status == RunStatus.FAILED
    assert "credential: must be a credential's name as written" in json.dumps(step_run.error)
    assert server.seen == []


def test_test_a_step_refuses_a_reference_as_the_credential(connection, crm, server, allow_loopback):
    workflow = make_workflow(
        connection,
        "customer.updated",
        [http_step(server.url, credential="{{ trigger.data.object.metadata.cred }}")],
    )
    result = tryout.test_step(workflow.steps.get(), user=None)
    assert result["ok"] is False
    assert "credential: must be a credential's name as written" in json.dumps(result["error"])
    assert server.seen == []


# -- allowed hosts -------------------------------------------------------------------------


def test_a_host_the_credential_does_not_allow_is_refused_naming_the_rule(
    crm, server, allow_loopback, settings
):
    settings.HTTP_STEP_ALLOWED_HOSTS = ["localhost"]
    url = server.url.replace("127.0.0.1", "localhost")
    with pytest.raises(OutboundRefused) as caught:
        HttpClient().send_http("POST", url, headers={}, body=b"{}", credential="crm")
    assert "Credential 'crm' may not be sent to localhost" in caught.value.message
    assert "allowed hosts are 127.0.0.1" in caught.value.message
    assert server.seen == []


def test_a_credential_without_allowed_hosts_is_sent_nowhere(server, allow_loopback):
    Credential.objects.create(name="old", secret=TOKEN)  # as migrated rows are
    with pytest.raises(OutboundRefused) as caught:
        HttpClient().send_http("POST", server.url, headers={}, body=b"{}", credential="old")
    assert "lists no allowed hosts" in caught.value.message
    assert server.seen == []


def test_a_port_in_the_rule_allows_that_port_only(server, allow_loopback):
    Credential.objects.create(name="p", secret=TOKEN, allowed_hosts="127.0.0.1:1")
    with pytest.raises(OutboundRefused):
        HttpClient().send_http("POST", server.url, headers={}, body=None, credential="p")
    port = server.url.rsplit(":", 1)[1]
    Credential.objects.filter(name="p").update(allowed_hosts=f"127.0.0.1:{port}")
    server.answer(echo)
    HttpClient().send_http("POST", server.url, headers={}, body=None, credential="p")
    assert server.seen[0].header("Authorization") == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("rules", "url", "allowed"),
    [
        ("crm.example.com", "https://CRM.example.com./x", True),
        ("crm.example.com", "https://crm.example.com.evil.net/", False),
        ("crm.example.com", "https://crm.example.com@evil.net/", False),
        ("*.example.com", "https://a.b.example.com/", True),
        ("*.example.com", "https://example.com/", False),
        ("*.example.com", "https://badexample.com/", False),
        ("crm.example.com:8443", "https://crm.example.com/", False),
        ("[2001:db8::1]:8080", "http://[2001:db8::1]:8080/", True),
    ],
)
def test_allowed_host_rules(rules, url, allowed):
    credential = Credential(name="c", allowed_hosts=rules)
    if allowed:
        credential.require_host(url)
    else:
        with pytest.raises(ValidationError):
            credential.require_host(url)


@pytest.mark.parametrize("entry", ["https://crm.example.com", "crm.example.com/x", "*", "a@b.c"])
def test_a_malformed_allowed_host_is_refused_naming_the_field(entry):
    with pytest.raises(ValidationError, match="is not a host name"):
        parse_allowed_hosts(entry)
    with pytest.raises(ValidationError) as caught:
        Credential(name="c", secret=TOKEN, allowed_hosts=entry).full_clean()
    assert "allowed_hosts" in caught.value.message_dict


def test_the_api_requires_allowed_hosts_and_answers_a_list(admin_user):
    api = APIClient()
    api.force_authenticate(admin_user)
    body = {"name": "crm", "kind": "bearer", "secret": TOKEN}
    answer = api.post("/api/v1/credentials/", body, format="json")
    assert answer.status_code == 400
    assert [e["field"] for e in answer.json()["errors"]] == ["allowed_hosts"]
    answer = api.post(
        "/api/v1/credentials/", {**body, "allowed_hosts": ["crm.example.com:8443", "*.x.org"]}
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["allowed_hosts"] == ["crm.example.com:8443", "*.x.org"]
    answer = api.patch(
        f"/api/v1/credentials/{answer.json()['id']}/", {"allowed_hosts": ["bad/host"]}
    )
    assert answer.status_code == 400
    [problem] = answer.json()["errors"]
    assert problem["field"] == "allowed_hosts"
    assert "'bad/host' is not a host name" in problem["message"]


def test_the_api_lists_hosts_written_with_commas_in_admin(admin_user):
    credential = Credential.objects.create(
        name="c", secret=TOKEN, allowed_hosts="a.example.com, b.example.com\nc.example.com"
    )
    api = APIClient()
    api.force_authenticate(admin_user)
    answer = api.get(f"/api/v1/credentials/{credential.pk}/")
    assert answer.json()["allowed_hosts"] == ["a.example.com", "b.example.com", "c.example.com"]


def test_admin_requires_allowed_hosts(admin_client):
    url = reverse("admin:connections_credential_add")
    form = {"name": "crm", "kind": "bearer", "new_secret": TOKEN, "description": ""}
    answer = admin_client.post(url, {**form, "allowed_hosts": ""})
    assert answer.status_code == 200
    assert "allowed_hosts" in answer.context["adminform"].form.errors
    answer = admin_client.post(url, {**form, "allowed_hosts": "crm.example.com\n*.x.org"})
    assert answer.status_code == 302
    assert Credential.objects.get(name="crm").allowed_hosts == "crm.example.com\n*.x.org"


# -- redirects -----------------------------------------------------------------------------


def test_a_cross_origin_redirect_drops_the_secret_and_the_signature(
    crm, server, allow_loopback, settings
):
    Credential.objects.filter(pk=crm.pk).update(allowed_hosts="127.0.0.1\nlocalhost")
    settings.HTTP_STEP_ALLOWED_HOSTS = ["localhost"]
    with http_server() as other:
        other.answer(echo)
        target = other.url.replace("127.0.0.1", "localhost")
        server.answer(Answer(status=307, headers={"Location": target + "/x"}, body=b""))
        HttpClient().send_http("POST", server.url, headers={}, body=b"{}", credential="crm")
        first, second = server.seen[0], other.seen[0]
    assert first.header("Authorization") == f"Bearer {TOKEN}"
    assert (first.header("Konnectify-Signature") or "").startswith("t=")
    assert second.header("Authorization") is None
    assert second.header("Konnectify-Signature") is None
