"""Payment intent and coupon actions: exact requests, outputs and input checks."""

import pytest

from stripe_connector.catalog import get_action
from stripe_connector.errors import ActionInputError
from tests.stripe_connector.data import assert_action_round_trip, stripe_object

INTENT = stripe_object("payment_intent")
PI = INTENT["id"]
COUPON = stripe_object("coupon")

CASES = [
    pytest.param(
        "create_payment_intent",
        {
            "amount": 1099,
            "currency": "usd",
            "customer": "cus_QXg1o8vcGmoR32",
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            "capture_method": "manual",
            "metadata": {"order_id": "6735"},
            "receipt_email": "jenny.rosen@example.com",
        },
        "POST",
        "/v1/payment_intents",
        [
            ("amount", "1099"),
            ("currency", "usd"),
            ("customer", "cus_QXg1o8vcGmoR32"),
            ("automatic_payment_methods[enabled]", "true"),
            ("automatic_payment_methods[allow_redirects]", "never"),
            ("capture_method", "manual"),
            ("metadata[order_id]", "6735"),
            ("receipt_email", "jenny.rosen@example.com"),
        ],
        INTENT,
        id="create_payment_intent",
    ),
    pytest.param(
        "update_payment_intent",
        {"id": PI, "amount": 2000, "description": "Upgraded order"},
        "POST",
        f"/v1/payment_intents/{PI}",
        [("amount", "2000"), ("description", "Upgraded order")],
        {**INTENT, "amount": 2000},
        id="update_payment_intent",
    ),
    pytest.param(
        "find_payment_intent",
        {"id": PI, "expand": ["latest_charge"]},
        "GET",
        f"/v1/payment_intents/{PI}",
        [("expand[0]", "latest_charge")],
        INTENT,
        id="find_payment_intent",
    ),
    pytest.param(
        "cancel_payment_intent",
        {"id": PI, "cancellation_reason": "requested_by_customer"},
        "POST",
        f"/v1/payment_intents/{PI}/cancel",
        [("cancellation_reason", "requested_by_customer")],
        {**INTENT, "status": "canceled", "cancellation_reason": "requested_by_customer"},
        id="cancel_payment_intent",
    ),
    pytest.param(
        "confirm_payment_intent",
        {"id": PI, "payment_method": "pm_card_visa", "return_url": "https://example.com/done"},
        "POST",
        f"/v1/payment_intents/{PI}/confirm",
        [("payment_method", "pm_card_visa"), ("return_url", "https://example.com/done")],
        {**INTENT, "status": "succeeded"},
        id="confirm_payment_intent",
    ),
    pytest.param(
        "capture_payment_intent",
        {"id": PI, "amount_to_capture": 750},
        "POST",
        f"/v1/payment_intents/{PI}/capture",
        [("amount_to_capture", "750")],
        {**INTENT, "status": "succeeded", "amount_received": 750},
        id="capture_payment_intent",
    ),
    pytest.param(
        "create_coupon",
        {
            "id": "SUMMER25",
            "name": "25.5% off",
            "percent_off": 25.5,
            "duration": "repeating",
            "duration_in_months": 3,
            "max_redemptions": 100,
        },
        "POST",
        "/v1/coupons",
        [
            ("id", "SUMMER25"),
            ("name", "25.5% off"),
            ("percent_off", "25.5"),
            ("duration", "repeating"),
            ("duration_in_months", "3"),
            ("max_redemptions", "100"),
        ],
        COUPON,
        id="create_coupon_percent",
    ),
    pytest.param(
        "create_coupon",
        {
            "amount_off": 500,
            "currency": "eur",
            "duration": "once",
            "applies_to": {"products": ["prod_QXg1hqf4jFNsqG"]},
        },
        "POST",
        "/v1/coupons",
        [
            ("amount_off", "500"),
            ("currency", "eur"),
            ("duration", "once"),
            ("applies_to[products][0]", "prod_QXg1hqf4jFNsqG"),
        ],
        {**COUPON, "amount_off": 500, "percent_off": None, "currency": "eur"},
        id="create_coupon_amount",
    ),
    pytest.param(
        "update_coupon",
        {"id": "SUMMER 25%", "name": "Summer sale", "metadata": {"campaign": "summer"}},
        "POST",
        "/v1/coupons/SUMMER%2025%25",
        [("name", "Summer sale"), ("metadata[campaign]", "summer")],
        {**COUPON, "name": "Summer sale"},
        id="update_coupon",
    ),
    pytest.param(
        "find_coupon",
        {"id": "Z4OV52SU"},
        "GET",
        "/v1/coupons/Z4OV52SU",
        [],
        COUPON,
        id="find_coupon",
    ),
    pytest.param(
        "delete_coupon",
        {"id": "Z4OV52SU"},
        "DELETE",
        "/v1/coupons/Z4OV52SU",
        [],
        stripe_object("deleted_coupon"),
        id="delete_coupon",
    ),
]


@pytest.mark.parametrize(("key", "given", "method", "path", "pairs", "answer"), CASES)
def test_it_sends_the_exact_request_and_returns_stripes_object(
    key, given, method, path, pairs, answer, stripe_mock, stripe_client, stripe_key
):
    assert_action_round_trip(
        stripe_mock, stripe_client, stripe_key, key, given, method, path, pairs, answer
    )


@pytest.mark.parametrize(
    ("key", "given", "errors"),
    [
        (
            "create_payment_intent",
            {"amount": 0},
            [
                {"field": "amount", "message": "0 is less than the minimum of 1"},
                {"field": "currency", "message": "is required"},
            ],
        ),
        (
            "create_payment_intent",
            {"amount": 10.5, "currency": "dollars"},
            [
                {"field": "amount", "message": "must be a whole number, got 10.5"},
                {
                    "field": "currency",
                    "message": "has an invalid format (expected to match ^[A-Za-z]{3}$)",
                },
            ],
        ),
        (
            "cancel_payment_intent",
            {"id": PI, "cancellation_reason": "changed mind"},
            [
                {
                    "field": "cancellation_reason",
                    "message": "must be one of: duplicate, fraudulent, "
                    "requested_by_customer, abandoned",
                }
            ],
        ),
        (
            "create_coupon",
            {"duration": "forever"},
            [{"field": "percent_off", "message": "give one of: percent_off, amount_off"}],
        ),
        (
            "create_coupon",
            {"amount_off": 500, "duration": "repeating"},
            [
                {"field": "currency", "message": "is required with amount_off"},
                {
                    "field": "duration_in_months",
                    "message": "is required when duration is repeating",
                },
            ],
        ),
        (
            "create_coupon",
            {"percent_off": 120, "duration": "once", "duration_in_months": 3},
            [{"field": "percent_off", "message": "120 is greater than the maximum of 100"}],
        ),
        (
            "update_coupon",
            {"id": "Z4OV52SU", "percent_off": 10},
            [{"field": "percent_off", "message": "is not a known field"}],
        ),
    ],
)
def test_it_refuses_bad_input_naming_the_field_before_any_request(
    key, given, errors, stripe_mock, stripe_client
):
    with pytest.raises(ActionInputError) as caught:
        get_action(key).run(stripe_client, given)
    assert caught.value.errors == errors
    assert len(stripe_mock.calls) == 0
