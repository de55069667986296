"""manage.py stripe_action runs one catalog action and prints the result or the typed error."""

import json
from io import StringIO
from urllib.parse import parse_qsl

import pytest
from django.core.management import CommandError, call_command

from .conftest import API, SECRET_KEY, stripe_error

pytestmark = pytest.mark.django_db

CUSTOMER = {"id": "cus_1New", "object": "customer", "email": "ada@example.com", "name": "Ada"}


def run(*args, **kwargs) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("stripe_action", *args, stdout=out, stderr=err, **kwargs)
    return out.getvalue(), err.getvalue()


def test_it_runs_an_action_with_the_connections_key_and_prints_json(connection, stripe_mock):
    stripe_mock.post(f"{API}/v1/customers", json=CUSTOMER, headers={"Request-Id": "req_123"})

    out, _ = run(
        "create_customer",
        "--connection",
        connection.name,
        "--input",
        json.dumps({"email": "ada@example.com", "name": "Ada"}),
        "--idempotency-key",
        "ops-ada-1",
    )

    request = stripe_mock.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert request.headers["Idempotency-Key"] == "ops-ada-1"
    assert ("email", "ada@example.com") in parse_qsl(request.body)
    printed = json.loads(out)
    assert printed["action"] == "create_customer"
    assert printed["output"]["id"] == "cus_1New"
    assert printed["request_id"] == "req_123"
    assert SECRET_KEY not in out


def test_invalid_input_prints_the_fields_and_exits_2_without_calling_stripe(
    connection, stripe_mock
):
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command(
            "stripe_action",
            "create_customer",
            connection=connection.name,
            input=json.dumps({"email": [42]}),
            stdout=out,
        )
    assert caught.value.returncode == 2
    printed = json.loads(out.getvalue())
    assert printed["error"] == "ActionInputError"
    assert any(error["field"] == "email" for error in printed["errors"])
    assert len(stripe_mock.calls) == 0


def test_a_stripe_error_is_printed_typed_and_exits_1(connection, stripe_mock):
    stripe_mock.post(
        f"{API}/v1/customers",
        status=400,
        json=stripe_error(400, "Invalid email address: nope"),
        headers={"Request-Id": "req_bad"},
    )
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command(
            "stripe_action",
            "create_customer",
            connection=connection.name,
            input=json.dumps({"email": "nope@example.com"}),
            stdout=out,
        )
    assert caught.value.returncode == 1
    printed = json.loads(out.getvalue())
    assert printed["http_status"] == 400
    assert printed["request_id"] == "req_bad"
    assert printed["type"] == "invalid_request_error"
    assert SECRET_KEY not in out.getvalue() + str(caught.value)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such_action", "--connection", "Main test account"], "Unknown action"),
        (["create_customer", "--connection", "nobody"], "No connection named 'nobody'"),
        (["create_customer", "--connection", "Main test account", "--input", "{"], "not JSON"),
        (["create_customer", "--connection", "Main test account", "--input", "[]"], "object"),
    ],
)
def test_bad_arguments_are_named(connection, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
