"""Every kind of failure becomes a typed StripeError with the right retry verdict, and no key."""

import json
import logging

import pytest
import requests

from stripe_connector.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    CardError,
    ConflictError,
    InvalidRequestError,
    RateLimitError,
    StripeError,
)

from .conftest import API, TEST_KEY

URL = f"{API}/v1/customers/cus_123"
PATH = "/v1/customers/cus_123"


def stripe_error(type_, message, **fields) -> dict:
    """Stripe's error body."""
    return {"error": {"type": type_, "message": message, **fields}}


def call_and_fail(stripe_client, caplog, method="GET") -> StripeError:
    """Make one failing call; check the key is nowhere, then hand back the error."""
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StripeError) as caught:
        stripe_client.request(method, PATH, {"email": "jenny@example.com"})
    err = caught.value
    texts = [str(err), repr(err), json.dumps(err.to_dict()), caplog.text]
    texts += [record.getMessage() for record in caplog.records]
    for text in texts:
        assert TEST_KEY not in text
        assert TEST_KEY[len("sk_test_") :] not in text
    assert "jenny@example.com" not in caplog.text  # parameters may be personal data
    assert [r.name for r in caplog.records if r.name.startswith("stripe_connector")] == [
        "stripe_connector.client"
    ]
    return err


def test_a_400_is_a_permanent_invalid_request_naming_the_param(stripe_client, stripe_mock, caplog):
    body = stripe_error(
        "invalid_request_error",
        "Missing required param: items.",
        code="parameter_missing",
        param="items",
        doc_url="https://stripe.com/docs/error-codes/parameter-missing",
    )
    stripe_mock.get(URL, json=body, status=400, headers={"Request-Id": "req_400"})
    err = call_and_fail(stripe_client, caplog)
    assert type(err) is InvalidRequestError
    assert err.to_dict() == {
        "error": "InvalidRequestError",
        "message": "Missing required param: items.",
        "http_status": 400,
        "type": "invalid_request_error",
        "code": "parameter_missing",
        "param": "items",
        "decline_code": None,
        "request_id": "req_400",
        "retryable": False,
        "retry_after": None,
    }


def test_a_401_is_a_permanent_authentication_error(stripe_client, stripe_mock, caplog):
    body = stripe_error("invalid_request_error", "Invalid API Key provided: sk_test_****abcd")
    stripe_mock.get(URL, json=body, status=401, headers={"Request-Id": "req_401"})
    err = call_and_fail(stripe_client, caplog)
    assert type(err) is AuthenticationError
    assert (err.http_status, err.retryable, err.request_id) == (401, False, "req_401")
    assert str(err) == (
        "Invalid API Key provided: sk_test_****abcd (401, invalid_request_error, request req_401)"
    )


def test_an_answer_echoing_the_full_key_is_redacted(stripe_client, stripe_mock, caplog):
    body = stripe_error("invalid_request_error", f"Invalid API Key provided: {TEST_KEY}")
    stripe_mock.get(URL, json=body, status=401)
    err = call_and_fail(stripe_client, caplog)
    assert err.message == "Invalid API Key provided: sk_test_...abcd"


def test_a_402_card_error_carries_the_decline_code(stripe_client, stripe_mock, caplog):
    body = stripe_error(
        "card_error",
        "Your card has insufficient funds.",
        code="card_declined",
        decline_code="insufficient_funds",
        param="",
        charge="ch_1",
    )
    stripe_mock.post(URL, json=body, status=402, headers={"Request-Id": "req_402"})
    err = call_and_fail(stripe_client, caplog, method="POST")
    assert type(err) is CardError
    assert (err.type, err.code, err.decline_code, err.param) == (
        "card_error",
        "card_declined",
        "insufficient_funds",
        None,
    )
    assert (err.http_status, err.retryable) == (402, False)


def test_a_404_is_a_permanent_missing_resource(stripe_client, stripe_mock, caplog):
    body = stripe_error(
        "invalid_request_error", "No such customer: 'cus_123'", code="resource_missing", param="id"
    )
    stripe_mock.get(URL, json=body, status=404, headers={"Request-Id": "req_404"})
    err = call_and_fail(stripe_client, caplog)
    assert type(err) is InvalidRequestError
    assert (err.http_status, err.code, err.param, err.retryable) == (
        404,
        "resource_missing",
        "id",
        False,
    )


def test_a_409_conflict_is_retryable(stripe_client, stripe_mock, caplog):
    body = stripe_error(
        "invalid_request_error",
        "There is currently another in-progress request using this Idempotent Key.",
        code="idempotency_key_in_use",
    )
    stripe_mock.post(URL, json=body, status=409)
    err = call_and_fail(stripe_client, caplog, method="POST")
    assert type(err) is ConflictError
    assert (err.http_status, err.code, err.retryable) == (409, "idempotency_key_in_use", True)


def test_a_lock_timeout_is_retryable_whatever_the_status(stripe_client, stripe_mock, caplog):
    body = stripe_error("invalid_request_error", "This object is locked.", code="lock_timeout")
    stripe_mock.post(URL, json=body, status=400)
    err = call_and_fail(stripe_client, caplog, method="POST")
    assert (err.http_status, err.code, err.retryable) == (400, "lock_timeout", True)


def test_a_429_is_retryable_after_the_given_delay(stripe_client, stripe_mock, caplog):
    body = stripe_error("invalid_request_error", "Too many requests.", code="rate_limit")
    stripe_mock.get(URL, json=body, status=429, headers={"Retry-After": "2"})
    err = call_and_fail(stripe_client, caplog)
    assert type(err) is RateLimitError
    assert (err.http_status, err.code, err.retryable, err.retry_after) == (
        429,
        "rate_limit",
        True,
        2.0,
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [("0.5", 0.5), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("soon", None), ("-3", 0.0)],
)
def test_it_reads_retry_after_as_seconds_or_a_past_date(
    stripe_client, stripe_mock, caplog, header, expected
):
    body = stripe_error("invalid_request_error", "Too many requests.", code="rate_limit")
    stripe_mock.get(URL, json=body, status=429, headers={"Retry-After": header})
    assert call_and_fail(stripe_client, caplog).retry_after == expected


def test_a_500_is_a_retryable_api_error(stripe_client, stripe_mock, caplog):
    body = stripe_error("api_error", "An unknown error occurred")
    stripe_mock.post(URL, json=body, status=500, headers={"Request-Id": "req_500"})
    err = call_and_fail(stripe_client, caplog, method="POST")
    assert type(err) is APIError
    assert (err.http_status, err.type, err.retryable, err.request_id) == (
        500,
        "api_error",
        True,
        "req_500",
    )


def test_a_503_is_a_retryable_api_error(stripe_client, stripe_mock, caplog):
    body = stripe_error("api_error", "Service unavailable")
    stripe_mock.get(URL, json=body, status=503, headers={"Retry-After": "30"})
    err = call_and_fail(stripe_client, caplog)
    assert type(err) is APIError
    assert (err.http_status, err.retryable, err.retry_after) == (503, True, 30.0)


def test_a_read_timeout_is_a_retryable_connection_error(stripe_client, stripe_mock, caplog):
    stripe_mock.post(URL, body=requests.exceptions.ReadTimeout("read timed out"))
    err = call_and_fail(stripe_client, caplog, method="POST")
    assert type(err) is APIConnectionError
    assert err.to_dict() == {
        "error": "APIConnectionError",
        "message": "Could not reach Stripe: no answer within 5 s (read timeout). "
        "It is safe to retry with the same idempotency key.",
        "http_status": None,
        "type": "api_connection_error",
        "code": None,
        "param": None,
        "decline_code": None,
        "request_id": None,
        "retryable": True,
        "retry_after": None,
    }
    assert caplog.records[-1].levelno == logging.WARNING
    assert "Stripe POST /v1/customers/cus_123 -> failed (ReadTimeout)" in caplog.text


def test_a_connect_timeout_is_a_retryable_connection_error(stripe_client, stripe_mock, caplog):
    stripe_mock.get(URL, body=requests.exceptions.ConnectTimeout("connect timed out"))
    err = call_and_fail(stripe_client, caplog)
    assert type(err) is APIConnectionError
    assert err.message.startswith("Could not reach Stripe: connecting timed out after 2 s.")
    assert (err.http_status, err.type, err.retryable) == (None, "api_connection_error", True)


def test_a_connection_reset_is_a_retryable_connection_error(stripe_client, stripe_mock, caplog):
    reset = requests.exceptions.ConnectionError(ConnectionResetError(104, "Connection reset"))
    stripe_mock.delete(URL, body=reset)
    err = call_and_fail(stripe_client, caplog, method="DELETE")
    assert type(err) is APIConnectionError
    assert err.message.startswith("Could not reach Stripe: the connection failed or was reset.")
    assert err.retryable is True


def test_an_html_502_from_a_proxy_is_a_clear_retryable_error(stripe_client, stripe_mock, caplog):
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    stripe_mock.get(URL, body=html, status=502, content_type="text/html")
    err = call_and_fail(stripe_client, caplog)
    assert type(err) is APIError
    assert err.message == (
        "Stripe answered HTTP 502 with a body that is not a Stripe JSON object (text/html); "
        "a proxy or a wrong STRIPE_API_BASE may be in the way."
    )
    assert (err.http_status, err.type, err.retryable) == (502, "api_error", True)


def test_a_200_with_garbage_is_a_clear_permanent_error(stripe_client, stripe_mock, caplog):
    stripe_mock.get(URL, body=b"\xff\xfe not json", status=200, headers={"Request-Id": "req_x"})
    err = call_and_fail(stripe_client, caplog)
    assert type(err) is APIError
    assert err.message.startswith("Stripe answered HTTP 200 with a body that is not a Stripe JSON")
    assert (err.http_status, err.retryable, err.request_id) == (200, False, "req_x")


def test_a_200_with_a_json_list_is_not_taken_for_an_object(stripe_client, stripe_mock, caplog):
    stripe_mock.get(URL, json=[{"id": "cus_123"}])
    err = call_and_fail(stripe_client, caplog)
    assert (type(err), err.http_status, err.retryable) == (APIError, 200, False)


def test_a_400_that_is_not_json_stays_permanent(stripe_client, stripe_mock, caplog):
    stripe_mock.get(URL, body="Bad Request", status=400, content_type="text/plain")
    err = call_and_fail(stripe_client, caplog)
    assert (type(err), err.http_status, err.retryable) == (InvalidRequestError, 400, False)


def test_a_redirect_is_not_followed_and_is_an_error(stripe_client, stripe_mock, caplog):
    stripe_mock.get(URL, status=302, headers={"Location": "https://evil.example/steal"})
    err = call_and_fail(stripe_client, caplog)
    assert (type(err), err.http_status, err.retryable) == (APIError, 302, False)
    assert len(stripe_mock.calls) == 1


def test_stripe_should_retry_false_overrides_a_500(stripe_client, stripe_mock, caplog):
    body = stripe_error("api_error", "Do not retry this one")
    stripe_mock.post(URL, json=body, status=500, headers={"Stripe-Should-Retry": "false"})
    assert call_and_fail(stripe_client, caplog, method="POST").retryable is False


def test_stripe_should_retry_false_overrides_a_429(stripe_client, stripe_mock, caplog):
    body = stripe_error("invalid_request_error", "Too many", code="rate_limit")
    stripe_mock.get(URL, json=body, status=429, headers={"Stripe-Should-Retry": "false"})
    assert call_and_fail(stripe_client, caplog).retryable is False


def test_stripe_should_retry_true_overrides_a_400(stripe_client, stripe_mock, caplog):
    body = stripe_error("invalid_request_error", "Try again", code="some_transient_thing")
    stripe_mock.post(URL, json=body, status=400, headers={"Stripe-Should-Retry": "true"})
    assert call_and_fail(stripe_client, caplog, method="POST").retryable is True


def test_stripe_should_retry_also_applies_to_a_non_json_answer(stripe_client, stripe_mock, caplog):
    headers = {"Stripe-Should-Retry": "false"}
    stripe_mock.get(URL, body="<html>", status=503, content_type="text/html", headers=headers)
    assert call_and_fail(stripe_client, caplog).retryable is False


def test_an_unknown_should_retry_value_leaves_our_guess(stripe_client, stripe_mock, caplog):
    body = stripe_error("api_error", "Oops")
    stripe_mock.get(URL, json=body, status=500, headers={"Stripe-Should-Retry": "maybe"})
    assert call_and_fail(stripe_client, caplog).retryable is True
