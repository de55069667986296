"""Inputs mean what they mean in Stripe: text from numbers, ids from expanded objects,
"" to clear, metadata limits and exclusive or companion fields, all before any call."""

from urllib.parse import parse_qsl

import pytest

from stripe_connector.catalog import get_action
from stripe_connector.errors import ActionInputError

from .conftest import API

EXPANDED_CUSTOMER = {"id": "cus_Exp1", "object": "customer", "email": "ada@example.com"}


def sent(stripe_mock, index: int = 0) -> list[tuple[str, str]]:
    """The form pairs of a request, in order, empty values kept."""
    return parse_qsl(stripe_mock.calls[index].request.body or "", keep_blank_values=True)


def refused(key: str, given: dict, stripe_client) -> list[dict[str, str]]:
    with pytest.raises(ActionInputError) as caught:
        get_action(key).run(stripe_client, given)
    return caught.value.errors


# -- "" clears a hash (and other fields Stripe lets you unset) --


@pytest.mark.parametrize(
    ("key", "given", "path", "body"),
    [
        ("update_customer", {"id": "cus_1", "metadata": ""}, "/v1/customers/cus_1", "metadata="),
        ("update_customer", {"id": "cus_1", "address": ""}, "/v1/customers/cus_1", "address="),
        ("update_customer", {"id": "cus_1", "shipping": ""}, "/v1/customers/cus_1", "shipping="),
        (
            "update_customer",
            {"id": "cus_1", "tax_exempt": ""},
            "/v1/customers/cus_1",
            "tax_exempt=",
        ),
        ("update_product", {"id": "prod_1", "images": ""}, "/v1/products/prod_1", "images="),
        ("update_price", {"id": "price_1", "metadata": ""}, "/v1/prices/price_1", "metadata="),
        ("update_coupon", {"id": "SUMMER", "metadata": ""}, "/v1/coupons/SUMMER", "metadata="),
        ("update_invoice", {"id": "in_1", "metadata": ""}, "/v1/invoices/in_1", "metadata="),
        (
            "update_payment_intent",
            {"id": "pi_1", "setup_future_usage": ""},
            "/v1/payment_intents/pi_1",
            "setup_future_usage=",
        ),
        (
            "update_subscription",
            {"id": "sub_1", "cancel_at": "", "discounts": ""},
            "/v1/subscriptions/sub_1",
            "cancel_at=&discounts=",
        ),
        (
            "update_subscription",
            {"id": "sub_1", "items": [{"id": "si_1", "metadata": ""}]},
            "/v1/subscriptions/sub_1",
            "items%5B0%5D%5Bid%5D=si_1&items%5B0%5D%5Bmetadata%5D=",
        ),
    ],
)
def test_an_empty_value_clears_a_field_stripe_lets_you_unset(
    key, given, path, body, stripe_mock, stripe_client
):
    stripe_mock.post(f"{API}{path}", json={"id": "x"})
    get_action(key).run(stripe_client, given)
    assert stripe_mock.calls[0].request.body == body


def test_an_empty_value_is_refused_where_stripe_cannot_unset_the_field(stripe_mock, stripe_client):
    errors = refused("update_customer", {"id": "cus_1", "invoice_settings": ""}, stripe_client)
    assert errors == [{"field": "invoice_settings", "message": "must be of type object, got str"}]
    assert len(stripe_mock.calls) == 0


# -- text fields take numbers and booleans as their text --


def test_metadata_values_that_are_numbers_or_booleans_are_sent_as_text(stripe_mock, stripe_client):
    stripe_mock.post(f"{API}/v1/customers", json={"id": "cus_1"})
    given = {"metadata": {"amount": 1099, "paid": True, "rate": 0.5, "big": 1e21}}
    get_action("create_customer").run(stripe_client, given)
    assert sent(stripe_mock) == [
        ("metadata[amount]", "1099"),
        ("metadata[paid]", "true"),
        ("metadata[rate]", "0.5"),
        ("metadata[big]", "1000000000000000000000"),
    ]


def test_other_text_fields_take_numbers_as_text_too(stripe_mock, stripe_client):
    stripe_mock.post(f"{API}/v1/subscriptions", json={"id": "sub_1"})
    given = {
        "customer": "cus_1",
        "items": [{"price": "price_1", "metadata": {"seats": 3}}],
        "description": 42,
        "expand": [7],
    }
    get_action("create_subscription").run(stripe_client, given)
    assert sent(stripe_mock) == [
        ("customer", "cus_1"),
        ("items[0][price]", "price_1"),
        ("items[0][metadata][seats]", "3"),
        ("description", "42"),
        ("expand[0]", "7"),
    ]


def test_integers_stay_integers_and_whole_text_or_floats_become_integers(
    stripe_mock, stripe_client
):
    stripe_mock.post(f"{API}/v1/payment_intents", json={"id": "pi_1"})
    given = {"amount": 1099.0, "currency": "usd", "confirm": "true"}
    get_action("create_payment_intent").run(stripe_client, given)
    assert sent(stripe_mock) == [("amount", "1099"), ("currency", "usd"), ("confirm", "true")]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"amount": 10.99, "currency": "usd"}, "must be a whole number, got 10.99"),
        ({"amount": "10.99", "currency": "usd"}, "must be a whole number, got '10.99'"),
        ({"amount": [1099], "currency": "usd"}, "must be of type integer, got list"),
    ],
)
def test_a_fractional_amount_is_a_clear_error_naming_the_field(
    given, message, stripe_mock, stripe_client
):
    errors = refused("create_payment_intent", given, stripe_client)
    assert errors == [{"field": "amount", "message": message}]
    assert len(stripe_mock.calls) == 0


# -- what Stripe cannot take is refused before any call --


@pytest.mark.parametrize(
    ("metadata", "field", "message"),
    [
        ({"order[1]": "x"}, "metadata", "key 'order[1]' must not contain [ or ]"),
        ({"a]": "x"}, "metadata", "key 'a]' must not contain [ or ]"),
        ({"k" * 41: "x"}, "metadata", f"key {'k' * 41!r} is longer than 40 characters"),
        ({"": "x"}, "metadata", "key '' must not be empty"),
        ({"a\x00": "b"}, "metadata", "key 'a\\x00' must not contain control characters"),
        ({"a\nb": "x"}, "metadata", "key 'a\\nb' must not contain control characters"),
        ({"a\x7f": "x"}, "metadata", "key 'a\\x7f' must not contain control characters"),
        ({"order": "a\x00b"}, "metadata.order", "must not contain U+0000 (a NUL character)"),
        ({"order": "x" * 501}, "metadata.order", f"{'x' * 501!r} is too long"),
        ({"order": {"id": "o_1"}}, "metadata.order", "must be of type string, got dict"),
        ({"order": ["o_1"]}, "metadata.order", "must be of type string, got list"),
    ],
)
def test_metadata_stripe_would_refuse_is_refused_naming_the_field(
    metadata, field, message, stripe_mock, stripe_client
):
    errors = refused("create_customer", {"metadata": metadata}, stripe_client)
    assert errors == [{"field": field, "message": message}]
    assert len(stripe_mock.calls) == 0


def test_more_than_50_metadata_keys_are_refused(stripe_mock, stripe_client):
    metadata = {f"k{n}": "v" for n in range(51)}
    errors = refused("update_customer", {"id": "cus_1", "metadata": metadata}, stripe_client)
    assert [error["field"] for error in errors] == ["metadata"]
    assert "too many properties" in errors[0]["message"]
    assert len(stripe_mock.calls) == 0


def test_nested_metadata_keys_with_brackets_are_refused_in_items_too(stripe_mock, stripe_client):
    given = {"customer": "cus_1", "items": [{"price": "price_1", "metadata": {"a[b]": "x"}}]}
    errors = refused("create_subscription", given, stripe_client)
    assert errors == [
        {"field": "items[0].metadata", "message": "key 'a[b]' must not contain [ or ]"}
    ]


def test_the_raw_api_request_refuses_keys_the_form_encoding_cannot_carry(
    stripe_mock, stripe_client
):
    given = {"method": "POST", "path": "/v1/customers", "params": {"metadata": {"order[1]": "x"}}}
    errors = refused("stripe_api_request", given, stripe_client)
    assert errors == [
        {
            "field": "params.metadata",
            "message": "key 'order[1]' must be non-empty and without [ or ]",
        }
    ]
    assert len(stripe_mock.calls) == 0


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        (
            {"metadata": {"a\x00": "b"}},
            "params.metadata",
            "key 'a\\x00' must not contain control characters",
        ),
        (
            {"metadata": {"a\tb": "x"}},
            "params.metadata",
            "key 'a\\tb' must not contain control characters",
        ),
        (
            {"description": "a\x00"},
            "params.description",
            "must not contain U+0000 (a NUL character)",
        ),
    ],
)
def test_the_raw_api_request_refuses_control_characters_in_keys_and_nul_in_text(
    params, field, message, stripe_mock, stripe_client
):
    given = {"method": "POST", "path": "/v1/customers", "params": params}
    errors = refused("stripe_api_request", given, stripe_client)
    assert errors == [{"field": field, "message": message}]
    assert len(stripe_mock.calls) == 0


# -- an expanded object where an id is expected --


def test_find_customer_takes_an_expanded_customer_as_its_id(stripe_mock, stripe_client):
    stripe_mock.get(f"{API}/v1/customers/cus_Exp1", json=EXPANDED_CUSTOMER)
    result = get_action("find_customer").run(stripe_client, {"id": EXPANDED_CUSTOMER})
    assert stripe_mock.calls[0].request.url == f"{API}/v1/customers/cus_Exp1"
    assert result.output["found"] is True


@pytest.mark.parametrize(
    ("key", "given", "path", "pairs"),
    [
        (
            "create_invoice_item",
            {"customer": EXPANDED_CUSTOMER, "amount": 500, "currency": "usd"},
            "/v1/invoiceitems",
            [("customer", "cus_Exp1"), ("amount", "500"), ("currency", "usd")],
        ),
        (
            "create_subscription",
            {
                "customer": EXPANDED_CUSTOMER,
                "items": [{"price": {"id": "price_1", "object": "price", "unit_amount": 500}}],
                "default_payment_method": {"id": "pm_1", "object": "payment_method"},
            },
            "/v1/subscriptions",
            [
                ("customer", "cus_Exp1"),
                ("items[0][price]", "price_1"),
                ("default_payment_method", "pm_1"),
            ],
        ),
        (
            "create_price",
            {
                "currency": "usd",
                "unit_amount": 500,
                "product": {"id": "prod_1", "object": "product"},
            },
            "/v1/prices",
            [("currency", "usd"), ("unit_amount", "500"), ("product", "prod_1")],
        ),
        (
            "update_subscription",
            {"id": {"id": "sub_1", "object": "subscription"}, "metadata": {"a": "b"}},
            "/v1/subscriptions/sub_1",
            [("metadata[a]", "b")],
        ),
        (
            "pay_invoice",
            {"id": {"id": "in_1", "object": "invoice"}, "payment_method": {"id": "pm_1"}},
            "/v1/invoices/in_1/pay",
            [("payment_method", "pm_1")],
        ),
    ],
)
def test_every_id_field_takes_an_expanded_object(
    key, given, path, pairs, stripe_mock, stripe_client
):
    stripe_mock.post(f"{API}{path}", json={"id": "x"})
    get_action(key).run(stripe_client, given)
    assert sent(stripe_mock) == pairs


def test_an_object_without_an_id_is_still_refused_for_an_id_field(stripe_mock, stripe_client):
    errors = refused("find_customer", {"id": {"object": "customer"}}, stripe_client)
    assert errors == [{"field": "id", "message": "must be of type string, got dict"}]
    assert len(stripe_mock.calls) == 0


# -- rules Stripe enforces, declared in the schemas --


def test_a_metered_price_needs_a_meter(stripe_mock, stripe_client):
    given = {
        "currency": "usd",
        "product": "prod_1",
        "unit_amount": 5,
        "recurring": {"interval": "month", "usage_type": "metered"},
    }
    errors = refused("create_price", given, stripe_client)
    assert errors == [
        {"field": "recurring.meter", "message": "is required when usage_type is metered"}
    ]
    assert len(stripe_mock.calls) == 0


def test_a_metered_price_with_its_meter_is_sent(stripe_mock, stripe_client):
    stripe_mock.post(f"{API}/v1/prices", json={"id": "price_1"})
    given = {
        "currency": "usd",
        "product": "prod_1",
        "unit_amount": 5,
        "recurring": {"interval": "month", "usage_type": "metered", "meter": "mtr_1"},
    }
    get_action("create_price").run(stripe_client, given)
    assert sent(stripe_mock) == [
        ("currency", "usd"),
        ("product", "prod_1"),
        ("unit_amount", "5"),
        ("recurring[interval]", "month"),
        ("recurring[usage_type]", "metered"),
        ("recurring[meter]", "mtr_1"),
    ]


@pytest.mark.parametrize(
    ("key", "given", "field", "message"),
    [
        (
            "create_subscription",
            {
                "customer": "cus_1",
                "items": [{"price": "price_1"}],
                "trial_end": 1769904000,
                "trial_period_days": 14,
            },
            "trial_period_days",
            "give only one of: trial_end, trial_period_days",
        ),
        (
            "update_subscription",
            {"id": "sub_1", "cancel_at": 1769904000, "cancel_at_period_end": True},
            "cancel_at_period_end",
            "give only one of: cancel_at, cancel_at_period_end",
        ),
        (
            "create_payment_intent",
            {
                "amount": 100,
                "currency": "usd",
                "payment_method_types": ["card"],
                "automatic_payment_methods": {"enabled": True},
            },
            "payment_method_types",
            "give only one of: automatic_payment_methods, payment_method_types",
        ),
        (
            "create_invoice",
            {"customer": "cus_1", "days_until_due": 3, "due_date": 1769904000},
            "due_date",
            "give only one of: days_until_due, due_date",
        ),
        (
            "create_coupon",
            {"amount_off": 500},
            "currency",
            "is required with amount_off",
        ),
        (
            "create_coupon",
            {"percent_off": 10, "duration": "repeating"},
            "duration_in_months",
            "is required when duration is repeating",
        ),
    ],
)
def test_exclusive_fields_and_missing_companions_are_refused_naming_both(
    key, given, field, message, stripe_mock, stripe_client
):
    errors = refused(key, given, stripe_client)
    assert errors == [{"field": field, "message": message}]
    assert len(stripe_mock.calls) == 0


def test_the_schemas_declare_ids_clearable_fields_and_exclusive_groups():
    """The markers are in the catalog (and so in stripe_catalog --json), not in code."""
    update = get_action("update_subscription").input_schema
    assert update["properties"]["id"]["x-stripe-id"] is True
    assert update["properties"]["metadata"]["x-stripe-clearable"] is True
    assert update["x-stripe-exclusive"] == [["cancel_at", "cancel_at_period_end"]]
    recurring = get_action("create_price").input_schema["properties"]["recurring"]
    assert recurring["x-stripe-required-when"] == {"meter": {"usage_type": "metered"}}
    create = get_action("create_customer").input_schema["properties"]
    assert "x-stripe-clearable" not in create["metadata"]
