"""POST /api/v1/connections/{id}/actions/{key}/: one catalog action, Stripe's answer as JSON."""

import pytest
from requests.exceptions import ConnectTimeout
from responses import matchers

from connections.models import Connection
from konnectify.platform.ratelimit import THROTTLED_TYPE, Throttled
from stripe_connector.client import StripeClient
from tests.api.conftest import API, SECRET_KEY, field_errors, grant, stripe_error, token_client

pytestmark = pytest.mark.django_db

CUSTOMER = {"id": "cus_123", "object": "customer", "email": "ada@example.com"}


def url(connection, key: str = "create_customer") -> str:
    return f"/api/v1/connections/{connection.pk}/actions/{key}/"


def run(client, connection, body, key="create_customer"):
    return client.post(url(connection, key), body, format="json")


def test_it_needs_authentication(anonymous, connection):
    response = run(anonymous, connection, {"input": {}})
    assert response.status_code == 401


def test_it_needs_the_change_permission_on_connections(api_user, connection):
    grant(api_user, "view_connection")
    assert run(token_client(api_user), connection, {"input": {}}).status_code == 403


def test_a_read_only_token_may_not_run_actions_even_reading_ones(read_only_api, connection):
    response = run(read_only_api, connection, {"input": {}}, key="get_account")
    assert response.status_code == 403


def test_it_creates_the_customer_with_the_callers_idempotency_key(api_user, connection, stripe):
    grant(api_user, "use_connection")
    stripe.post(
        f"{API}/v1/customers",
        json=CUSTOMER,
        headers={"Request-Id": "req_123"},
        match=[
            matchers.urlencoded_params_matcher({"email": "ada@example.com", "name": "Ada"}),
            matchers.header_matcher(
                {"Idempotency-Key": "order-42", "Authorization": f"Bearer {SECRET_KEY}"}
            ),
        ],
    )
    body = {"input": {"email": "ada@example.com", "name": "Ada"}, "idempotency_key": "order-42"}
    response = run(token_client(api_user), connection, body)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "action": "create_customer",
        "output": CUSTOMER,
        "request_id": "req_123",
    }


def test_an_input_error_names_the_fields_under_input_and_sends_nothing(
    superuser_api, connection, stripe
):
    # (A number would be sent as its text: a list cannot be.)
    response = run(superuser_api, connection, {"input": {"email": [5], "colour": "red"}})
    assert response.status_code == 400
    assert field_errors(response) == {
        "input.colour": "is not a known field",
        "input.email": "must be of type string, got list",
    }
    assert response.json()["message"] == "Invalid input: input.colour, input.email."


def test_the_idempotency_key_must_fit_in_a_header(superuser_api, connection):
    body = {"input": {}, "idempotency_key": "order\n42"}
    response = run(superuser_api, connection, body)
    assert field_errors(response) == {"idempotency_key": "Use printable ASCII characters only."}
    response = run(superuser_api, connection, {"input": {}, "idempotency_key": "k" * 256})
    assert list(field_errors(response)) == ["idempotency_key"]


def test_the_input_must_be_an_object(superuser_api, connection):
    response = run(superuser_api, connection, {"input": ["email"]})
    assert response.status_code == 400
    assert list(field_errors(response)) == ["input"]


def test_an_unknown_action_is_a_404(superuser_api, connection):
    response = run(superuser_api, connection, {"input": {}}, key="launch_rocket")
    assert response.status_code == 404
    assert response.json() == {
        "type": "not_found",
        "message": "No action with key 'launch_rocket'.",
        "errors": [],
    }


def test_a_disabled_connection_runs_nothing(superuser_api, connection):
    Connection.objects.filter(pk=connection.pk).update(status="disabled")
    response = run(superuser_api, connection, {"input": {}}, key="get_account")
    assert response.status_code == 409
    assert response.json()["type"] == "conflict"


@pytest.mark.parametrize(
    ("stripe_status", "error_type", "expected"),
    [
        (402, "card_error", 402),
        (404, "invalid_request_error", 404),
        (400, "invalid_request_error", 400),
        (409, "api_error", 409),
        (401, "invalid_request_error", 502),
        (403, "invalid_request_error", 502),
        (500, "api_error", 502),
    ],
)
def test_a_stripe_error_comes_back_typed_with_a_fitting_status(
    superuser_api, connection, stripe, stripe_status, error_type, expected
):
    stripe.post(
        f"{API}/v1/customers",
        status=stripe_status,
        json=stripe_error("Nope.", error_type, code="some_code"),
        headers={"Request-Id": "req_err"},
    )
    response = run(superuser_api, connection, {"input": {"email": "ada@example.com"}})
    assert response.status_code == expected
    body = response.json()
    assert body["type"] == "stripe_error"
    assert body["stripe"]["http_status"] == stripe_status
    assert body["stripe"]["type"] == error_type
    assert body["stripe"]["code"] == "some_code"
    assert body["stripe"]["request_id"] == "req_err"
    assert body["message"].startswith("Nope.")


def test_stripes_rate_limit_is_a_503_with_retry_after(superuser_api, connection, stripe):
    stripe.get(
        f"{API}/v1/account",
        status=429,
        json=stripe_error("Too many requests", "invalid_request_error", code="rate_limit"),
        headers={"Retry-After": "2.5"},
    )
    response = run(superuser_api, connection, {"input": {}}, key="get_account")
    assert response.status_code == 503
    assert response["Retry-After"] == "3"
    assert response.json()["stripe"]["retryable"] is True


def test_a_network_failure_is_a_502(superuser_api, connection, stripe):
    stripe.get(f"{API}/v1/account", body=ConnectTimeout("timed out"))
    response = run(superuser_api, connection, {"input": {}}, key="get_account")
    assert response.status_code == 502
    body = response.json()
    assert body["stripe"]["error"] == "APIConnectionError"
    assert body["stripe"]["http_status"] is None


def test_our_own_rate_limit_is_a_503_with_retry_after(superuser_api, connection, monkeypatch):
    def throttled(method, path):
        raise Throttled("stripe:test:acct_1Api", 7.2, 5.0)

    monkeypatch.setattr(
        Connection,
        "client",
        lambda self: StripeClient(self.secret_key, base_url=API, throttle=throttled),
    )
    response = run(superuser_api, connection, {"input": {}}, key="get_account")
    assert response.status_code == 503
    assert response["Retry-After"] == "8"
    assert response.json()["stripe"]["type"] == THROTTLED_TYPE


def test_fields_beside_input_are_refused_by_name_and_nothing_is_sent(api_user, connection, stripe):
    # The case: the customer's fields at the top level, not under "input".
    grant(api_user, "use_connection")
    response = run(token_client(api_user), connection, {"email": "a@example.com"})
    assert response.status_code == 400
    errors = field_errors(response)
    assert errors["email"].startswith("Unknown field")
    assert errors["input"] == "This field is required."
    assert len(stripe.calls) == 0


def test_an_action_needs_input_even_when_it_takes_no_field(api_user, connection, stripe):
    grant(api_user, "use_connection")
    response = run(token_client(api_user), connection, {}, key="get_account")
    assert response.status_code == 400
    assert field_errors(response) == {"input": "This field is required."}
