"""Subscription actions: exact requests, outputs, sub_/si_ lookups, both ways to cancel."""

import pytest

from stripe_connector.catalog import get_action
from stripe_connector.errors import ActionInputError
from tests.stripe_connector.data import assert_action_round_trip, stripe_object

SUBSCRIPTION = stripe_object("subscription")
SUB = SUBSCRIPTION["id"]
ITEM = stripe_object("subscription_item")
CANCELED = {**SUBSCRIPTION, "status": "canceled", "canceled_at": 1767225660}

CASES = [
    pytest.param(
        "create_subscription",
        {
            "customer": "cus_QXg1o8vcGmoR32",
            "items": [
                {"price": "price_1PgafmB7WZ01zgkW6dKueIc5", "quantity": 2},
                {"price": "price_addon", "metadata": {"kind": "addon"}},
            ],
            "collection_method": "send_invoice",
            "days_until_due": 30,
            "trial_period_days": 14,
            "metadata": {"crm_id": "42"},
            "expand": ["latest_invoice.payment_intent"],
        },
        "POST",
        "/v1/subscriptions",
        [
            ("customer", "cus_QXg1o8vcGmoR32"),
            ("items[0][price]", "price_1PgafmB7WZ01zgkW6dKueIc5"),
            ("items[0][quantity]", "2"),
            ("items[1][price]", "price_addon"),
            ("items[1][metadata][kind]", "addon"),
            ("collection_method", "send_invoice"),
            ("days_until_due", "30"),
            ("trial_period_days", "14"),
            ("metadata[crm_id]", "42"),
            ("expand[0]", "latest_invoice.payment_intent"),
        ],
        SUBSCRIPTION,
        id="create_subscription",
    ),
    pytest.param(
        "update_subscription",
        {
            "id": SUB,
            "items": [{"id": "si_QXhVnC2h0Jczwc", "price": "price_yearly"}, {"price": "price_new"}],
            "proration_behavior": "none",
            "cancel_at_period_end": False,
        },
        "POST",
        f"/v1/subscriptions/{SUB}",
        [
            ("items[0][id]", "si_QXhVnC2h0Jczwc"),
            ("items[0][price]", "price_yearly"),
            ("items[1][price]", "price_new"),
            ("proration_behavior", "none"),
            ("cancel_at_period_end", "false"),
        ],
        SUBSCRIPTION,
        id="update_subscription",
    ),
    pytest.param(
        "find_subscription",
        {"id": SUB, "expand": ["customer"]},
        "GET",
        f"/v1/subscriptions/{SUB}",
        [("expand[0]", "customer")],
        SUBSCRIPTION,
        id="find_subscription_by_sub_id",
    ),
    pytest.param(
        "find_subscription",
        {"id": ITEM["id"]},
        "GET",
        f"/v1/subscription_items/{ITEM['id']}",
        [],
        ITEM,
        id="find_subscription_by_si_id",
    ),
    pytest.param(
        "cancel_subscription",
        {
            "id": SUB,
            "invoice_now": True,
            "prorate": True,
            "cancellation_details": {"comment": "Too pricey", "feedback": "too_expensive"},
        },
        "DELETE",
        f"/v1/subscriptions/{SUB}",
        [
            ("invoice_now", "true"),
            ("prorate", "true"),
            ("cancellation_details[comment]", "Too pricey"),
            ("cancellation_details[feedback]", "too_expensive"),
        ],
        CANCELED,
        id="cancel_subscription_now",
    ),
    pytest.param(
        "cancel_subscription",
        {"id": SUB, "at_period_end": True, "cancellation_details": {"feedback": "unused"}},
        "POST",
        f"/v1/subscriptions/{SUB}",
        [("cancel_at_period_end", "true"), ("cancellation_details[feedback]", "unused")],
        {**SUBSCRIPTION, "cancel_at_period_end": True},
        id="cancel_subscription_at_period_end",
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
            "create_subscription",
            {"customer": "cus_1", "items": [{"quantity": 1}]},
            [{"field": "items[0].price", "message": "is required"}],
        ),
        (
            "create_subscription",
            {"customer": "cus_1", "items": []},
            [{"field": "items", "message": "[] should be non-empty"}],
        ),
        (
            "create_subscription",
            {"items": [{"price": "price_1", "quantity": "two"}]},
            [
                {"field": "customer", "message": "is required"},
                {"field": "items[0].quantity", "message": "must be of type integer, got str"},
            ],
        ),
        (
            "update_subscription",
            {"id": SUB, "items": [{"id": "sub_wrong", "deleted": True}]},
            [
                {
                    "field": "items[0].id",
                    "message": "has an invalid format (expected to match ^(si)_[A-Za-z0-9]+$)",
                }
            ],
        ),
        (
            "find_subscription",
            {"id": "in_1Pgc6tB7WZ01zgkWu9fdqL6I"},
            [
                {
                    "field": "id",
                    "message": "has an invalid format (expected to match ^(sub|si)_[A-Za-z0-9]+$)",
                }
            ],
        ),
        (
            "cancel_subscription",
            {"id": SUB, "at_period_end": True, "invoice_now": True},
            [
                {
                    "field": "invoice_now",
                    "message": "only applies when canceling now (at_period_end false)",
                }
            ],
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
