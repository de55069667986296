"""StripeError and ActionInputError: what callers log, show and decide retries on."""

import json

import pytest

from stripe_connector.errors import (
    ActionInputError,
    APIConnectionError,
    APIError,
    AuthenticationError,
    CardError,
    ConflictError,
    IdempotencyError,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitError,
    StripeError,
    error_class_for,
    redact_secrets,
)

KEY = "sk_live_51FakeKeyForRedactionTests0wxyz"


def test_it_reads_as_one_line_with_stripe_details():
    err = CardError(
        "Your card was declined.\nPlease try another.",
        http_status=402,
        type="card_error",
        code="card_declined",
        param="source",
        decline_code="insufficient_funds",
        request_id="req_123",
    )
    assert str(err) == (
        "Your card was declined. Please try another. (402, card_error, card_declined, "
        "param=source, decline_code=insufficient_funds, request req_123)"
    )


def test_it_serialises_to_json_safe_fields():
    err = RateLimitError(
        "Too many requests",
        http_status=429,
        type="invalid_request_error",
        code="rate_limit",
        request_id="req_9",
        retryable=True,
        retry_after=2.0,
    )
    assert json.loads(json.dumps(err.to_dict())) == {
        "error": "RateLimitError",
        "message": "Too many requests",
        "http_status": 429,
        "type": "invalid_request_error",
        "code": "rate_limit",
        "param": None,
        "decline_code": None,
        "request_id": "req_9",
        "retryable": True,
        "retry_after": 2.0,
    }


def test_it_defaults_to_not_retryable_and_a_generic_message():
    err = StripeError("")
    assert (err.retryable, err.retry_after, err.http_status) == (False, None, None)
    assert str(err) == "Stripe request failed"


def test_it_redacts_keys_and_secrets_from_messages_repr_and_dict():
    err = StripeError(
        f"Invalid API Key provided: {KEY} and whsec_abcdefgh12345678", http_status=401
    )
    for text in (str(err), repr(err), json.dumps(err.to_dict()), err.message):
        assert KEY not in text
        assert "whsec_abcdefgh12345678" not in text
    assert err.message == "Invalid API Key provided: sk_live_...wxyz and whsec_...5678"


def test_it_leaves_stripes_own_masked_keys_alone():
    text = "Invalid API Key provided: sk_test_********************1234"
    assert redact_secrets(text) == text


@pytest.mark.parametrize(
    ("status", "error_type", "expected"),
    [
        (None, None, APIConnectionError),
        (400, "invalid_request_error", InvalidRequestError),
        (400, "idempotency_error", IdempotencyError),
        (401, "invalid_request_error", AuthenticationError),
        (402, "card_error", CardError),
        (403, "invalid_request_error", PermissionDeniedError),
        (404, "invalid_request_error", InvalidRequestError),
        (409, "invalid_request_error", ConflictError),
        (424, "invalid_request_error", StripeError),
        (429, "invalid_request_error", RateLimitError),
        (500, "api_error", APIError),
        (503, None, APIError),
    ],
)
def test_it_picks_the_subclass_by_type_then_status(status, error_type, expected):
    assert error_class_for(status, error_type) is expected


def test_every_subclass_is_a_stripe_error():
    for cls in (APIConnectionError, APIError, CardError, ConflictError, RateLimitError):
        assert issubclass(cls, StripeError)


def test_an_input_error_names_every_field():
    err = ActionInputError(
        [
            {"field": "items[0].price", "message": "is required"},
            {"field": "email", "message": "must be a string"},
        ]
    )
    assert str(err) == "Invalid input: items[0].price: is required; email: must be a string"
    assert err.fields == ["items[0].price", "email"]
    assert isinstance(err, ValueError)
    assert err.to_dict()["errors"][1] == {"field": "email", "message": "must be a string"}


def test_an_input_error_without_details_still_reads_well():
    assert str(ActionInputError([])) == "Invalid input: no details"
