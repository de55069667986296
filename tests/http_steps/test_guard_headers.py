"""Header values HTTP cannot carry: refused naming the header, never a crash of the sender."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from stripe_connector.catalog import get_action
from stripe_connector.errors import ActionInputError
from stripe_connector.outbound import OutboundPolicy, OutboundRefused, send
from tests.http_steps import test_engine_http as engine_tests
from tests.support.factories import make_workflow
from workflows.models import RunStatus

pytestmark = pytest.mark.django_db

connection = engine_tests.connection
run_on = engine_tests.run_on
sync_tasks = engine_tests.sync_tasks
http_step = engine_tests.http_step
owner_with = engine_tests.owner_with

UNSENDABLE = [
    ("Ada\n", "line breaks"),
    ("Ada\r", "line breaks"),
    ("A\x00da", "control characters"),
    ("山田", "Latin-1"),
    ("Ada\u2028", "Latin-1"),
]


@pytest.mark.parametrize(("value", "problem"), UNSENDABLE)
def test_the_action_refuses_a_value_naming_the_header(value, problem):
    with pytest.raises(ActionInputError) as caught:
        get_action("http_request").validate(
            {"method": "GET", "url": "https://x.example.com/", "headers": {"X-Name": value}}
        )
    assert caught.value.fields == ["headers.X-Name"]
    assert problem in str(caught.value)


def test_latin_1_and_tabs_pass():
    cleaned = get_action("http_request").validate(
        {"method": "GET", "url": "https://x.example.com/", "headers": {"X-Name": "Zoë\tMüller"}}
    )
    assert cleaned["headers"] == {"X-Name": "Zoë\tMüller"}


@pytest.mark.parametrize(("value", "problem"), UNSENDABLE)
def test_api_execute_answers_400_naming_the_header(
    connection, server, allow_loopback, django_user_model, value, problem
):
    api = APIClient(raise_request_exception=False)
    api.force_authenticate(owner_with(django_user_model, "use_connection"))
    answer = api.post(
        f"/api/v1/connections/{connection.pk}/actions/http_request/",
        {"input": {"method": "GET", "url": f"{server.url}/api", "headers": {"X-Name": value}}},
        format="json",
    )
    assert answer.status_code == 400, answer.content
    assert "headers.X-Name" in answer.content.decode()
    assert problem in answer.content.decode()
    assert server.seen == []


@pytest.mark.parametrize("name", ["山田", "Ada\n"])
def test_a_rendered_value_from_event_data_fails_the_step_naming_the_header(
    connection, server, allow_loopback, run_on, name
):
    workflow = make_workflow(
        connection,
        "customer.updated",
        [http_step(server.url, headers={"X-Name": "{{ trigger.data.object.name }}"})],
    )
    step_run = run_on(workflow, name=name)
    step_run.refresh_from_db()
    assert step_run.status == RunStatus.FAILED
    assert step_run.error["error"] == "ActionInputError"
    assert "headers.X-Name" in step_run.error["message"]
    assert server.seen == []


@pytest.mark.parametrize("value", ["Bearer 山田", "a\nb"])
def test_the_guard_refuses_what_http_client_cannot_send(server, value):
    """A value that reached the guard anyway (a credential's secret): refused, not a crash,
    and the message does not repeat the value."""
    policy = OutboundPolicy.from_lists(["127.0.0.1/32"])
    with pytest.raises(OutboundRefused) as caught:
        send("GET", f"{server.url}/x", headers={"X-Key": value}, body=None, policy=policy)
    assert caught.value.retryable is False
    assert "header" in caught.value.message
    assert value not in caught.value.message
    assert server.seen == []
