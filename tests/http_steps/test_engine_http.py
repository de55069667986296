"""HTTP request steps in workflows: rendering, retries with one key, secrets kept out of runs,
permissions at every entry point, and the two popular automations."""

from __future__ import annotations

import json
import logging
import socket

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django_q.conf import Conf
from rest_framework.test import APIClient

from connections.credentials import Credential
from connections.models import InboxEvent
from stripe_connector.catalog import get_trigger
from tests.http_steps.server import Answer, echo
from tests.support.clock import fix_workflow_clock
from tests.support.factories import make_connection, make_workflow
from workflows import services, tasks, tryout
from workflows.automations import create_from_automation
from workflows.engine import create_run
from workflows.models import Run, RunStatus, StepRun

pytestmark = pytest.mark.django_db
TOKEN = "tok_crm_secret_value_5566778899"
SIGNING = "sign_secret_value_0011223344"


@pytest.fixture(autouse=True)
def sync_tasks(monkeypatch, settings):
    monkeypatch.setattr(Conf, "SYNC", True)
    settings.WORKFLOW_RETRY_INLINE_SECONDS = 0


@pytest.fixture
def clock(monkeypatch):
    return fix_workflow_clock(monkeypatch)


@pytest.fixture
def connection():
    return make_connection(
        name="HTTP steps account",
        secret_key="sk_test_" + "h" * 40,
        webhook_secret="whsec_http_steps_0123456789abcdef",
    )


@pytest.fixture
def crm():
    return Credential.objects.create(
        name="crm",
        kind=Credential.Kind.BEARER,
        secret=TOKEN,
        signing_secret=SIGNING,
        allowed_hosts="127.0.0.1",
    )


@pytest.fixture
def run_on(django_capture_on_commit_callbacks):
    """Create the workflow's run on its trigger's sample event and run it (sync tasks)."""

    def start(workflow, **object_fields) -> StepRun:
        sample = get_trigger(workflow.trigger_key).sample_event()
        sample["data"]["object"].update(object_fields)
        event = InboxEvent.objects.create(
            connection=workflow.connection,
            stripe_event_id=sample["id"],
            type=sample["type"],
            created="2026-01-01T00:00:00Z",
            livemode=False,
            payload=sample,
        )
        with django_capture_on_commit_callbacks(execute=True):
            run = create_run(workflow, event=event)
        return run.step_runs.get()

    return start


def http_step(url: str, **mapping):
    return ("call", "http_request", {"method": "POST", "url": url, **mapping})


def recorded(step_run: StepRun) -> str:
    step_run.refresh_from_db()
    return json.dumps([step_run.input, step_run.output, step_run.error, step_run.run.error])


def test_references_render_everywhere_and_the_secret_stays_out_of_the_run(
    connection, crm, server, allow_loopback, run_on, caplog
):
    caplog.set_level(logging.DEBUG)
    server.answer(echo)
    workflow = make_workflow(
        connection,
        "customer.updated",
        [
            http_step(
                server.url + "/customers/{{ trigger.data.object.id }}",
                credential="crm",
                query={"email": "{{ trigger.data.object.email }}"},
                headers={"X-Customer": "{{ trigger.data.object.id }}"},
                json_body={"name": "{{ trigger.data.object.name }}", "plan": "pro"},
            )
        ],
    )
    step_run = run_on(workflow, id="cus_Render1", email="a@example.com", name="Ada")
    step_run.refresh_from_db()
    assert step_run.status == RunStatus.SUCCEEDED, step_run.error
    seen = server.seen[0]
    assert seen.path == "/customers/cus_Render1?email=a%40example.com"
    assert seen.header("X-Customer") == "cus_Render1"
    assert json.loads(seen.body) == {"name": "Ada", "plan": "pro"}
    assert seen.header("Authorization") == f"Bearer {TOKEN}"
    assert seen.header("Idempotency-Key") == step_run.idempotency_key
    assert seen.header("Konnectify-Signature").startswith("t=")
    # Recorded: the input as rendered, without the credential's secret or header.
    assert step_run.input["credential"] == "crm"
    assert "Authorization" not in json.dumps(step_run.input)
    assert step_run.output["status"] == 200
    assert step_run.output["body"]["headers"]["Authorization"] == "[redacted]"
    for text in (recorded(step_run), caplog.text):
        assert TOKEN not in text and SIGNING not in text


def test_a_503_then_a_200_retries_with_one_idempotency_key(
    connection, server, allow_loopback, run_on, clock
):
    server.answer(
        Answer(status=503, headers={"Retry-After": "30"}, body=b"upstream down"), Answer()
    )
    workflow = make_workflow(connection, "customer.updated", [http_step(server.url)])
    step_run = run_on(workflow)
    step_run.refresh_from_db()
    assert step_run.status == RunStatus.RETRYING
    assert (step_run.error["http_status"], step_run.error["retryable"]) == (503, True)
    assert "upstream down" in step_run.error["message"]
    assert (step_run.next_attempt_at - clock.now).total_seconds() >= 30  # Retry-After honoured

    clock.now = step_run.next_attempt_at
    tasks.sweep()
    step_run.refresh_from_db()
    assert (step_run.status, step_run.attempts) == (RunStatus.SUCCEEDED, 2)
    keys = [seen.header("Idempotency-Key") for seen in server.seen]
    assert keys == [step_run.idempotency_key] * 2


def test_a_network_error_is_retried(connection, allow_loopback, run_on):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workflow = make_workflow(
        connection, "customer.updated", [http_step(f"http://127.0.0.1:{port}/")]
    )
    step_run = run_on(workflow)
    step_run.refresh_from_db()
    assert step_run.status == RunStatus.RETRYING
    assert step_run.error["error"] == "APIConnectionError"


def test_other_4xx_fail_at_once_with_the_status_and_an_excerpt(
    connection, server, allow_loopback, run_on
):
    server.answer(Answer(status=422, body=b'{"error": "email is not valid"}'))
    workflow = make_workflow(connection, "customer.updated", [http_step(server.url)])
    step_run = run_on(workflow)
    step_run.refresh_from_db()
    assert (step_run.status, step_run.attempts) == (RunStatus.FAILED, 1)
    assert step_run.error["http_status"] == 422 and step_run.error["retryable"] is False
    assert "answered HTTP 422" in step_run.error["message"]
    assert "email is not valid" in step_run.error["message"]
    assert Run.objects.get().status == RunStatus.FAILED
    assert len(server.seen) == 1


def test_a_refused_address_fails_the_step_naming_the_rule(connection, server, run_on):
    workflow = make_workflow(connection, "customer.updated", [http_step(server.url)])
    step_run = run_on(workflow)
    step_run.refresh_from_db()
    assert step_run.status == RunStatus.FAILED
    assert step_run.error["type"] == "outbound_refused"
    assert "127.0.0.1 is a loopback address" in step_run.error["message"]
    assert "HTTP_STEP_ALLOWED_NETWORKS" in step_run.error["message"]
    assert server.seen == []


def owner_with(django_user_model, *codenames):
    user = django_user_model.objects.create_user("owner", password="x-123456!")
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return django_user_model.objects.get(pk=user.pk)


def test_the_owner_needs_the_right_to_use_the_credential(
    connection, crm, server, allow_loopback, run_on, django_user_model
):
    owner = owner_with(django_user_model, "use_connection")
    workflow = make_workflow(
        connection, "customer.updated", [http_step(server.url, credential="crm")], owner=owner
    )
    step_run = run_on(workflow)
    step_run.refresh_from_db()
    assert step_run.status == RunStatus.FAILED
    assert step_run.error["type"] == "credential_not_allowed"
    assert server.seen == []


def test_activating_needs_the_right_to_use_the_steps_credentials(
    connection, crm, django_user_model
):
    workflow = make_workflow(
        connection,
        "customer.updated",
        [http_step("https://crm.example.com/", credential="crm")],
        active=False,
    )
    user = owner_with(django_user_model, "use_connection", "change_workflow")
    with pytest.raises(PermissionDenied, match="may not use credential 'crm'"):
        services.set_active(workflow, True, user)
    user.user_permissions.add(Permission.objects.get(codename="use_credential"))
    user = django_user_model.objects.get(pk=user.pk)
    assert services.set_active(workflow, True, user).active is True


def test_test_a_step_sends_for_the_user_who_tests(
    connection, crm, server, allow_loopback, django_user_model
):
    workflow = make_workflow(
        connection, "customer.updated", [http_step(server.url, credential="crm")], active=False
    )
    step = workflow.steps.get()
    refused = tryout.test_step(step, user=owner_with(django_user_model, "use_connection"))
    assert refused["ok"] is False and refused["error"]["type"] == "credential_not_allowed"
    assert server.seen == []
    allowed = tryout.test_step(step, user=None)  # the operator
    assert allowed["ok"] is True and allowed["output"]["status"] == 200
    assert server.seen[0].header("Authorization") == f"Bearer {TOKEN}"
    assert TOKEN not in json.dumps(allowed)


def test_the_api_and_the_command_run_it_too(
    connection, server, allow_loopback, django_user_model, capsys
):
    user = owner_with(django_user_model, "use_connection")
    client = APIClient()
    client.force_authenticate(user)
    answer = client.post(
        f"/api/v1/connections/{connection.pk}/actions/http_request/",
        {"input": {"method": "GET", "url": f"{server.url}/api"}, "idempotency_key": "k-1"},
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    assert answer.json()["output"]["status"] == 200
    assert server.seen[0].header("Idempotency-Key") == "k-1"
    call_command(
        "stripe_action",
        "http_request",
        "--connection",
        connection.name,
        "--input",
        json.dumps({"method": "GET", "url": f"{server.url}/cli"}),
    )
    assert json.loads(capsys.readouterr().out)["output"]["status"] == 200
    assert server.seen[1].path == "/cli"


# -- the popular automations ---------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["customer_updated_send_to_crm", "invoice_payment_failed_alert_team"]
)
def test_the_automations_refuse_their_placeholder_until_a_url_is_set(
    key, connection, server, allow_loopback, run_on
):
    workflow = create_from_automation(key, connection)
    assert workflow.active is False
    step = workflow.steps.get()
    assert ".invalid/" in step.input_mapping["url"]
    # Saving it as it is (admin, the API) is allowed: the mapping fits the action.
    mapping = [
        {"name": step.name, "action_key": step.action_key, "input_mapping": step.input_mapping}
    ]
    assert all(
        report.ok and not report.warnings for report in services.check_steps(workflow, mapping)
    )
    step_run = run_on(workflow)
    step_run.refresh_from_db()
    assert step_run.status == RunStatus.FAILED
    assert "url: " in step_run.error["message"] and "placeholder" in step_run.error["message"]
    assert server.seen == []


def test_customer_updated_sends_the_customers_fields_to_the_crm(
    connection, server, allow_loopback, run_on
):
    workflow = create_from_automation("customer_updated_send_to_crm", connection)
    step = workflow.steps.get()
    step.input_mapping = {**step.input_mapping, "url": f"{server.url}/crm/customers"}
    step.save()
    step_run = run_on(workflow, id="cus_Crm1", email="crm@example.com", name="Grace")
    step_run.refresh_from_db()
    assert step_run.status == RunStatus.SUCCEEDED, step_run.error
    seen = server.seen[0]
    assert (seen.method, seen.path) == ("POST", "/crm/customers")
    body = json.loads(seen.body)
    assert body["stripe_customer_id"] == "cus_Crm1"
    assert (body["email"], body["name"]) == ("crm@example.com", "Grace")
    assert body["metadata"] == get_trigger("customer.updated").sample["data"]["object"]["metadata"]
    assert seen.header("Content-Type") == "application/json"


@pytest.mark.parametrize(
    ("currency", "amount", "shown"), [("usd", 2599, "25.99 USD"), ("jpy", 2599, "2599 JPY")]
)
def test_invoice_payment_failed_alerts_the_team(
    currency, amount, shown, connection, server, allow_loopback, run_on
):
    workflow = create_from_automation("invoice_payment_failed_alert_team", connection)
    step = workflow.steps.get()
    step.input_mapping = {**step.input_mapping, "url": f"{server.url}/services/T0/B0/x"}
    step.save()
    step_run = run_on(
        workflow, id="in_Alert1", number="ABC-0007", customer="cus_Alert1",
        customer_name="Lin", amount_due=amount, currency=currency,
    )  # fmt: skip
    step_run.refresh_from_db()
    assert step_run.status == RunStatus.SUCCEEDED, step_run.error
    text = json.loads(server.seen[0].body)["text"]
    assert text == f"Payment failed: invoice ABC-0007 of Lin (cus_Alert1), {shown} due."
